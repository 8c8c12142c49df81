"""Data parallel: on 4 (host) devices the loop gives the single-device loss curve to float tolerance."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from models.train import FitConfig, build_model, fit, load_task
from tests._train_zoos import tiny_inr_zoo
from tests._resume import environment

SCRIPT = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
from models.train import FitConfig, build_model, data_mesh, fit, load_task
assert len(jax.devices()) == 4 and data_mesh().size == 4
data = load_task("classify", sys.argv[1], dtype=np.float64)
model = build_model("mlp", data, width=8, n_layers=1, key=jax.random.key(0), dtype=jnp.float64)
result = fit(data, model, FitConfig(epochs=2, batch_size=4, lr=1e-2), progress=False)
print(json.dumps([h["step_losses"] for h in result.history] + [result.test]))
"""


def test_four_devices_reproduce_the_single_device_loss_curve(tmp_path):
    zoo = tiny_inr_zoo(tmp_path / "inr")
    env = environment(tmp_path / "jax-cache")
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(zoo)], env=env, capture_output=True, timeout=300,
                         cwd=os.getcwd())
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    *sharded, sharded_test = json.loads(run.stdout.decode().splitlines()[-1])
    assert len(jax.devices()) == 1
    data = load_task("classify", zoo, dtype=np.float64)
    model = build_model("mlp", data, width=8, n_layers=1, key=jax.random.key(0), dtype=jnp.float64)
    result = fit(data, model, FitConfig(epochs=2, batch_size=4, lr=1e-2), progress=False)
    single = [h["step_losses"] for h in result.history]
    np.testing.assert_allclose(np.array(sharded), np.array(single), rtol=1e-10, atol=0)
    assert sharded_test == result.test
    assert single[0][0] != single[-1][-1]
