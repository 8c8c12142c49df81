"""IGPG tokeniser: exact chunk/pad/unpad round trip, and a VQ-VAE that beats the zoo-mean baseline."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symm
from models.igpg import ChunkLayout, Tokeniser, TokeniserConfig, normalised_chunks, train_vqvae, vq_loss


@st.composite
def spaces(draw):
    if draw(st.booleans()):
        depth = draw(st.integers(1, 3))
        sizes = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
        return symm.WeightSpace.mlp(sizes, "relu" if depth > 1 else ())
    channels = draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))
    return symm.WeightSpace.cnn(channels=channels, dense=(draw(st.integers(1, 3)),), kernel_size=draw(st.sampled_from([1, 3])),
                                activations="tanh")


@st.composite
def layouts_and_flat(draw):
    space = draw(spaces())
    layout = ChunkLayout(space, draw(st.integers(1, 9)))
    flat = draw(hnp.arrays(np.float64, layout.num_params, elements=st.floats(-1e6, 1e6, allow_nan=False)))
    return layout, flat


@settings(deadline=None, max_examples=25)
@given(layouts_and_flat())
def test_chunk_pad_unpad_round_trip_is_exact(case):
    layout, flat = case
    params = layout.unflatten(flat)  # numpy arrays: the host-side path, no compilation per shape
    layout.space.validate(params)
    chunks = layout.chunk(params)
    assert chunks.shape == (layout.num_chunks, layout.chunk_size)
    mask = layout.mask()
    assert int(mask.sum()) == layout.num_params and 0 <= layout.pad < layout.chunk_size
    # Chunks hold the parameters in the fixed order W0, b0, W1, b1, ... and zeros on the padding.
    np.testing.assert_array_equal(np.asarray(chunks)[mask], flat)
    assert np.all(np.asarray(chunks)[~mask] == 0)
    back = layout.unchunk(chunks)
    for (w, b), (w2, b2) in zip(params, back):
        np.testing.assert_array_equal(np.asarray(w), np.asarray(w2))
        np.testing.assert_array_equal(np.asarray(b), np.asarray(b2))
    # The batched path agrees with the single-network one.
    stacked = jax.tree.map(lambda a: np.stack([a, -a]), params)
    np.testing.assert_array_equal(np.asarray(layout.chunk_batch(stacked)[1]), -np.asarray(chunks))


@settings(deadline=None, max_examples=10)
@given(spaces(), st.integers(1, 9))
def test_weight_coordinates_say_where_every_weight_sits(space, chunk_size):
    """Each flat entry's (layer from the output, weight/bias, row, column, kernel offset), from its array's shape."""
    from models.igpg._layout import weight_coordinates

    layout = ChunkLayout(space, chunk_size)
    expected = []
    shapes = space.param_shapes
    for i, (w_shape, b_shape) in enumerate(shapes):
        for index in np.ndindex(*w_shape):
            kernel = np.ravel_multi_index(index[2:], w_shape[2:]) if len(w_shape) > 2 else 0
            expected.append((len(shapes) - 1 - i, 0, index[0], index[1], kernel))
        expected.extend((len(shapes) - 1 - i, 1, r, 0, 0) for r in range(b_shape[0]))
    # One fixed length of positions (the segment table's shape is fixed too), so every example
    # reuses one compiled coordinate map; positions past the network read as padding.
    positions = 8192
    assert layout.num_params + 3 <= positions
    got = np.asarray(weight_coordinates(jnp.asarray(layout.segments()), jnp.arange(positions, dtype=jnp.int32)))
    np.testing.assert_array_equal(got[: layout.num_params], np.array(expected))
    assert np.all(got[layout.num_params :, 1] == 2) and np.all(got[layout.num_params :, [0, 2, 3, 4]] == 0)


def test_weight_coordinates_refuse_too_deep_a_network():
    with pytest.raises(ValueError, match="weight coordinates cover at most 32"):
        ChunkLayout(symm.WeightSpace.mlp((2,) * 34, "relu"), 4).segments()


def test_layer_order_is_that_of_the_weight_space():
    space = symm.WeightSpace.mlp((2, 3, 1), "relu")
    layout = ChunkLayout(space, 4)
    params = layout.unflatten(jnp.arange(13.0))
    np.testing.assert_array_equal(np.asarray(params[0][0]), np.arange(6.0).reshape(3, 2))  # W0 first, C order
    np.testing.assert_array_equal(np.asarray(params[0][1]), [6.0, 7.0, 8.0])  # then b0
    np.testing.assert_array_equal(np.asarray(params[1][0]), [[9.0, 10.0, 11.0]])
    assert layout.num_chunks == 4 and layout.pad == 3
    # The jax path (used inside generation) is the same map.
    chunks = layout.chunk(params)
    assert isinstance(chunks, jax.Array)
    np.testing.assert_array_equal(np.asarray(chunks).ravel(), np.r_[np.arange(13.0), 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(layout.unchunk(chunks)[1][1]), [12.0])


def test_wrong_shapes_give_one_clear_error():
    layout = ChunkLayout(symm.WeightSpace.mlp((2, 3, 1), "relu"), 4)
    bad = ((jnp.zeros((3, 2)), jnp.zeros(3)), (jnp.zeros((2, 3)), jnp.zeros(2)))
    with pytest.raises(ValueError, match=r"layer 1: W should have shape \(1, 3\), got \(2, 3\)"):
        layout.chunk(bad)
    with pytest.raises(ValueError, match="takes 4 chunks of 4 values"):
        layout.unchunk(jnp.zeros((3, 4)))


def _init_zoo(space, n, seed):
    """A zoo of ``n`` independent initialisations: no shared structure the codebook could exploit."""
    return jax.vmap(lambda k: space.init(k))(jax.random.split(jax.random.key(seed), n))


def test_tokeniser_reconstructs_a_tiny_zoo_better_than_the_zoo_mean():
    spaces_ = [symm.WeightSpace.mlp((3, 4, 2), "relu"), symm.WeightSpace.cnn((1, 2), (2,), 3, "relu")]
    config = TokeniserConfig(chunk_size=4, tokens_per_chunk=4, codebook_size=32, code_dim=4, hidden=32,
                             steps=300, batch_size=128, lr=3e-3)
    layouts = [ChunkLayout(s, config.chunk_size) for s in spaces_]
    zoos = [_init_zoo(s, 24, seed) for seed, s in enumerate(spaces_)]
    chunks = np.concatenate([np.asarray(normalised_chunks(l, z, batched=True)).reshape(-1, 4) for l, z in zip(layouts, zoos)])
    masks = np.concatenate([np.tile(l.mask(), (24, 1)) for l in layouts])
    vqvae, history = train_vqvae(chunks, masks, config, key=jax.random.key(0), progress=False)
    tokeniser = Tokeniser(vqvae)
    assert history["reconstruction"][-20:].mean() < history["reconstruction"][:20].mean()
    for layout, zoo in zip(layouts, zoos):
        flat = np.stack([np.asarray(layout.flatten(jax.tree.map(lambda a: a[i], zoo))) for i in range(24)])
        recon = jax.vmap(lambda p: layout.flatten(tokeniser.reconstruct(layout, p)))(zoo)
        mse = float(np.mean((np.asarray(recon) - flat) ** 2))
        # Chance: predict every network by the zoo's own mean network (it even sees the test set).
        chance = float(np.mean((flat - flat.mean(0)) ** 2))
        assert mse < 0.5 * chance, (mse, chance)
        tokens = tokeniser.encode_batch(layout, zoo)
        assert tokens.shape == (24, layout.num_chunks * 4) and tokens.dtype == jnp.int32
        assert int(tokens.min()) >= 0 and int(tokens.max()) < 32


def test_vq_loss_counts_only_real_entries():
    from models.igpg import VQVAE

    model = VQVAE(3, tokens_per_chunk=1, codebook_size=4, code_dim=2, hidden=8, key=jax.random.key(1))
    x = jnp.array([[0.5, -0.2, 0.0]])
    mask = jnp.array([[True, True, False]])

    @jax.jit
    def both(x, mask):
        _, parts = vq_loss(model, x, mask, 0.5, jax.random.key(2))
        recon, _, _ = model(x[0], temperature=0.5, key=jax.random.split(jax.random.key(2), 1)[0])
        return parts["reconstruction"], recon

    rec, recon = both(x, mask)
    # The mean runs over the two real entries only; the padded slot's error is not counted.
    assert float(rec) == pytest.approx(float(jnp.sum((recon[:2] - x[0, :2]) ** 2) / 2), rel=1e-12)
    assert float(rec) != pytest.approx(float(jnp.mean((recon - x[0]) ** 2)), rel=1e-6)


@settings(deadline=None, max_examples=15)
@given(layouts_and_flat())
def test_companded_chunks_invert_exactly(case):
    """``params_from_normalised`` undoes ``normalised_chunks`` (scales, then ``sign·log1p``) to rounding."""
    from models.igpg import params_from_normalised

    layout, flat = case
    params = layout.unflatten(flat)
    chunks = normalised_chunks(layout, params)
    values = np.asarray(chunks)[layout.mask()]
    # Companded: ``|v| = log(1 + |θ|/s)``, so a weight a million times its layer's scale is about 14.
    assert np.all(np.abs(values) <= np.log1p(np.abs(flat) / layout.scales()) + 1e-12)
    back = layout.flatten(params_from_normalised(layout, chunks))
    np.testing.assert_allclose(np.asarray(back), flat, rtol=1e-12, atol=1e-300)


def test_the_reconstruction_gradient_reaches_the_encoder_at_the_coldest_temperature():
    """Straight through: at τ = 1e-3 the decoder reads the nearest code and the encoder still learns."""
    import equinox as eqx

    from models.igpg import VQVAE

    model = VQVAE(4, tokens_per_chunk=4, codebook_size=8, code_dim=1, hidden=8, key=jax.random.key(0))
    chunk = jnp.array([0.3, -1.2, 0.7, 2.0])
    key = jax.random.key(1)
    recon, z_e, q = model(chunk, temperature=1e-3, key=key)
    nearest = model.codebook[model.tokens(chunk)]
    np.testing.assert_allclose(np.asarray(q), np.asarray(nearest), atol=1e-12)
    np.testing.assert_allclose(np.asarray(recon), np.asarray(model.decode_tokens(model.tokens(chunk))), atol=1e-12)
    grads = eqx.filter_grad(lambda m: jnp.sum((m(chunk, temperature=1e-3, key=key)[0] - chunk) ** 2))(model)
    assert float(jnp.max(jnp.abs(grads.encoder.layers[0].weight))) > 1e-6
    # Through the softmax alone (no straight-through path) the encoder's gradient vanishes there.
    soft = lambda m: jnp.sum((m.decoder(jnp.ravel(jax.nn.softmax(m.logits(m.encode(chunk)) / 1e-3, -1) @ m.codebook)) - chunk) ** 2)
    assert float(jnp.max(jnp.abs(eqx.filter_grad(soft)(model).encoder.layers[0].weight))) < 1e-6


@settings(deadline=None, max_examples=10)
@given(hnp.arrays(np.float64, 6, elements=st.floats(-3, 3)), st.integers(0, 5), st.floats(0.5, 2.0))
def test_a_per_weight_tokeniser_keeps_each_token_to_its_own_weight(chunk, index, shift):
    """Moving one weight can change only its own token, and one token only its own weight."""
    from models.igpg import VQVAE

    model = VQVAE(6, tokens_per_chunk=6, codebook_size=16, code_dim=1, hidden=8, per_weight=True,
                  dtype=jnp.float64, key=jax.random.key(3))
    chunk = jnp.asarray(chunk)
    moved = chunk.at[index].add(shift)
    tokens, moved_tokens = model.tokens(chunk), model.tokens(moved)
    others = np.arange(6) != index
    np.testing.assert_array_equal(np.asarray(tokens)[others], np.asarray(moved_tokens)[others])
    changed = tokens.at[index].set((tokens[index] + 1) % 16)
    diff = np.asarray(model.decode_tokens(changed) - model.decode_tokens(tokens))
    assert np.all(diff[others] == 0) and diff[index] != 0
    # A chunk-wide tokeniser of the same sizes mixes the chunk: one moved weight moves every decoded value.
    wide = VQVAE(6, tokens_per_chunk=6, codebook_size=16, code_dim=1, hidden=8, dtype=jnp.float64, key=jax.random.key(3))
    wide_diff = np.asarray(wide.decode_tokens(changed) - wide.decode_tokens(tokens))
    assert np.all(wide_diff[others] != 0)


def test_a_per_weight_tokeniser_needs_one_token_per_weight():
    from models.igpg import VQVAE

    for build in (lambda: VQVAE(8, tokens_per_chunk=4, per_weight=True, key=jax.random.key(0)),
                  lambda: TokeniserConfig(chunk_size=8, tokens_per_chunk=4, per_weight=True)):
        with pytest.raises(ValueError, match="tokens_per_chunk must equal chunk_size 8, got 4"):
            build()
