"""Weight zoos built in-process: SIREN INRs of images and small CNNs, stored as resumable shards."""

from models.zoo._inr_zoo import InrZooConfig, build_inr_zoo, fit_sirens, pixel_grid, reconstruct
from models.zoo._sources import ImageSource, SourceError, load_source
from models.zoo._storage import SPLITS, Zoo, ZooFormatError, load_zoo

__all__ = [
    "SPLITS",
    "ImageSource",
    "InrZooConfig",
    "SourceError",
    "Zoo",
    "ZooFormatError",
    "build_inr_zoo",
    "fit_sirens",
    "load_source",
    "load_zoo",
    "pixel_grid",
    "reconstruct",
]
