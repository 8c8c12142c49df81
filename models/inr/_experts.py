"""Neural Experts (Ben-Shabat et al., NeurIPS 2024): a mixture of SIREN experts for one signal.

An expert encoder turns coordinates into features; N experts (stacked weights, evaluated
together by one ``vmap``) map them to the signal; a manager — its own encoder plus a head
on ``concat(manager features, expert-encoder features)`` — picks one expert per point.
The output is the argmax expert; training uses the softmax-weighted error of *all* experts,
so every expert gets gradient while the routing sharpens. The manager is first pretrained
to reproduce a random per-pixel expert map, which seeds a fine, spatially mixed partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from models.inr._fit import Trajectory, fit
from models.inr._layers import INR, Linear, Sine
from models.inr._psnr import psnr_pm1


@dataclass(frozen=True)
class ExpertsConfig:
    """Widths of the four blocks. Each encoder is ``in → w`` then ``len-1`` × ``w → w``, all sine;
    an expert / the manager head is ``len`` sine layers then a linear output."""

    encoder: tuple[int, ...] = (128, 128, 128, 128)
    expert: tuple[int, ...] = (128, 128, 128)
    manager_encoder: tuple[int, ...] = (128, 128, 128, 128)
    manager: tuple[int, ...] = (128, 128, 128)
    n_experts: int = 4
    conditioned: bool = True  # manager head sees concat(manager, expert-encoder) features

    def __post_init__(self):
        if self.n_experts < 1:
            raise ValueError(f"n_experts must be >= 1, got {self.n_experts}")
        for name in ("encoder", "expert", "manager_encoder", "manager"):
            widths = getattr(self, name)
            if len(widths) < 1 or min(widths) < 1:
                raise ValueError(f"{name} widths must be a non-empty tuple of positive ints, got {widths}")


#: The paper's model (365,968 parameters for RGB).
NEURAL_EXPERTS = ExpertsConfig()
#: Vanilla MoE: the manager head sees only its own encoder (349,584 parameters).
VANILLA_MOE = ExpertsConfig(conditioned=False)
#: Ours-small at about SIREN-base size. The paper gives only its size (98.7k), not its
#: widths; encoder 72 and 64 elsewhere lands at 98,752 with the paper's allocation
#: (expert encoder / experts / manager ≈ 16 / 53 / 30 %, the paper's 366k is 14 / 55 / 31 %).
NEURAL_EXPERTS_SMALL = ExpertsConfig(encoder=(72,) * 4, expert=(64,) * 3, manager_encoder=(64,) * 4, manager=(64,) * 3)


def _sine_stack(n_in, widths, *, key, first, omega0, bias_init, n_out=None):
    """Sine layers ``n_in → widths[0] → ...``, plus a linear ``→ n_out`` when given."""
    sizes = (n_in, *widths)
    keys = jax.random.split(key, len(widths) + 1)
    layers = [
        Sine(a, b, key=k, first=first and i == 0, omega0=omega0, bias_init=bias_init)
        for i, (a, b, k) in enumerate(zip(sizes[:-1], sizes[1:], keys))
    ]
    if n_out is not None:
        layers.append(Linear(sizes[-1], n_out, key=keys[-1], omega0=omega0, bias_init=bias_init))
    return INR(tuple(layers))


class NeuralExperts(eqx.Module):
    """A Neural Experts INR. ``__call__`` takes ONE coordinate and runs only the chosen expert."""

    encoder: INR
    experts: INR  # every array has a leading expert axis
    manager_encoder: INR
    manager: INR
    conditioned: bool = eqx.field(static=True)

    def __init__(self, in_dim: int = 2, out_dim: int = 3, config: ExpertsConfig = NEURAL_EXPERTS, *,
                 key: PRNGKeyArray, omega0: float = 30.0, bias_init: str = "zero"):
        k_enc, k_exp, k_menc, k_man = jax.random.split(key, 4)
        kw = dict(omega0=omega0, bias_init=bias_init)
        self.encoder = _sine_stack(in_dim, config.encoder, key=k_enc, first=True, **kw)
        feat = config.encoder[-1]
        experts = [_sine_stack(feat, config.expert, key=k, first=False, n_out=out_dim, **kw)
                   for k in jax.random.split(k_exp, config.n_experts)]
        self.experts = jax.tree.map(lambda *a: jnp.stack(a), *experts)  # stacked: leading expert axis
        self.manager_encoder = _sine_stack(in_dim, config.manager_encoder, key=k_menc, first=True, **kw)
        gate_in = config.manager_encoder[-1] + (feat if config.conditioned else 0)
        self.manager = _sine_stack(gate_in, config.manager, key=k_man, first=False, n_out=config.n_experts, **kw)
        self.conditioned = config.conditioned

    @property
    def n_experts(self) -> int:
        return self.experts.layers[0].weight.shape[0]

    def gate(self, x: Float[Array, " d"]) -> tuple[Float[Array, " f"], Float[Array, " k"]]:
        """Expert-encoder features and the manager's expert logits at one point."""
        features = self.encoder(x)
        m = self.manager_encoder(x)
        logits = self.manager(jnp.concatenate([m, features]) if self.conditioned else m)
        return features, logits

    def all_experts(self, x: Float[Array, " d"]) -> tuple[Float[Array, "k c"], Float[Array, " k"]]:
        """Every expert's output (one batched pass over stacked weights) and the logits."""
        features, logits = self.gate(x)
        outputs = eqx.filter_vmap(lambda expert: expert(features))(self.experts)
        return outputs, logits

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " c"]:
        """Hard routing: evaluate only the argmax expert (its weights are gathered, not masked)."""
        features, logits = self.gate(x)
        j = jnp.argmax(logits)
        chosen = jax.tree.map(lambda a: a[j] if eqx.is_array(a) else a, self.experts)
        return chosen(features)


