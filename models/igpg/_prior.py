"""The prior: a decoder-only transformer over weight tokens, behind a dataset and an architecture prefix.

Sequence for a window of tokens ``t_s .. t_{s+T-1}`` of a network::

    [ dataset, architecture + pos(s), t_s + pos(s+1), ..., t_{s+T-1} + pos(s+T) ]

where ``dataset`` is one pooled task embedding, or with ``dataset_per_class`` one token per
class (present or not). Per-class tokens let a weight that belongs to class ``k`` (a row of
the output layer) attend to class ``k``'s token, so a held-out combination of classes is
read class by class rather than from one pooled vector. With ``weight_coordinates`` (a
per-weight tokeniser: token ``p`` is weight ``p``), every ``pos(p)`` also carries where weight
``p`` sits (layer counted from the output, weight or bias, row, column, kernel offset), so
what the prior learns about "the output layer's row ``k``" is shared by all architectures.
With ``read_init`` (a fixed-seed zoo, per-weight tokens), every ``pos(p)`` also carries the
token of weight ``p``'s *initialisation*: a fixed-seed network is its initialisation moved by
training, and the initialisation is an arbitrary value per weight that a prior otherwise has
to memorise position by position (``models.zoo.shared_initialisation`` gives it for any
architecture, seen or not).

Output ``i`` is the distribution of token ``s+i`` given the prefix and the window's earlier
tokens; every input carries the absolute position of the token it predicts, so a
window that starts mid-network (a later stage of generation) knows where it is. Attention
is causal (a lower-triangular mask, so later tokens cannot change earlier logits).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from models.igpg._architecture import ArchitectureEncoder
from models.igpg._dataset import DatasetEncoder
from models.igpg._layout import MAX_SEGMENTS, weight_coordinates

#: Rows of each weight-coordinate table: larger rows, columns or kernel offsets share the last row.
COORDINATE_TABLE = 256


class Conditioning(eqx.Module):
    """What the prefix reads: class prototypes of the task and word features of the architecture."""

    prototypes: Float[Array, "c f"]
    class_mask: Array
    arch_features: Float[Array, "w f"]
    arch_mask: Array
    segments: Int[Array, "s 7"]  # ChunkLayout.segments(): where each weight sits, for weight coordinates
    init_tokens: Int[Array, " n"]  # the tokens of the network's initialisation (-1: none), for read_init


@dataclasses.dataclass(frozen=True)
class PriorConfig:
    """Transformer sizes (the default has about 5M parameters) and which prefixes it reads."""

    d_model: int = 256
    heads: int = 8
    layers: int = 6
    context: int = 256
    max_positions: int = 16384
    use_dataset: bool = True
    use_architecture: bool = True
    dataset_at_every_position: bool = False
    dataset_per_class: bool = False
    weight_coordinates: bool = False
    read_init: bool = False
    dataset_at_output_rows: bool = False
    steps: int = 3000
    batch_size: int = 32
    lr: float = 3e-4
    schedule: str = "constant"  # or "cosine": warm-up, cosine decay, clipped gradients (models.igpg._fit)

    def __post_init__(self):
        from models.igpg._fit import SCHEDULES

        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} must be a multiple of heads {self.heads}")
        if self.context < 2 or self.context > self.max_positions:
            raise ValueError(f"context must lie in [2, max_positions], got {self.context}")


class _Block(eqx.Module):
    norm1: eqx.nn.LayerNorm
    attention: eqx.nn.MultiheadAttention
    norm2: eqx.nn.LayerNorm
    up: eqx.nn.Linear
    down: eqx.nn.Linear

    def __init__(self, d: int, heads: int, *, dtype, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm1 = eqx.nn.LayerNorm(d, dtype=dtype)
        self.attention = eqx.nn.MultiheadAttention(heads, d, key=k1, dtype=dtype)
        self.norm2 = eqx.nn.LayerNorm(d, dtype=dtype)
        self.up = eqx.nn.Linear(d, 4 * d, key=k2, dtype=dtype)
        self.down = eqx.nn.Linear(4 * d, d, key=k3, dtype=dtype)

    def __call__(self, x, mask):
        h = jax.vmap(self.norm1)(x)
        x = x + self.attention(h, h, h, mask=mask)
        h = jax.vmap(self.norm2)(x)
        return x + jax.vmap(lambda v: self.down(jax.nn.gelu(self.up(v))))(h)


class Prior(eqx.Module):
    """Next-token logits over the codebook for one window of one network (vmap for batches)."""

    token_embedding: eqx.nn.Embedding
    position: Float[Array, "p d"]
    dataset_prefix: Float[Array, " d"]
    dataset_encoder: DatasetEncoder
    architecture_encoder: ArchitectureEncoder
    blocks: tuple[_Block, ...]
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear
    context: int = eqx.field(static=True)
    use_dataset: bool = eqx.field(static=True)
    use_architecture: bool = eqx.field(static=True)
    dataset_at_every_position: bool = eqx.field(static=True)
    dataset_per_class: bool = eqx.field(static=True)
    dataset_at_output_rows: bool = eqx.field(static=True)
    coordinate_embeddings: tuple[Float[Array, "_ d"], ...] | None
    init_embedding: eqx.nn.Embedding | None

    def __init__(self, codebook_size: int, config: PriorConfig, *, dtype=None, key: PRNGKeyArray):
        keys = jax.random.split(key, 7 + config.layers)
        d = config.d_model
        self.token_embedding = eqx.nn.Embedding(codebook_size, d, key=keys[0], dtype=dtype)
        self.position = 0.02 * jax.random.normal(keys[1], (config.max_positions, d), dtype)
        self.dataset_prefix = 0.02 * jax.random.normal(keys[2], (d,), dtype)
        self.dataset_encoder = DatasetEncoder(d, d, key=keys[3], dtype=dtype)
        self.architecture_encoder = ArchitectureEncoder(d, d, key=keys[4], dtype=dtype)
        self.blocks = tuple(_Block(d, config.heads, dtype=dtype, key=k) for k in keys[7:])
        self.norm = eqx.nn.LayerNorm(d, dtype=dtype)
        self.head = eqx.nn.Linear(d, codebook_size, key=keys[5], dtype=dtype)
        self.context = config.context
        self.use_dataset = config.use_dataset
        self.use_architecture = config.use_architecture
        self.dataset_at_every_position = config.dataset_at_every_position
        self.dataset_per_class = config.dataset_per_class
        self.dataset_at_output_rows = config.dataset_at_output_rows
        self.coordinate_embeddings = None
        if config.weight_coordinates:
            sizes = (MAX_SEGMENTS // 2, 3, COORDINATE_TABLE, COORDINATE_TABLE, COORDINATE_TABLE)
            self.coordinate_embeddings = tuple(0.02 * jax.random.normal(k, (m, d), dtype)
                                               for k, m in zip(jax.random.split(keys[6], len(sizes)), sizes))
        # One row per code of the initialisation's token at the predicted position, and one for "none".
        self.init_embedding = (eqx.nn.Embedding(codebook_size + 1, d, key=jax.random.fold_in(keys[6], 1), dtype=dtype)
                               if config.read_init else None)

    @property
    def codebook_size(self) -> int:
        return self.head.out_features

    def _dataset(self, cond: Conditioning) -> tuple[Float[Array, "c d"], Float[Array, " d"]]:
        """Per-class tokens and their pooled embedding, computed once (zeros where ablated)."""
        tokens = self.dataset_encoder.class_tokens(cond.prototypes, cond.class_mask)
        # An ablated prefix is a constant: the position stays, the information goes.
        tokens = tokens if self.use_dataset else jnp.zeros_like(tokens)
        return tokens, DatasetEncoder.pool(tokens, cond.class_mask)

    def _architecture(self, cond: Conditioning) -> Float[Array, " d"]:
        a_emb = self.architecture_encoder(cond.arch_features, cond.arch_mask)
        return a_emb if self.use_architecture else jnp.zeros_like(a_emb)

    def _prefix(self, classes, pooled) -> Float[Array, "c d"]:
        return self.dataset_prefix + (classes if self.dataset_per_class else pooled[None])

    def embeddings(self, cond: Conditioning) -> tuple[Float[Array, " d"], Float[Array, " d"]]:
        """The dataset and architecture embeddings (zeros where ablated)."""
        return self._dataset(cond)[1], self._architecture(cond)

    def dataset_prefix_tokens(self, cond: Conditioning) -> Float[Array, "c d"]:
        """The task's prefix: one token of the pooled embedding, or one per class (``dataset_per_class``)."""
        return self._prefix(*self._dataset(cond))

    def __call__(self, tokens: Int[Array, " t"], start: Int[Array, ""], cond: Conditioning) -> Float[Array, "t1 v"]:
        """Logits ``[T+1, V]``: row ``i`` is the distribution of token ``start + i`` given ``tokens[:i]``."""
        n = tokens.shape[0]
        if n > self.context:
            raise ValueError(f"a window holds at most {self.context} tokens (the context), got {n}")
        pos = jax.lax.dynamic_slice_in_dim(self.position, start, n + 1)
        classes, d_emb = self._dataset(cond)
        if self.coordinate_embeddings is not None or self.dataset_at_output_rows:
            coords = weight_coordinates(cond.segments, start + jnp.arange(n + 1, dtype=jnp.int32))
        if self.coordinate_embeddings is not None:
            for table, c in zip(self.coordinate_embeddings, coords.T):
                pos = pos + table[jnp.minimum(c, table.shape[0] - 1)]
        if self.dataset_at_output_rows:
            # The output layer's row k (its weights and bias) is class k's: it reads class k's token.
            output_row = (coords[:, 0] == 0) & (coords[:, 1] < 2)
            pos = pos + jnp.where(output_row[:, None], classes[jnp.minimum(coords[:, 2], classes.shape[0] - 1)], 0)
        if self.init_embedding is not None:
            # Padded so that a window running past the end of the network reads "none".
            ids = jax.lax.dynamic_slice_in_dim(jnp.pad(cond.init_tokens, (0, n + 1), constant_values=-1), start, n + 1)
            pos = pos + jax.vmap(self.init_embedding)(jnp.where(ids < 0, self.codebook_size, ids))
        a_emb = self._architecture(cond)
        x_tokens = jax.vmap(self.token_embedding)(tokens) + pos[1:]
        if self.dataset_at_every_position:
            # The task is then an input of every position, not only a prefix to attend to.
            x_tokens = x_tokens + d_emb
        prefix = self._prefix(classes, d_emb)
        x = jnp.concatenate([prefix, (a_emb + pos[0])[None], x_tokens], axis=0)
        length = x.shape[0]
        mask = jnp.tril(jnp.ones((length, length), bool))
        for block in self.blocks:
            x = block(x, mask)
        return jax.vmap(lambda v: self.head(self.norm(v)))(x[prefix.shape[0] :])


