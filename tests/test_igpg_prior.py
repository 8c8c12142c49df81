"""IGPG prior: exact causality, prefixes that matter (and ablate), staged generation, the description parser."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.igpg import (
    Architecture,
    ArchitectureError,
    ChunkLayout,
    Conditioning,
    Prior,
    PriorConfig,
    class_prototypes,
    generate_tokens,
    parse_architecture,
    sample_logits,
    sequence_nll,
    train_prior,
)

TINY = PriorConfig(d_model=16, heads=2, layers=2, context=8, max_positions=64, steps=100, batch_size=8, lr=3e-3)
V = 12


def _cond(seed, arch="cnn conv3x3-4 gap dense-3 relu"):
    rng = np.random.default_rng(seed)
    feats, amask = Architecture.parse(arch).word_features()
    return Conditioning(jnp.asarray(rng.standard_normal((10, 64))), jnp.asarray(np.arange(10) < 3),
                        jnp.asarray(feats), jnp.asarray(amask),
                        jnp.asarray(ChunkLayout(Architecture.parse(arch).space(1), 1).segments()),
                        jnp.full(1, -1, jnp.int32))


_run = eqx.filter_jit(lambda prior, tokens, start, cond: prior(tokens, start, cond))


@pytest.fixture(scope="module")
def prior():
    return Prior(V, TINY, key=jax.random.key(0))


def test_prior_is_causal_exactly(prior):
    tokens = jnp.array([3, 1, 4, 1, 5, 9, 2, 6], jnp.int32)
    cond = _cond(0)
    run = lambda t, s, c: _run(prior, t, s, c)
    base = run(tokens, jnp.int32(5), cond)
    assert base.shape == (9, V)
    for j in (0, 3, 7):
        changed = run(tokens.at[j].set((tokens[j] + 1) % V), jnp.int32(5), cond)
        # Row i predicts token i from tokens[:i]: rows 0..j cannot see token j, bit for bit.
        np.testing.assert_array_equal(np.asarray(changed[: j + 1]), np.asarray(base[: j + 1]))
        # ... and the very next row does see it (the mask is not hiding everything).
        assert not np.allclose(np.asarray(changed[j + 1]), np.asarray(base[j + 1]))


def test_prefixes_condition_the_logits_and_ablations_remove_them(prior):
    tokens = jnp.arange(6, dtype=jnp.int32)
    other_task = _cond(1)
    other_arch = _cond(0, "cnn conv3x3-8 conv3x3-8 gap dense-3 relu")
    base = _run(prior, tokens, jnp.int32(0), _cond(0))
    assert not np.allclose(np.asarray(_run(prior, tokens, jnp.int32(0), other_task)), np.asarray(base))
    assert not np.allclose(np.asarray(_run(prior, tokens, jnp.int32(0), other_arch)), np.asarray(base))
    assert not np.allclose(np.asarray(_run(prior, tokens, jnp.int32(1), _cond(0))), np.asarray(base))  # position counts
    import dataclasses

    blind = Prior(V, dataclasses.replace(TINY, use_dataset=False, use_architecture=False), key=jax.random.key(0))
    b0 = _run(blind, tokens, jnp.int32(0), _cond(0))
    np.testing.assert_array_equal(np.asarray(_run(blind, tokens, jnp.int32(0), other_task)), np.asarray(b0))
    np.testing.assert_array_equal(np.asarray(_run(blind, tokens, jnp.int32(0), other_arch)), np.asarray(b0))


def test_staged_generation_conditions_each_stage_on_the_tail_of_the_previous(prior):
    cond = _cond(0)
    length, overlap = 19, 3
    out = np.asarray(generate_tokens(prior, cond, length, key=jax.random.key(0), temperature=0.0, overlap=overlap))
    assert out.shape == (19,) and out.dtype == np.int32
    # Greedy decoding: every token is the argmax given exactly the window its stage saw.
    # Stages: [0, 8), then windows starting at 8-3=5 -> tokens 8..12, at 13-3=10 -> 13..17, at 15 -> 18.
    done = 0
    starts = []
    while done < length:
        start = 0 if done == 0 else done - overlap
        first = 0 if done == 0 else overlap
        count = min(TINY.context - first, length - done)
        starts.append(start)
        window = np.zeros(TINY.context, np.int32)
        window[: first + count] = out[start : start + first + count]
        logits = np.asarray(_run(prior, jnp.asarray(window), jnp.int32(start), cond))
        np.testing.assert_array_equal(np.argmax(logits[first : first + count], -1), out[done : done + count])
        done += count
    assert starts == [0, 5, 10, 15]


def test_top_k_and_temperature_sampling():
    logits = jnp.array([0.0, 3.0, 1.0, 2.0])
    draws = jax.vmap(lambda k: sample_logits(logits, k, temperature=1.0, top_k=2))(jax.random.split(jax.random.key(0), 400))
    assert set(np.unique(np.asarray(draws)).tolist()) == {1, 3}  # only the two largest
    assert int(sample_logits(logits, jax.random.key(1), temperature=0.0, top_k=None)) == 1
    cold = jax.vmap(lambda k: sample_logits(logits, k, temperature=0.05, top_k=None))(jax.random.split(jax.random.key(2), 50))
    assert np.all(np.asarray(cold) == 1)


def test_prior_learns_token_sequences_that_depend_on_the_task():
    # Two "tasks" whose networks are two different fixed sequences longer than the context.
    seqs = [np.arange(12) % V, (np.arange(12) * 5 + 2) % V]
    conds = [_cond(0), _cond(1)]
    prior, history = train_prior(seqs * 4, conds * 4, V, dataclasses.replace(TINY, steps=200), key=jax.random.key(3),
                                  progress=False)
    assert history["loss"][-10:].mean() < 0.25 * history["loss"][:10].mean()
    for seq, cond in zip(seqs, conds):
        out = generate_tokens(prior, cond, 12, key=jax.random.key(0), temperature=0.0, overlap=4)
        np.testing.assert_array_equal(np.asarray(out), seq)
    # It reads the prefix: each task's sequence is likelier under its own conditioning.
    own = [sequence_nll(prior, np.asarray(seq)[None], cond) for seq, cond in zip(seqs, conds)]
    other = [sequence_nll(prior, np.asarray(seq)[None], cond) for seq, cond in zip(seqs, conds[::-1])]
    assert max(own) + 0.5 < min(other), (own, other)


def test_architecture_descriptions_parse_and_round_trip():
    arch = parse_architecture("cnn conv3x3-16 conv5x5-8 gap dense-32 dense-10 relu")
    assert arch.convs == ((3, 16), (5, 8)) and arch.dense == (32, 10) and str(arch).endswith("dense-10 relu")
    space = arch.space(1)
    assert space.layer_sizes == (1, 16, 8, 32, 10) and space.kernel_sizes == (3, 5, None, None)
    mlp = parse_architecture("mlp dense-32 dense-10 tanh")
    assert mlp.space(64).layer_sizes == (64, 32, 10)
    f1, m1 = arch.word_features()
    f2, _ = parse_architecture("cnn conv3x3-32 conv5x5-8 gap dense-32 dense-10 relu").word_features()
    assert m1.sum() == 7 and not np.array_equal(f1, f2)


@pytest.mark.parametrize(
    "text, why",
    [
        ("cnn conv3x3-16 dense-10 relu", "'dense-10' is out of place"),
        ("cnn conv3x3-16 gap dense-10 wiggle", "'wiggle' is not an activation"),
        ("rnn dense-10 relu", "first word must be 'cnn' or 'mlp'"),
        ("cnn conv3x2-16 gap dense-10 relu", "square and odd"),
        ("cnn conv4x4-16 gap dense-10 relu", "odd"),
        ("mlp relu", "needs a kind"),
        ("cnn gap dense-10 relu", "at least one conv"),
    ],
)
def test_unparsable_descriptions_give_one_clear_line(text, why):
    with pytest.raises(ArchitectureError) as info:
        parse_architecture(text)
    message = str(info.value)
    assert why in message and "\n" not in message and "expected e.g." in message


def test_class_prototypes_follow_label_order():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(30, 8, 8, 1))
    labels = np.repeat(np.arange(3), 10)
    protos, mask = class_prototypes(images, labels, 3)
    permuted, _ = class_prototypes(images, (labels + 1) % 3, 3)
    assert mask.tolist() == [True] * 3 + [False] * 7 and np.all(protos[3:] == 0)
    assert not np.allclose(protos[:3], permuted[:3])  # same images, other labelling: another task
    with pytest.raises(ValueError, match="class 2 has 1 images"):
        class_prototypes(images[:21], labels[:21], 3)


def test_a_class_subset_task_masks_its_absent_classes_and_keeps_its_labels():
    from models.igpg._generator import conditioning
    from models.igpg._tasks import classes_only
    from models.zoo import ImageSource, SourceError

    rng = np.random.default_rng(0)
    source = ImageSource("toy", rng.uniform(size=(60, 8, 8, 1)), np.repeat(np.arange(6), 10))
    task = classes_only(source, (4, 1, 2))
    assert task.name == "toy~only1-2-4" and task.n_classes == 6
    assert sorted(set(task.source.labels.tolist())) == [1, 2, 4] and len(task.source) == 30
    protos, mask = class_prototypes(task.source.images, task.source.labels, task.n_classes)
    assert mask.tolist() == [False, True, True, False, True] + [False] * 5
    assert np.all(protos[~mask] == 0) and np.all(np.abs(protos[mask]).sum(1) > 0)
    cond = conditioning("mlp dense-4 dense-6 tanh", task.source.images, task.source.labels, n_classes=task.n_classes)
    assert np.asarray(cond.class_mask).tolist() == mask.tolist()
    # Without the declared class count, labels 1, 2, 4 read as a 5-class task: one clear line.
    with pytest.raises(ValueError, match="the task has 5 classes but .* has 6 outputs; end the description with dense-5"):
        conditioning("mlp dense-4 dense-6 tanh", task.source.images, task.source.labels)
    with pytest.raises(ValueError, match="labels run to 5 but the task declares 4 classes"):
        conditioning("mlp dense-4 dense-4 tanh", source.images, source.labels, n_classes=4)
    with pytest.raises(SourceError, match="has label 5 but declares 3 classes"):
        ImageSource("toy", source.images, source.labels, classes=3)
    with pytest.raises(ValueError, match="at least two distinct classes in 0..5"):
        classes_only(source, (1, 7))


def test_sequence_nll_is_the_mean_cross_entropy_of_every_token_from_its_absolute_position(prior):
    """Windows at 0, C, 2C, ... from their absolute starts; the last, partial one counts only its tokens."""
    import optax

    cond = _cond(0)
    tokens = np.random.default_rng(0).integers(0, V, (2, 19)).astype(np.int32)
    expected = []
    for row in tokens:
        for start in range(0, 19, TINY.context):
            window = row[start : start + TINY.context]
            logits = _run(prior, jnp.asarray(window), jnp.int32(start), cond)[:-1]
            expected.extend(np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(window))))
    assert sequence_nll(prior, tokens, cond) == pytest.approx(float(np.mean(expected)), rel=1e-6)


def test_the_dataset_embedding_at_every_position_enters_each_token_input_and_ablates():
    """With ``dataset_at_every_position`` a one-layer prior sees the task at every token's own input."""
    import dataclasses

    config = dataclasses.replace(TINY, layers=0, dataset_at_every_position=True)
    tokens = jnp.arange(6, dtype=jnp.int32)
    # No blocks: each output reads only its own input, so the task reaches a token's logits only
    # through that token's input.
    prior = Prior(V, config, key=jax.random.key(0))
    prefix_only = Prior(V, dataclasses.replace(config, dataset_at_every_position=False), key=jax.random.key(0))
    for model, expect_change in ((prior, True), (prefix_only, False)):
        a = np.asarray(_run(model, tokens, jnp.int32(0), _cond(0)))[1:]
        b = np.asarray(_run(model, tokens, jnp.int32(0), _cond(1)))[1:]
        assert np.all(np.any(np.abs(a - b) > 1e-6, axis=-1)) if expect_change else np.array_equal(a, b)
    blind = Prior(V, dataclasses.replace(config, use_dataset=False), key=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(_run(blind, tokens, jnp.int32(0), _cond(0))),
                                  np.asarray(_run(blind, tokens, jnp.int32(0), _cond(1))))