def experts_predict(model: NeuralExperts, coords: Float[Array, "n d"]) -> Float[Array, "n c"]:
    """The argmax expert's output at every point, from the batched all-expert pass.

    Same values as ``jax.vmap(model)`` but without gathering a weight copy per point, so it
    is the fast path for evaluating during training; ``jax.vmap(model)`` is the routed one.
    """
    outputs, logits = jax.vmap(model.all_experts)(coords)
    j = jnp.argmax(logits, axis=-1)
    return jnp.take_along_axis(outputs, j[:, None, None], axis=1)[:, 0]


def experts_loss(model: NeuralExperts, coords: Float[Array, "n d"], target: Float[Array, "n c"]) -> Float[Array, ""]:
    """Eq. 4: ``1000 · mean over points, channels and experts of q_i · (expert_i − y)²``, q = softmax."""
    outputs, logits = jax.vmap(model.all_experts)(coords)
    q = jax.nn.softmax(logits, axis=-1)
    return 1000.0 * jnp.mean(q[:, :, None] * (outputs - target[:, None, :]) ** 2)


def expert_map(model: NeuralExperts, coords: Float[Array, "n d"]) -> Int[Array, " n"]:
    """The manager's choice of expert at every point (reshape to the image for a plot)."""
    return jnp.argmax(jax.vmap(lambda x: model.gate(x)[1])(coords), axis=-1)


# ----------------------------------------------------------------------------- pretraining

def random_expert_map(key: PRNGKeyArray, n_points: int, n_experts: int) -> Int[Array, " n"]:
    """The paper's ``random_balanced`` map: an i.i.d. uniformly random expert per point."""
    return jax.random.randint(key, (n_points,), 0, n_experts)


def _manager_logits(model, coords):
    return jax.vmap(lambda x: model.gate(x)[1])(coords)


def manager_pretrain_loss(model, coords, soft_labels):
    """``1000 · [CE(logits, labels; smoothing 0.01) + 0.1 · BCE-with-logits(logits, 1/K)]``."""
    logits = _manager_logits(model, coords)
    k = logits.shape[-1]
    ce = jnp.mean(optax.softmax_cross_entropy(logits, soft_labels))
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, 1.0 / k)))
    return 1000.0 * (ce + 0.1 * bce)


def _agreement(logits, soft_labels):
    return jnp.mean((jnp.argmax(logits, -1) == jnp.argmax(soft_labels, -1)).astype(logits.dtype))