def window_loss(prior: Prior, tokens, starts, lengths, cond: Conditioning):
    """Mean cross-entropy of each window's tokens (positions beyond its network's length do not count)."""
    import optax

    logits = jax.vmap(prior)(tokens, starts, cond)[:, :-1]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, tokens)
    live = (starts[:, None] + jnp.arange(tokens.shape[1], dtype=starts.dtype)[None]) < lengths[:, None]
    live = live.astype(ce.dtype)
    return jnp.sum(ce * live) / jnp.maximum(jnp.sum(live), 1.0)


def sequence_nll(prior: Prior, tokens: Int[Array, "b n"], cond: Conditioning) -> float:
    """Mean negative log-likelihood per token (nats) of whole networks ``tokens`` under ``cond``.

    The networks are read in consecutive windows of the context, each from its absolute
    start. Comparing a network's NLL under its own task's conditioning with that under
    another task's measures how much the prior reads the prefix (zero gain: it ignores it).
    """
    import optax

    tokens = jnp.asarray(tokens, jnp.int32)
    batch, n = tokens.shape
    context = prior.context
    width = -(-n // context) * context
    padded = jnp.zeros((batch, width), jnp.int32).at[:, :n].set(tokens)
    total = 0.0
    for start in range(0, width, context):
        window = padded[:, start : start + context]
        ce = optax.softmax_cross_entropy_with_integer_labels(_window_logits(prior, window, jnp.int32(start), cond), window)
        total += float(jnp.sum(ce[:, : max(0, min(context, n - start))]))
    return total / (batch * n)


@eqx.filter_jit
def _window_logits(prior: Prior, windows, start, cond: Conditioning):
    """Logits of each token of a batch of windows that all start at ``start`` (the last row dropped)."""
    return jax.vmap(lambda window: prior(window, start, cond)[:-1])(windows)


def sample_logits(logits: Float[Array, " v"], key: PRNGKeyArray, *, temperature: float, top_k: int | None):
    """One token from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest (temperature 0: argmax)."""
    if temperature == 0:
        return jnp.argmax(logits).astype(jnp.int32)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = jax.lax.top_k(logits, top_k)[0][-1]
        logits = jnp.where(logits >= kth, logits, -jnp.inf)
    return jax.random.categorical(key, logits).astype(jnp.int32)


def generate_tokens(
    prior: Prior,
    cond: Conditioning,
    length: int,
    *,
    key: PRNGKeyArray,
    temperature: float = 1.0,
    top_k: int | None = None,
    overlap: int | None = None,
) -> Int[Array, " n"]:
    """Sample ``length`` tokens; beyond the context, in stages each conditioned on the previous stage's tail.

    Stage one fills a window of ``context`` tokens from position 0. Each later stage starts a
    new window with the last ``overlap`` tokens generated (default half the context) and
    fills the rest, so every token sees at least ``overlap`` predecessors.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    return _staged(prior, cond, length, key, overlap, float(temperature), top_k, None)[0]


def expected_values(
    prior: Prior, cond: Conditioning, length: int, values: Float[Array, " v"], *, overlap: int | None = None
) -> tuple[Int[Array, " n"], Float[Array, " n"]]:
    """The prior's expected value ``Σ_k p_k values[k]`` at each of ``length`` positions, and the tokens read.

    For a per-weight tokeniser (``values[k]``: the weight code ``k`` decodes to), the expected
    value is the prior's conditional mean weight rather than one draw from it. Each position is
    conditioned on the earlier ones' tokens nearest to their expected values (deterministic;
    staged as ``generate_tokens``)."""
    return _staged(prior, cond, length, jax.random.key(0), overlap, 1.0, None, jnp.asarray(values))


def _staged(prior, cond, length, key, overlap, temperature, top_k, values):
    """Fill ``length`` positions in windows of the context (``_fill``); returns tokens and expected values."""
    context = prior.context
    overlap = context // 2 if overlap is None else int(overlap)
    if not 0 < overlap < context:
        raise ValueError(f"overlap must lie in (0, context={context}), got {overlap}")
    tokens, expected = np.zeros(length, np.int32), np.zeros(length)
    done, stage = 0, 0
    while done < length:
        if done == 0:
            window, start, first = jnp.zeros(context, jnp.int32), 0, 0
        else:
            start = done - overlap
            window = jnp.zeros(context, jnp.int32).at[:overlap].set(jnp.asarray(tokens[start:done]))
            first = overlap
        count = min(context - first, length - done)
        window, means = _fill(prior, cond, window, jnp.int32(start), first, jnp.int32(count),
                              jax.random.fold_in(key, stage), temperature, top_k, values)
        tokens[done : done + count] = np.asarray(window[first : first + count])
        expected[done : done + count] = np.asarray(means[first : first + count])
        done += count
        stage += 1
    return jnp.asarray(tokens), jnp.asarray(expected)


@eqx.filter_jit
def _fill(prior, cond, window, start, first, count, key, temperature, top_k, values):
    """Fill ``window[first : first + count]`` one token at a time (the window is causal: later slots
    are ignored): sampled, or with ``values`` the token nearest to each position's expected value."""

    def body(i, carry):
        window, means = carry
        logits = prior(window, start, cond)[i]
        if values is None:
            token, mean = sample_logits(logits, jax.random.fold_in(key, i), temperature=temperature, top_k=top_k), 0.0
        else:
            mean = jax.nn.softmax(logits) @ values.astype(logits.dtype)
            token = jnp.argmin(jnp.abs(values - mean)).astype(jnp.int32)
        live = i < first + count
        return window.at[i].set(jnp.where(live, token, window[i])), means.at[i].set(jnp.where(live, mean, means[i]))

    dtype = prior.head.weight.dtype
    return jax.lax.fori_loop(first, window.shape[0], body, (window, jnp.zeros(window.shape[0], dtype)))