def _with_segments(cond, space):
    return eqx.tree_at(lambda c: c.segments, cond, jnp.asarray(ChunkLayout(space, 1).segments()))


def test_weight_coordinates_tell_apart_exactly_the_positions_whose_weights_differ():
    """Two MLPs equal up to flat entry 20 (4-3-2 then 4-3-5): with no blocks, the logits for positions 0..20 agree
    exactly and those from 21 on (a bias in one, a weight in the other) differ; without the option all agree."""
    import dataclasses

    import symm

    config = dataclasses.replace(TINY, layers=0, context=32, weight_coordinates=True)
    a = _with_segments(_cond(0), symm.WeightSpace.mlp((4, 3, 2), "relu"))
    b = _with_segments(_cond(0), symm.WeightSpace.mlp((4, 3, 5), "relu"))
    tokens = jnp.zeros(27, jnp.int32)
    prior = Prior(V, config, key=jax.random.key(0))
    # Row i predicts position i (row 0 reads the architecture token, which both share here).
    la, lb = (np.asarray(_run(prior, tokens, jnp.int32(0), c)) for c in (a, b))
    np.testing.assert_array_equal(la[:21], lb[:21])
    assert np.all(np.any(np.abs(la[21:] - lb[21:]) > 1e-6, axis=-1))
    plain = Prior(V, dataclasses.replace(config, weight_coordinates=False), key=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(_run(plain, tokens, jnp.int32(0), a)), np.asarray(_run(plain, tokens, jnp.int32(0), b)))


