"""Weight zoos built in-process: SIREN INRs of images, small CNNs and MLPs, stored as resumable shards."""

from models.zoo._cnn_zoo import CnnZooConfig, build_cnn_zoo, cnn_apply, train_cnns
from models.zoo._mlp_zoo import MlpZooConfig, build_mlp_zoo, mlp_apply, train_mlps
from models.zoo._inr_zoo import InrZooConfig, build_inr_zoo, fit_sirens, pixel_grid, reconstruct
from models.zoo._sources import ImageSource, SourceError, load_source
from models.zoo._plots import plot_accuracy_histogram, plot_psnr_histogram, plot_reconstructions, plot_zoo
from models.zoo._storage import SPLITS, Zoo, ZooFormatError, load_zoo
from models.zoo._trained_zoo import shared_initialisation

__all__ = [
    "SPLITS",
    "CnnZooConfig",
    "ImageSource",
    "InrZooConfig",
    "MlpZooConfig",
    "SourceError",
    "Zoo",
    "ZooFormatError",
    "build_cnn_zoo",
    "build_inr_zoo",
    "build_mlp_zoo",
    "cnn_apply",
    "fit_sirens",
    "load_source",
    "load_zoo",
    "mlp_apply",
    "pixel_grid",
    "plot_accuracy_histogram",
    "plot_psnr_histogram",
    "plot_reconstructions",
    "plot_zoo",
    "reconstruct",
    "shared_initialisation",
    "train_cnns",
    "train_mlps",
]
