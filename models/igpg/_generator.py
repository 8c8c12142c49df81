"""From a task and an architecture description to a runnable network: condition, sample, decode, load."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

import symm
from models.igpg._architecture import Architecture
from models.igpg._dataset import class_prototypes
from models.igpg._layout import ChunkLayout
from models.igpg._prior import Conditioning, Prior, expected_values, generate_tokens
from models.igpg._tokeniser import Tokeniser


def conditioning(architecture: Architecture | str, images: np.ndarray, labels: np.ndarray, *, n_classes: int | None = None,
                 seed: int = 0, init_tokens: np.ndarray | None = None) -> Conditioning:
    """The prefix inputs for a task (its images ``[N, H, W, C]`` and labels) and an architecture.

    ``n_classes``: the task's label space (default: the largest label + 1); a class with no
    images (a subset task) is masked out of the dataset embedding. ``init_tokens``: the
    tokens of the network's initialisation, for a prior that reads it (``read_init``).
    """
    arch = Architecture.of(architecture)
    top = int(np.max(labels)) + 1
    n_classes = top if n_classes is None else int(n_classes)
    if top > n_classes:
        raise ValueError(f"labels run to {top - 1} but the task declares {n_classes} classes")
    if n_classes != arch.n_outputs:
        raise ValueError(
            f"the task has {n_classes} classes but the architecture {str(arch)!r} has {arch.n_outputs} outputs; "
            f"end the description with dense-{n_classes}"
        )
    protos, cmask = class_prototypes(images, labels, n_classes, seed=seed)
    feats, amask = arch.word_features()
    layout = ChunkLayout(arch.space(input_width(arch, tuple(np.shape(images)[1:]))), 1)
    init = np.full(1, -1, np.int32) if init_tokens is None else np.asarray(init_tokens, np.int32)
    return Conditioning(jnp.asarray(protos), jnp.asarray(cmask), jnp.asarray(feats), jnp.asarray(amask),
                        jnp.asarray(layout.segments()), jnp.asarray(init))


def initialisation_tokens(tokeniser: Tokeniser, architecture: Architecture, space: symm.WeightSpace, init) -> Array:
    """The tokens of a network's initialisation ``init`` (a point of ``space``), as a prior that
    reads it (``read_init``) sees them, in training and in generation alike."""
    try:
        space.validate(init)
    except ValueError as error:
        raise ValueError(f"init is not an initialisation of {str(architecture)!r}: {error}") from None
    init = jax.tree.map(lambda a: jnp.asarray(a, tokeniser.vqvae.codebook.dtype), init)
    return tokeniser.encode(ChunkLayout(space, tokeniser.chunk_size), init)


def input_width(architecture: Architecture, image_shape: tuple[int, int, int]) -> int:
    """Channels for a CNN, pixels·channels for an MLP, of images ``(H, W, C)``."""
    h, w, c = image_shape
    return c if architecture.kind == "cnn" else h * w * c


#: How ``Generator.generate`` turns the prior into weights: one draw, or its expected weight per position.
DECODINGS = ("sample", "expected")


class Generator(eqx.Module):
    """A trained tokeniser and prior: ``generate(description, images, labels, key=...)`` gives params.

    ``bases``: for a residual generator (``IgpgConfig(residual=True)``), each training
    architecture's mean network over the training zoo; its tokens are a network's difference
    from that mean, and a generated network is the mean plus the decoded difference. Empty for
    a generator of raw weights."""

    tokeniser: Tokeniser
    prior: Prior
    bases: dict[str, tuple] = eqx.field(default_factory=dict)

    def __check_init__(self):
        if self.prior.codebook_size != self.tokeniser.codebook_size:
            raise ValueError(
                f"the prior predicts {self.prior.codebook_size} codes but the tokeniser's codebook has "
                f"{self.tokeniser.codebook_size}"
            )

    def base_for(self, architecture: Architecture, space: symm.WeightSpace, base: tuple | None = None) -> tuple | None:
        """The network a residual generator's differences are added to: ``base`` if given, else the
        architecture's training mean (None for a generator of raw weights)."""
        if not self.bases:
            if base is not None:
                raise ValueError("base= is for a residual generator (IgpgConfig(residual=True)); this one "
                                 "generates raw weights")
            return None
        if base is None:
            if str(architecture) not in self.bases:
                raise ValueError(
                    f"this residual generator has no mean network for {str(architecture)!r} (it knows "
                    f"{', '.join(repr(a) for a in sorted(self.bases))}); pass base=, e.g. its initialisation "
                    "(models.zoo.shared_initialisation(space.param_shapes, seed))")
            base = self.bases[str(architecture)]
        try:
            space.validate(base)
        except ValueError as error:
            raise ValueError(f"base is not a network of {str(architecture)!r}: {error}") from None
        return base

    def reconstruct(self, architecture: Architecture | str, space: symm.WeightSpace, params) -> tuple:
        """``params`` through the tokeniser and back (with the base taken off and put back)."""
        arch = Architecture.of(architecture)
        base = self.base_for(arch, space)
        layout = ChunkLayout(space, self.tokeniser.chunk_size)
        return _add(self.tokeniser.reconstruct(layout, subtract_base(params, base)), base)

    def encode_batch(self, architecture: Architecture | str, space: symm.WeightSpace, params) -> Array:
        """The token sequences the prior was trained on for networks ``params`` (leading network axis)."""
        arch = Architecture.of(architecture)
        layout = ChunkLayout(space, self.tokeniser.chunk_size)
        return self.tokeniser.encode_batch(layout, subtract_base(params, self.base_for(arch, space), batched=True))

    def generate(
        self,
        architecture: Architecture | str,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        key: PRNGKeyArray,
        temperature: float = 1.0,
        top_k: int | None = None,
        n_classes: int | None = None,
        init: tuple | None = None,
        init_seed: int = 0,
        decoding: str = "sample",
        base: tuple | None = None,
    ) -> tuple[symm.WeightSpace, tuple]:
        """A network for the task, as ``(space, params)``: ``params`` is a point of ``space`` (checked).

        ``n_classes``: the task's label space, where some classes have no images (default: the
        largest label + 1). A prior that reads the initialisation (``read_init``) is given
        ``init``, or else the fixed-seed zoos' initialisation of ``init_seed``
        (``models.zoo.shared_initialisation``) for this architecture. ``decoding``: "sample"
        draws each token (``temperature``, ``top_k``); "expected" takes each weight's expected
        value under the prior (per-weight tokenisers; deterministic, ``key`` unused). ``base``:
        what a residual generator adds its output to (default: the architecture's training mean)."""
        if decoding not in DECODINGS:
            raise ValueError(f"unknown decoding {decoding!r}: use one of {', '.join(DECODINGS)}")
        arch = Architecture.of(architecture)
        space = arch.space(input_width(arch, tuple(np.shape(images)[1:])))
        layout = ChunkLayout(space, self.tokeniser.chunk_size)
        base = self.base_for(arch, space, base)
        init_tokens = None
        if self.prior.init_embedding is not None:
            if init is None:
                from models.zoo import shared_initialisation

                init = shared_initialisation(space.param_shapes, init_seed)
            init_tokens = initialisation_tokens(self.tokeniser, arch, space, init)
        cond = conditioning(arch, images, labels, n_classes=n_classes, init_tokens=init_tokens)
        length = self.tokeniser.num_tokens(layout)
        if decoding == "expected":
            means = expected_values(self.prior, cond, length, self.tokeniser.code_values())[1]
            params = self.tokeniser.decode_values(layout, means)
        else:
            tokens = generate_tokens(self.prior, cond, length, key=key, temperature=temperature, top_k=top_k)
            params = self.tokeniser.decode(layout, tokens)
        params = _add(params, base)
        space.validate(params)
        return space, params


def _add(params, base):
    return params if base is None else jax.tree.map(lambda p, b: p + jnp.asarray(b, p.dtype), params, base)


def subtract_base(params, base, *, batched: bool = False):
    """``params - base`` (``params`` with a leading network axis if ``batched``); unchanged for no base."""
    if base is None:
        return params
    return jax.tree.map(lambda p, b: p - jnp.asarray(b, p.dtype)[None] if batched else p - jnp.asarray(b, p.dtype),
                        params, base)
