"""IGPG's residual generator (differences from each architecture's training mean) and expected-value decoding."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.igpg import Architecture, ChunkLayout, PriorConfig, TokeniserConfig
from models.igpg._generator import Generator
from models.igpg._pipeline import IgpgConfig, ZooEntry, train_igpg
from models.igpg._prior import expected_values
from models.igpg._tasks import class_subset
from models.zoo import ImageSource, load_source

ARCH = "mlp dense-3 dense-4 tanh"
HELD_OUT_ARCH = "mlp dense-2 dense-4 tanh"
CONFIG = IgpgConfig(
    TokeniserConfig(chunk_size=8, tokens_per_chunk=8, codebook_size=16, code_dim=1, hidden=16, per_weight=True,
                    steps=20, batch_size=64),
    PriorConfig(d_model=16, heads=2, layers=1, context=32, max_positions=512, steps=20, batch_size=8, lr=3e-3,
                dataset_per_class=True, weight_coordinates=True, dataset_at_output_rows=True),
    residual=True,
)


@pytest.fixture(scope="module")
def setup():
    full = load_source("digits")
    source = ImageSource("digits240", full.images[:240], full.labels[:240])
    arch = Architecture.parse(ARCH)
    space = arch.space(64)
    tasks = [class_subset(source, (0, 1, 2, 3)), class_subset(source, (3, 2, 1, 0))]
    # A fixed-seed-like zoo: one start plus per-network noise, shifted per task.
    start = space.init(jax.random.key(0))
    entries = [ZooEntry(t, arch, jax.vmap(lambda k, i=i: jax.tree.map(lambda s, n: s + 0.1 * n + 0.2 * i, start,
                                                                       space.init(k)))(jax.random.split(jax.random.key(i), 5)))
               for i, t in enumerate(tasks)]
    seen = {}
    import models.igpg._pipeline as pipeline

    real = pipeline.train_prior
    pipeline.train_prior = lambda seqs, conds, *a, **k: seen.setdefault("sequences", seqs) is not None and real(seqs, conds, *a, **k)
    try:
        generator, _ = train_igpg(entries, CONFIG, key=jax.random.key(0), progress=False)
    finally:
        pipeline.train_prior = real
    return generator, entries, space, seen["sequences"]


def _close(a, b, tol=1e-12):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=tol)


def test_a_residual_generator_tokenises_and_generates_differences_from_the_training_mean(setup, monkeypatch):
    import models.igpg._generator as generator_module

    generator, entries, space, sequences = setup
    # The base: the mean over every training network of the architecture, across tasks.
    assert set(generator.bases) == {ARCH}
    base = generator.bases[ARCH]
    mean = jax.tree.map(lambda *a: jnp.mean(jnp.concatenate(a), 0), *[e.params for e in entries])
    _close(base, mean)
    # The prior was trained on the differences' tokens, which encode_batch gives again.
    layout = ChunkLayout(space, generator.tokeniser.chunk_size)
    diffs = jax.tree.map(lambda p, b: p - b[None], entries[0].params, base)
    np.testing.assert_array_equal(np.asarray(sequences[:5]), np.asarray(generator.tokeniser.encode_batch(layout, diffs)))
    np.testing.assert_array_equal(np.asarray(generator.encode_batch(ARCH, space, entries[0].params)), np.asarray(sequences[:5]))
    assert not np.array_equal(np.asarray(sequences[:5]),
                              np.asarray(generator.tokeniser.encode_batch(layout, entries[0].params)))
    # A generated network is the base plus the decoded tokens (spied), bit for bit.
    seen = {}
    real = generator_module.generate_tokens
    monkeypatch.setattr(generator_module, "generate_tokens",
                        lambda *a, **k: seen.setdefault("tokens", real(*a, **k)))
    images, labels = entries[0].task.conditioning_images()
    _, params = generator.generate(ARCH, images, labels, key=jax.random.key(3))
    decoded = generator.tokeniser.decode(layout, seen["tokens"])
    _close(params, jax.tree.map(lambda d, b: d + b, decoded, base), tol=0)
    seen.clear()
    zero = jax.tree.map(jnp.zeros_like, base)
    _, from_zero = generator.generate(ARCH, images, labels, key=jax.random.key(3), base=zero)
    _close(from_zero, generator.tokeniser.decode(layout, seen["tokens"]), tol=0)
    network = jax.tree.map(lambda a: a[0], entries[0].params)
    _close(generator.reconstruct(ARCH, space, network),
           jax.tree.map(lambda r, b: r + b, generator.tokeniser.reconstruct(layout, jax.tree.map(jnp.subtract, network, base)), base))


def test_a_residual_generator_needs_a_base_for_an_architecture_it_has_no_mean_of(setup):
    generator, entries, space, _ = setup
    images, labels = entries[0].task.conditioning_images()
    with pytest.raises(ValueError) as info:
        generator.generate(HELD_OUT_ARCH, images, labels, key=jax.random.key(0))
    message = str(info.value)
    assert "\n" not in message and "no mean network for 'mlp dense-2 dense-4 tanh'" in message
    assert "'mlp dense-3 dense-4 tanh'" in message and "pass base=" in message
    held = Architecture.parse(HELD_OUT_ARCH).space(64)
    held_params = generator.generate(HELD_OUT_ARCH, images, labels, key=jax.random.key(0),
                                     base=held.init(jax.random.key(1)))[1]
    held.validate(held_params)
    with pytest.raises(ValueError, match="base is not a network of 'mlp dense-3 dense-4 tanh'"):
        generator.generate(ARCH, images, labels, key=jax.random.key(0), base=held.init(jax.random.key(1)))
    with pytest.raises(ValueError, match=r"base= is for a residual generator"):
        Generator(generator.tokeniser, generator.prior).generate(ARCH, images, labels, key=jax.random.key(0),
                                                                 base=space.init(jax.random.key(1)))
    with pytest.raises(ValueError, match=r"residual=True\) replaces PriorConfig\(read_init=True\)"):
        dataclasses.replace(CONFIG, prior=dataclasses.replace(CONFIG.prior, read_init=True))


def test_expected_decoding_takes_each_weights_mean_under_the_prior(setup):
    """Each position's value is softmax(logits) · code values, conditioned on the earlier positions'
    nearest tokens; the network is deterministic and is the base plus those values decoded."""
    from models.igpg._generator import conditioning

    generator, entries, space, _ = setup
    images, labels = entries[0].task.conditioning_images()
    layout = ChunkLayout(space, generator.tokeniser.chunk_size)
    values = generator.tokeniser.code_values()
    cond = conditioning(ARCH, images, labels, n_classes=4)
    n = generator.tokeniser.num_tokens(layout)
    assert n > generator.prior.context  # staged
    tokens, means = expected_values(generator.prior, cond, n, values)
    np.testing.assert_array_equal(np.asarray(tokens), np.asarray(jnp.argmin(jnp.abs(values[None] - means[:, None]), 1)))
    c = generator.prior.context
    logits = generator.prior(tokens[:c], jnp.int32(0), cond)[:c]
    np.testing.assert_allclose(np.asarray(means[:c]), np.asarray(jax.nn.softmax(logits) @ values), rtol=1e-10, atol=1e-12)
    a = generator.generate(ARCH, images, labels, key=jax.random.key(0), decoding="expected", n_classes=4)[1]
    b = generator.generate(ARCH, images, labels, key=jax.random.key(9), decoding="expected", n_classes=4)[1]
    _close(a, b, tol=0)
    _close(a, jax.tree.map(lambda d, base: d + base, generator.tokeniser.decode_values(layout, means),
                           generator.bases[ARCH]), tol=1e-12)
    # Decoding a code's value gives the weight that code decodes to.
    one = jnp.full(n, 3, jnp.int32)
    _close(generator.tokeniser.decode_values(layout, jnp.full(n, values[3])), generator.tokeniser.decode(layout, one))
    with pytest.raises(ValueError, match="unknown decoding 'mode': use one of sample, expected"):
        generator.generate(ARCH, images, labels, key=jax.random.key(0), decoding="mode")


def test_expected_decoding_needs_a_per_weight_tokeniser():
    from models.igpg._tokeniser import Tokeniser
    from models.igpg._vqvae import VQVAE

    chunk_wide = Tokeniser(VQVAE(8, tokens_per_chunk=2, codebook_size=8, code_dim=2, hidden=8, key=jax.random.key(0)))
    with pytest.raises(ValueError, match=r"expected-value decoding needs a per-weight tokeniser"):
        chunk_wide.code_values()