def pretrain_manager(model: NeuralExperts, coords: Float[Array, "n d"], *, key: PRNGKeyArray, steps: int = 3000,
                     learning_rate: float = 1e-4, smoothing: float = 0.01, record_every: int = 100,
                     checkpoint=None, progress: bool = True) -> tuple[NeuralExperts, Trajectory]:
    """Train the manager (and, through the concatenation, the expert encoder) to output a
    random per-point expert map. It never sees the signal, so run it once per grid and reuse.

    The paper ships only the checkpoints (named ``_3000``); its optimiser for this stage is
    not published, so Adam at ``learning_rate`` is our choice. The trajectory's metric is
    the fraction of points whose argmax matches the map.
    """
    labels = random_expert_map(key, coords.shape[0], model.n_experts)
    onehot = jax.nn.one_hot(labels, model.n_experts, dtype=coords.dtype)
    soft = (1.0 - smoothing) * onehot + smoothing / model.n_experts  # PyTorch's label_smoothing
    out = fit(model, coords, soft, optimizer=optax.adam(learning_rate), steps=steps, record_every=record_every,
              loss=manager_pretrain_loss, predict_fn=_manager_logits, metric=_agreement,
              checkpoint=checkpoint, progress=progress, desc="Neural Experts: manager pre-training")
    return out.model, out.trajectory


# ----------------------------------------------------------------------------- staged training

def expert_labels(params) -> object:
    """optax labels: ``"train"`` for the experts, ``"frozen"`` for encoder, manager encoder and manager."""
    frozen = jax.tree.map(lambda _: "frozen", params)
    return eqx.tree_at(lambda m: m.experts, frozen, jax.tree.map(lambda _: "train", params.experts))


@lru_cache(maxsize=None)
def _paper_adam(learning_rate: float, decay: float, offset: int = 0) -> optax.GradientTransformation:
    """Adam at ``learning_rate · decay^(step + offset)``, one object per setting: the fit's compiled
    program is keyed on the optimiser, so a fresh one per image would recompile every time."""
    schedule = optax.exponential_decay(learning_rate, transition_steps=1, decay_rate=decay)
    return optax.adam(schedule if offset == 0 else (lambda count: schedule(count + offset)))


@lru_cache(maxsize=None)
def _experts_only_adam(learning_rate: float, decay: float, offset: int) -> optax.GradientTransformation:
    """Stage two: the continued schedule on the experts, every other part held fixed."""
    return optax.multi_transform({"train": _paper_adam(learning_rate, decay, offset), "frozen": optax.set_to_zero()},
                                 expert_labels)


def train_experts(model: NeuralExperts, coords: Float[Array, "n d"], target: Float[Array, "n c"], *,
                  steps: int = 30_000, learning_rate: float = 1e-5, decay: float = 0.9999,
                  experts_only: float = 0.2, record_every: int = 500, metric=psnr_pm1,
                  checkpoint_dir=None, progress: bool = True,
                  desc: str = "Neural Experts") -> tuple[NeuralExperts, Trajectory]:
    """The paper's schedule: Adam, lr ``learning_rate · decay^step``, full batch.

    For the first ``1 - experts_only`` of the steps everything trains on the q-weighted
    loss; for the rest only the experts train, with a fresh Adam state, the encoder,
    manager encoder and manager held exactly fixed (``optax.multi_transform`` with
    ``set_to_zero``). The learning-rate decay continues across the switch.
    """
    stage1 = int(round(steps * (1.0 - experts_only)))
    if stage1 % record_every or (steps - stage1) % record_every:
        raise ValueError(f"both stages ({stage1} and {steps - stage1} steps) must be multiples of "
                         f"record_every={record_every}; choose steps or record_every to match")
    ckpt = (lambda name: None) if checkpoint_dir is None else (lambda name: Path(checkpoint_dir) / name)
    first = fit(model, coords, target, optimizer=_paper_adam(learning_rate, decay), steps=stage1,
                record_every=record_every, loss=experts_loss, predict_fn=experts_predict, metric=metric,
                checkpoint=ckpt("stage1.eqx"), progress=progress, desc=f"{desc}: all parts")
    if stage1 == steps:
        return first.model, first.trajectory
    second = fit(first.model, coords, target, optimizer=_experts_only_adam(learning_rate, decay, stage1),
                 steps=steps - stage1, record_every=record_every, loss=experts_loss, predict_fn=experts_predict,
                 metric=metric, checkpoint=ckpt("stage2.eqx"), progress=progress, desc=f"{desc}: experts only")
    t1, t2 = first.trajectory, second.trajectory
    traj = Trajectory(np.concatenate([t1.steps, t2.steps[1:] + stage1]),
                      np.concatenate([t1.metric, t2.metric[1:]]), np.concatenate([t1.loss, t2.loss[1:]]))
    return second.model, traj


