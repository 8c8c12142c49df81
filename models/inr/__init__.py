"""Implicit neural representations: SIREN and friends, Neural Experts, STRAINER.

PSNR comes in two conventions (see ``models.inr.psnr_pm1`` / ``psnr_01``): Neural Experts
reports [-1,1] data with peak max(gt); STRAINER reports [0,1] data with peak 1. The same
fit reads about 6.02 dB higher in the second.
"""

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

__all__ = [
    "INR", "Finer", "FitResult", "FourierFeatures", "Linear", "PM1_TO_01_DB", "Relu", "Sine", "Softplus",
    "Trajectory", "finer", "fit", "mse_loss", "pm1_to_01", "predict", "psnr_01", "psnr_pm1", "relu_ff",
    "siren", "siren_apply", "siren_from_params", "siren_init", "softplus",
]