def test_weight_coordinates_need_a_per_weight_tokeniser():
    from models.igpg import TokeniserConfig
    from models.igpg._pipeline import IgpgConfig

    with pytest.raises(ValueError, match=r"needs TokeniserConfig\(per_weight=True\)"):
        IgpgConfig(TokeniserConfig(), PriorConfig(weight_coordinates=True))
    IgpgConfig(TokeniserConfig(chunk_size=4, tokens_per_chunk=4, per_weight=True), PriorConfig(weight_coordinates=True))


def test_per_class_dataset_tokens_mark_absent_classes_and_ablate():
    """One prefix token per class: a class's token changes with its prototype and with its presence alone;
    the ablated prior's prefix is the same for every task."""
    import dataclasses

    config = dataclasses.replace(TINY, dataset_per_class=True)
    prior = Prior(V, config, key=jax.random.key(0))
    cond = _cond(0)
    tokens = np.asarray(prior.dataset_prefix_tokens(cond))
    assert tokens.shape == (10, TINY.d_model)
    assert Prior(V, TINY, key=jax.random.key(0)).dataset_prefix_tokens(cond).shape == (1, TINY.d_model)
    moved = eqx.tree_at(lambda c: c.prototypes, cond, cond.prototypes.at[1].add(1.0))
    changed = np.any(np.abs(np.asarray(prior.dataset_prefix_tokens(moved)) - tokens) > 1e-6, axis=-1)
    np.testing.assert_array_equal(changed, np.arange(10) == 1)
    absent = eqx.tree_at(lambda c: c.class_mask, cond, cond.class_mask.at[2].set(False))
    changed = np.any(np.abs(np.asarray(prior.dataset_prefix_tokens(absent)) - tokens) > 1e-6, axis=-1)
    np.testing.assert_array_equal(changed, np.arange(10) == 2)
    run = lambda model, c: np.asarray(_run(model, jnp.arange(6, dtype=jnp.int32), jnp.int32(0), c))
    assert not np.allclose(run(prior, cond), run(prior, moved))
    blind = Prior(V, dataclasses.replace(config, use_dataset=False), key=jax.random.key(0))
    np.testing.assert_array_equal(run(blind, cond), run(blind, moved))