def param_count(model) -> int:
    """Number of trainable scalars; works on real models and on ``eqx.filter_eval_shape`` ones."""
    leaves = jax.tree.leaves(model)
    return sum(int(np.prod(a.shape)) for a in leaves
               if hasattr(a, "shape") and hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact))


# ----------------------------------------------------------------------------- SIREN baselines

def siren_baseline(in_dim: int = 2, out_dim: int = 3, *, decoder_width: int = 128, key: PRNGKeyArray,
                   omega0: float = 30.0) -> INR:
    """The paper's SIREN baselines: its 4-layer sine encoder (width 128) and a decoder of
    3 sine layers of ``decoder_width`` plus a linear output, zero biases. ``decoder_width``
    128 is "SIREN base" (99,843 parameters for RGB), 512 is "SIREN wider" (642,819)."""
    k1, k2 = jax.random.split(key)
    enc = _sine_stack(in_dim, (128,) * 4, key=k1, first=True, omega0=omega0, bias_init="zero")
    dec = _sine_stack(128, (decoder_width,) * 3, key=k2, first=False, omega0=omega0, bias_init="zero", n_out=out_dim)
    return INR(enc.layers + dec.layers)


# ----------------------------------------------------------------------------- the paper's protocol

#: The six models of the paper's Kodak table, with its parameter counts and mean PSNR
#: (30k steps, [-1,1] convention, 24 images).
PAPER = {
    "siren_base": (99_843, 57.23),
    "siren_wider": (642_819, 77.50),
    "vanilla_moe": (349_584, 62.98),
    "vanilla_moe_pretrained": (349_584, 74.28),
    "neural_experts": (365_968, 89.35),
    "neural_experts_small": (98_700, 63.42),
}
MODELS = tuple(PAPER)
_CONFIGS = {"vanilla_moe": VANILLA_MOE, "vanilla_moe_pretrained": VANILLA_MOE,
            "neural_experts": NEURAL_EXPERTS, "neural_experts_small": NEURAL_EXPERTS_SMALL}


def build(name: str, in_dim: int = 2, out_dim: int = 3, *, key: PRNGKeyArray):
    """One of ``MODELS`` freshly initialised (zero biases, ω0 = 30 everywhere)."""
    if name == "siren_base":
        return siren_baseline(in_dim, out_dim, key=key)
    if name == "siren_wider":
        return siren_baseline(in_dim, out_dim, decoder_width=512, key=key)
    if name not in _CONFIGS:
        raise ValueError(f"unknown model {name!r}; choose one of {MODELS}")
    return NeuralExperts(in_dim, out_dim, _CONFIGS[name], key=key)


def needs_pretraining(name: str) -> bool:
    """Whether the paper's recipe pretrains this model's manager on a random expert map."""
    return name in ("vanilla_moe_pretrained", "neural_experts", "neural_experts_small")


def scaled_mse(model, coords, target):
    """``1000 · MSE``: the paper's reconstruction loss for the single-network baselines."""
    return 1000.0 * jnp.mean((jax.vmap(model)(coords) - target) ** 2)


def train_model(name: str, model, coords, target, *, steps: int = 30_000, learning_rate: float = 1e-5,
                decay: float = 0.9999, record_every: int = 500, metric=psnr_pm1, checkpoint_dir=None,
                progress: bool = True):
    """Train one of ``MODELS`` with the paper's schedule (Adam, lr·decay^step, full batch);
    mixtures use ``train_experts`` (soft loss, last 20 % experts only). Returns (model, trajectory)."""
    if isinstance(model, NeuralExperts):
        return train_experts(model, coords, target, steps=steps, learning_rate=learning_rate, decay=decay,
                             record_every=record_every, metric=metric, checkpoint_dir=checkpoint_dir,
                             progress=progress, desc=name)
    ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"{name}.eqx"
    out = fit(model, coords, target, optimizer=_paper_adam(learning_rate, decay), steps=steps,
              record_every=record_every, loss=scaled_mse, metric=metric, checkpoint=ckpt, progress=progress, desc=name)
    return out.model, out.trajectory
