"""The two PSNR conventions against hand computations, and the 6.02 dB offset between them."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from models.inr import PM1_TO_01_DB, pm1_to_01, psnr_01, psnr_pm1


def test_psnr_pm1_by_hand():
    gt = jnp.array([[0.5, -1.0, 0.8], [0.0, 0.2, -0.4]])
    pred = gt + jnp.array([[0.1, 0.0, -0.1], [0.0, 0.05, 0.0]])
    mse = (0.01 + 0.01 + 0.0025) / 6
    assert float(psnr_pm1(pred, gt)) == pytest.approx(10 * math.log10(0.8**2 / mse), rel=1e-12)


def test_psnr_01_by_hand():
    gt = jnp.array([0.5, 1.0, 0.25, 0.0])
    pred = jnp.array([0.6, 1.0, 0.25, 0.1])
    mse = 0.02 / 4
    assert float(psnr_01(pred, gt)) == pytest.approx(10 * math.log10(1 / mse), rel=1e-12)
    # peak is 1, not max(gt): a target whose max is 0.5 scores the same as psnr_01 says
    assert float(psnr_01(pred / 2, gt / 2)) == pytest.approx(10 * math.log10(1 / (mse / 4)), rel=1e-12)


def test_offset_between_conventions():
    gt = jnp.array([-1.0, -0.3, 0.4, 1.0])  # max(gt) = 1: the Neural Experts case
    pred = gt + jnp.array([0.01, -0.02, 0.03, 0.0])
    diff = float(psnr_01(pm1_to_01(pred), pm1_to_01(gt)) - psnr_pm1(pred, gt))
    assert diff == pytest.approx(20 * math.log10(2), rel=1e-12)
    assert PM1_TO_01_DB == pytest.approx(6.0206, abs=1e-4)
    # negative: when max(gt) < 1 the offset is not the constant, so the two are not interchangeable
    gt2, pred2 = gt * 0.5, pred * 0.5
    diff2 = float(psnr_01(pm1_to_01(pred2), pm1_to_01(gt2)) - psnr_pm1(pred2, gt2))
    assert abs(diff2 - PM1_TO_01_DB) > 1.0


def test_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        psnr_01(jnp.zeros((3, 2)), jnp.zeros((2, 3)))
    np.testing.assert_array_equal(np.asarray(pm1_to_01(jnp.array([-1.0, 1.0]))), [0.0, 1.0])
