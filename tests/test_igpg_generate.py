"""IGPG end to end at tiny size: generated weights load into a runnable network; bad input gets one line."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symm
from models.igpg import Architecture, ArchitectureError, ChunkLayout, PriorConfig, TokeniserConfig
from models.igpg._pipeline import IgpgConfig, ZooEntry, ZooShapeError, accuracy, finetune, prepare_params, train_igpg
from models.igpg._tasks import class_subset, identity_task, permuted
from models.zoo import ImageSource, cnn_apply, load_source

CONFIG = IgpgConfig(
    TokeniserConfig(chunk_size=8, tokens_per_chunk=2, codebook_size=16, code_dim=4, hidden=16, steps=50, batch_size=64),
    PriorConfig(d_model=16, heads=2, layers=1, context=16, max_positions=256, steps=50, batch_size=8, lr=3e-3),
)
TRAIN_ARCH = "cnn conv3x3-2 gap dense-4 relu"
HELD_OUT_ARCH = "cnn conv3x3-3 conv3x3-2 gap dense-4 relu"


@pytest.fixture(scope="module")
def source():
    full = load_source("digits")
    return ImageSource("digits240", full.images[:240], full.labels[:240])


def _entry(task, arch, n, seed):
    arch = Architecture.parse(arch)
    space = arch.space(1)
    params = jax.vmap(lambda k: space.init(k))(jax.random.split(jax.random.key(seed), n))
    return ZooEntry(task, arch, params)


@pytest.fixture(scope="module")
def trained(source):
    tasks = [class_subset(source, (0, 1, 2, 3)), class_subset(source, (3, 2, 1, 0))]
    entries = [_entry(t, TRAIN_ARCH, 6, i) for i, t in enumerate(tasks)]
    generator, info = train_igpg(entries, CONFIG, key=jax.random.key(0), progress=False)
    return generator, info


def test_generated_weights_load_into_a_runnable_network_of_the_requested_architecture(trained, source):
    generator, info = trained
    held_out_task = class_subset(source, (4, 5, 6, 7))
    images, labels = held_out_task.conditioning_images()
    for description in (TRAIN_ARCH, HELD_OUT_ARCH):
        space, params = generator.generate(description, images, labels, key=jax.random.key(1), temperature=1.0, top_k=8)
        assert space.layer_sizes == Architecture.parse(description).space(1).layer_sizes
        space.validate(params)  # a point of the requested weight space
        x, y = held_out_task.arrays("test")
        logits = jax.vmap(lambda v: space.apply(params, v))(jnp.asarray(x[:5], params[0][0].dtype))
        assert logits.shape == (5, 4) and bool(jnp.all(jnp.isfinite(logits)))
        # The zoo's own forward pass runs the same network.
        zoo_logits = jax.vmap(lambda v: cnn_apply(jax.tree.map(lambda a: a.astype(jnp.float32), params), v, "relu"))(
            jnp.asarray(x[:5]))
        np.testing.assert_allclose(np.asarray(zoo_logits), np.asarray(logits), rtol=1e-4, atol=1e-5)
        assert 0.0 <= accuracy(space, params, x, y) <= 1.0
    # Every token of every training network (2 zoos of 6) is counted once in the usage histogram.
    layout = ChunkLayout(Architecture.parse(TRAIN_ARCH).space(1), 8)
    assert info["codebook_usage"].sum() == 12 * generator.tokeniser.num_tokens(layout)
    assert info["tokeniser_seconds"] > 0 and info["prior_seconds"] > 0


def test_finetuning_from_a_generated_start_runs_and_improves_training_loss(trained, source):
    generator, _ = trained
    task = class_subset(source, (0, 1, 2, 3))
    space, params = generator.generate(TRAIN_ARCH, *task.conditioning_images(), key=jax.random.key(2))
    steps = finetune(space, params, task, epochs=3, lr=3e-2, batch_size=16, key=jax.random.key(0))
    assert len(steps) == 4
    x, y = task.arrays("train")
    x = jnp.asarray(x, jnp.float64)

    def loss(p):
        logits = jax.vmap(lambda v: space.apply(p, v))(x)
        return float(jnp.mean(jax.nn.logsumexp(logits, -1) - logits[jnp.arange(len(y)), jnp.asarray(y)]))

    # (a 2-channel CNN learns slowly: the point is that the updates are applied and go downhill)
    assert loss(steps[-1]) < loss(steps[0]) - 1e-3


def test_bad_input_gets_one_clear_line(trained, source):
    generator, _ = trained
    task = class_subset(source, (0, 1, 2, 3))
    images, labels = task.conditioning_images()
    with pytest.raises(ArchitectureError, match="cannot parse architecture") as info:
        generator.generate("cnn conv3x3-2 dense-4 relu", images, labels, key=jax.random.key(0))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="the task has 4 classes but .* has 10 outputs; end the description with dense-4"):
        generator.generate("cnn conv3x3-2 gap dense-10 relu", images, labels, key=jax.random.key(0))
    # A zoo whose stored weights do not fit the architecture it claims.
    wrong = _entry(task, "cnn conv3x3-3 gap dense-4 relu", 2, 0).params
    with pytest.raises(ZooShapeError) as info:
        ZooEntry(task, Architecture.parse(TRAIN_ARCH), wrong)
    message = str(info.value)
    assert "\n" not in message and "does not fit 'cnn conv3x3-2 gap dense-4 relu'" in message and "layer 0" in message
    with pytest.raises(ZooShapeError, match=r"\(10 classes\) has architecture .* with 4 outputs"):
        ZooEntry(identity_task(source), Architecture.parse(TRAIN_ARCH), _entry(task, TRAIN_ARCH, 2, 0).params)


def test_symmetry_aware_variant_tokenises_every_orbit_element_alike(source):
    task = permuted(source, 1)
    entry = _entry(task, "cnn conv3x3-3 gap dense-10 tanh", 3, 0)
    space = entry.space
    g = space.sample(jax.random.key(5))
    moved = ZooEntry(task, entry.architecture, jax.vmap(lambda p: space.act(g, p))(entry.params))
    a = prepare_params(entry, True, jnp.float64)
    b = prepare_params(moved, True, jnp.float64)
    for (wa, ba), (wb, bb) in zip(a, b):
        np.testing.assert_allclose(np.asarray(wa), np.asarray(wb), rtol=1e-10, atol=1e-12)
    # Without canonicalisation the two copies are different inputs.
    raw_a, raw_b = prepare_params(entry, False, jnp.float64), prepare_params(moved, False, jnp.float64)
    assert not np.allclose(np.asarray(raw_a[0][0]), np.asarray(raw_b[0][0]))


def test_a_prior_that_reads_the_initialisation_generates_from_the_fixed_seed_start_of_any_architecture(
        source, monkeypatch):
    """Trained on a fixed-seed zoo (every network its shared start plus noise), the generator is given that
    start, and for an architecture with no zoo it takes ``models.zoo.shared_initialisation``'s."""
    import models.igpg._generator as generator_module
    import models.igpg._pipeline as pipeline
    from models.zoo import shared_initialisation

    config = IgpgConfig(
        TokeniserConfig(chunk_size=8, tokens_per_chunk=8, codebook_size=16, code_dim=1, hidden=16, per_weight=True,
                        steps=20, batch_size=64),
        dataclasses.replace(CONFIG.prior, read_init=True, steps=20),
    )
    arch = Architecture.parse(TRAIN_ARCH)
    space = arch.space(1)
    start = jax.tree.map(jnp.asarray, shared_initialisation(space.param_shapes, 0))
    noise = jax.vmap(lambda k: space.init(k, dtype=jnp.float32))(jax.random.split(jax.random.key(0), 6))
    task = class_subset(source, (0, 1, 2, 3))
    entry = ZooEntry(task, arch, jax.tree.map(lambda s, n: s[None] + 0.1 * n, start, noise), init=start)
    # What the prior is trained under: every network's conditioning carries the tokens of the zoo's start.
    seen = {}
    real_train_prior = pipeline.train_prior
    monkeypatch.setattr(pipeline, "train_prior", lambda seqs, conds, *a, **k: seen.setdefault("conds", conds) and
                        real_train_prior(seqs, conds, *a, **k))
    generator, _ = train_igpg([entry], config, key=jax.random.key(0), progress=False)
    layout = ChunkLayout(space, generator.tokeniser.chunk_size)
    start_tokens = np.asarray(generator.tokeniser.encode(layout, start))
    assert len(seen["conds"]) == 6 and len(set(start_tokens.tolist())) > 1
    for cond in seen["conds"]:
        np.testing.assert_array_equal(np.asarray(cond.init_tokens), start_tokens)
    images, labels = task.conditioning_images()
    # What it generates under: the given start's tokens, not the default one's.
    other = shared_initialisation(space.param_shapes, 1)
    real_generate_tokens = generator_module.generate_tokens
    monkeypatch.setattr(generator_module, "generate_tokens", lambda prior, cond, *a, **k: seen.setdefault(
        "generate", cond) is not None and real_generate_tokens(prior, cond, *a, **k))
    generator.generate(TRAIN_ARCH, images, labels, key=jax.random.key(1), temperature=0.0, init=other)
    np.testing.assert_array_equal(np.asarray(seen["generate"].init_tokens),
                                  np.asarray(generator.tokeniser.encode(layout, jax.tree.map(jnp.asarray, other))))
    assert not np.array_equal(np.asarray(seen["generate"].init_tokens), start_tokens)
    monkeypatch.setattr(generator_module, "generate_tokens", real_generate_tokens)
    held_space = Architecture.parse(HELD_OUT_ARCH).space(1)  # no zoo of it: its start comes from the seed
    implicit = generator.generate(HELD_OUT_ARCH, images, labels, key=jax.random.key(1), temperature=0.0)[1]
    explicit = generator.generate(HELD_OUT_ARCH, images, labels, key=jax.random.key(1), temperature=0.0,
                                  init=shared_initialisation(held_space.param_shapes, 0))[1]
    held_space.validate(implicit)
    for a, b in zip(jax.tree_util.tree_leaves(implicit), jax.tree_util.tree_leaves(explicit)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="init is not an initialisation of 'cnn conv3x3-2 gap dense-4 relu': params has 3"):
        generator.generate(TRAIN_ARCH, images, labels, key=jax.random.key(1),
                           init=shared_initialisation(Architecture.parse(HELD_OUT_ARCH).space(1).param_shapes, 0))