def test_each_output_row_reads_its_own_class_token_and_nothing_else_does():
    """``dataset_at_output_rows``, with no blocks (each row sees only its own input): making class 2
    absent changes exactly the logits that predict the output layer's row 2 (its weights and its
    bias); the same prior without the option, or with the dataset ablated, ignores the change."""
    import dataclasses

    import symm

    space = symm.WeightSpace.mlp((4, 3, 5), "relu")  # 12 + 3 hidden, then 15 + 5 output entries
    config = dataclasses.replace(TINY, layers=0, context=40, dataset_per_class=True, dataset_at_output_rows=True)
    cond = _with_segments(_cond(0), space)
    absent = eqx.tree_at(lambda c: c.class_mask, cond, cond.class_mask.at[2].set(False))
    tokens = jnp.zeros(34, jnp.int32)
    row_2 = np.zeros(35, bool)
    row_2[[15 + 2 * 3 + j for j in range(3)] + [30 + 2]] = True  # W[2, :] and b[2] of the output layer
    run = lambda model, c: np.asarray(_run(model, tokens, jnp.int32(0), c))
    prior = Prior(V, config, key=jax.random.key(0))
    changed = np.any(np.abs(run(prior, absent) - run(prior, cond)) > 1e-6, axis=-1)
    np.testing.assert_array_equal(changed, row_2)
    for off in (dict(dataset_at_output_rows=False), dict(use_dataset=False)):
        other = Prior(V, dataclasses.replace(config, **off), key=jax.random.key(0))
        np.testing.assert_array_equal(run(other, absent), run(other, cond))


def _with_init(cond, tokens):
    return eqx.tree_at(lambda c: c.init_tokens, cond, jnp.asarray(tokens, jnp.int32))


