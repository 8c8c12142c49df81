"""Implicit neural representations: SIREN and friends, Neural Experts, STRAINER.

PSNR comes in two conventions (see ``models.inr.psnr_pm1`` / ``psnr_01``): Neural Experts
reports [-1,1] data with peak max(gt); STRAINER reports [0,1] data with peak 1. The same
fit reads about 6.02 dB higher in the second.
"""

from models.inr._data import (
    SKIMAGE_PHOTOS,
    as_targets,
    digits,
    grid,
    lfw_faces,
    load_audio,
    load_kodak,
    mnist,
    skimage_photos,
    to_pm1,
)
from models.inr._experts import (
    NEURAL_EXPERTS,
    NEURAL_EXPERTS_SMALL,
    VANILLA_MOE,
    ExpertsConfig,
    NeuralExperts,
    expert_labels,
    expert_map,
    experts_loss,
    experts_predict,
    manager_pretrain_loss,
    param_count,
    pretrain_manager,
    random_expert_map,
    siren_baseline,
    train_experts,
)
from models.inr._fit import FitResult, Trajectory, fit, mse_loss, predict
from models.inr._layers import (
    INR,
    Finer,
    FourierFeatures,
    Linear,
    Relu,
    Sine,
    Softplus,
    finer,
    relu_ff,
    siren,
    siren_from_params,
    softplus,
)
from models.inr._psnr import PM1_TO_01_DB, pm1_to_01, psnr_01, psnr_pm1
from models.inr._siren import siren_apply, siren_init
from models.inr._strainer import METHODS, MILESTONES, Strainer, TransferResult, strainer_protocol, train_strainer, transfer

__all__ = [
    "INR", "METHODS", "MILESTONES", "NEURAL_EXPERTS", "NEURAL_EXPERTS_SMALL", "PM1_TO_01_DB", "SKIMAGE_PHOTOS",
    "VANILLA_MOE", "ExpertsConfig", "Finer", "FitResult", "FourierFeatures", "Linear", "NeuralExperts", "Relu",
    "Sine", "Softplus", "Strainer", "Trajectory", "TransferResult", "as_targets", "digits", "expert_labels",
    "expert_map", "experts_loss", "experts_predict", "finer", "fit", "grid", "lfw_faces", "load_audio",
    "load_kodak", "manager_pretrain_loss", "mnist", "mse_loss", "param_count", "pm1_to_01", "predict",
    "pretrain_manager", "psnr_01", "psnr_pm1", "random_expert_map", "relu_ff", "siren", "siren_apply",
    "siren_baseline", "siren_from_params", "siren_init", "skimage_photos", "softplus", "strainer_protocol",
    "to_pm1", "train_experts", "train_strainer", "transfer",
]