def test_the_initialisation_token_of_a_position_reaches_exactly_that_position_and_its_successors():
    """``read_init``: changing the initialisation's token at position q changes the logits that predict
    q and (through attention) later positions, never earlier ones; past the end it reads "none"; a
    prior without the option ignores it."""
    import dataclasses

    config = dataclasses.replace(TINY, context=16, read_init=True)
    prior = Prior(V, config, key=jax.random.key(0))
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, V, 12), jnp.int32)
    init = np.random.default_rng(1).integers(0, V, 12)
    changed = init.copy()
    changed[7] = (init[7] + 1) % V
    start = 2  # row i predicts position start + i
    la, lb = (np.asarray(_run(prior, tokens[:10], jnp.int32(start), _with_init(_cond(0), t))) for t in (init, changed))
    np.testing.assert_array_equal(la[: 7 - start], lb[: 7 - start])
    assert np.all(np.any(np.abs(la[7 - start :] - lb[7 - start :]) > 1e-6, axis=-1))
    # Positions beyond the initialisation's length read the "none" row, as an explicit -1 does.
    short = np.asarray(_run(prior, tokens[:10], jnp.int32(start), _with_init(_cond(0), init[:9])))
    padded = np.asarray(_run(prior, tokens[:10], jnp.int32(start), _with_init(_cond(0), np.r_[init[:9], -1, -1, -1])))
    np.testing.assert_array_equal(short, padded)
    plain = Prior(V, dataclasses.replace(config, read_init=False), key=jax.random.key(0))
    np.testing.assert_array_equal(*(np.asarray(_run(plain, tokens[:10], jnp.int32(start), _with_init(_cond(0), t)))
                                    for t in (init, changed)))


def test_reading_the_initialisation_needs_a_per_weight_tokeniser_and_a_fixed_seed_zoo():
    from models.igpg import TokeniserConfig
    from models.igpg._pipeline import IgpgConfig, ZooEntry, entry_conditioning
    from models.igpg._tasks import classes_only
    from models.zoo import load_source

    with pytest.raises(ValueError, match=r"PriorConfig\(read_init=True\) needs TokeniserConfig\(per_weight=True\)"):
        IgpgConfig(TokeniserConfig(), PriorConfig(read_init=True))
    config = IgpgConfig(TokeniserConfig(chunk_size=4, tokens_per_chunk=4, per_weight=True), PriorConfig(read_init=True))
    task = classes_only(load_source("digits"), (0, 1, 2))
    arch = Architecture.parse("mlp dense-3 dense-10 tanh")
    space = arch.space(64)
    params = jax.tree.map(lambda a: a[None], space.init(jax.random.key(0)))
    with pytest.raises(ValueError, match="needs fixed-seed zoos.*shared_init=True"):
        entry_conditioning(ZooEntry(task, arch, params), None, config)


def test_the_cosine_schedule_warms_up_decays_and_clips():
    from models.igpg._fit import optimiser_for

    params = {"w": jnp.zeros(3)}
    grads = {"w": jnp.asarray([30.0, 40.0, 0.0])}  # norm 50: clipped to 1
    opt = optimiser_for("cosine", 1e-2, 100)
    state = opt.init(params)
    steps = []
    with jax.numpy_dtype_promotion("standard"):  # as fit_scanned runs it: optax mixes floats and int32 counts
        for _ in range(100):
            update, state = opt.update(grads, state, params)
            steps.append(float(-update["w"][0]))
    # Adam's first step moves each coordinate by ~lr whatever the gradient's size: the step is the rate.
    assert steps[0] == 0.0 and steps[5] == pytest.approx(1e-2, rel=1e-3)
    assert steps[-1] == pytest.approx(1e-2 / 20, rel=0.05) and steps[-1] < steps[50] < steps[5]
    constant = optimiser_for("constant", 1e-2, 100)
    with jax.numpy_dtype_promotion("standard"):
        update, _ = constant.update(grads, constant.init(params), params)
    assert float(-update["w"][0]) == pytest.approx(1e-2, rel=1e-3)
    # Clipping: Adam fed the clipped gradients by hand (norm 50 -> 1, norm 0.5 kept) moves as the
    # schedule does, and differs from Adam fed them raw.
    import optax

    rate = optax.warmup_cosine_decay_schedule(0.0, 1e-2, 5, 100, end_value=1e-2 / 20)
    small = {"w": jnp.asarray([0.3, 0.4, 0.0])}
    with jax.numpy_dtype_promotion("standard"):
        def two_steps(optimiser, first, second):
            state = optimiser.init(params)
            for g in (first, first, second):
                update, state = optimiser.update(g, state, params)
            return np.asarray(update["w"])

        clipped = two_steps(opt, grads, small)
        by_hand = two_steps(optax.adam(rate), {"w": grads["w"] / 50.0}, small)
        raw = two_steps(optax.adam(rate), grads, small)
    np.testing.assert_allclose(clipped, by_hand, rtol=1e-6)
    assert np.abs(clipped - raw).max() > 1e-2 * np.abs(raw).max()
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        PriorConfig(schedule="linear")
