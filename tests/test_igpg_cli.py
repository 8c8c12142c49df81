"""`symm igpg`: registered, and bad input ends in one line with exit code 2 (nothing is trained first)."""

import pytest

import symm.cli


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["igpg", "train", "--out", "{tmp}/m", "--arch", "cnn conv3x3-8 dense-10 relu"], "cannot parse architecture"),
        (["igpg", "train", "--out", "{tmp}/m", "--source", "nowhere"], "unknown source 'nowhere'"),
        (["igpg", "generate", "{tmp}/none", "--arch", "cnn conv3x3-8 gap dense-10 relu"], "no trained generator here"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, expected, tmp_path, capsys):
    code = symm.cli.main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and expected in err and "\n" not in err and err.startswith("symm igpg: error:")


def test_igpg_is_a_registered_subcommand(capsys):
    with pytest.raises(SystemExit):
        symm.cli.main(["igpg", "--help"])
    assert "generate" in capsys.readouterr().out


@pytest.mark.parametrize("per_weight", [False, True])
def test_saved_generator_loads_back_leaf_for_leaf(per_weight, tmp_path):
    import jax
    import numpy as np

    from models.igpg import PriorConfig, TokeniserConfig
    from models.igpg._io import _skeleton, load_generator, save_generator

    tok = TokeniserConfig(chunk_size=4, tokens_per_chunk=4 if per_weight else 2, codebook_size=8, code_dim=2, hidden=8,
                          per_weight=per_weight)
    prior = PriorConfig(d_model=8, heads=2, layers=1, context=4, max_positions=16)
    # The per-weight case is a residual generator, with one architecture's mean network.
    bases = {"mlp dense-2 dense-3 tanh": [[[2, 5], [2]], [[3, 2], [3]]]} if per_weight else None
    generator = _skeleton(tok, prior, np.float64, bases)
    generator = jax.tree.map(lambda a: a + 1.0 if hasattr(a, "dtype") and a.dtype == np.float64 else a, generator)
    save_generator(tmp_path, generator, tok, prior, {"canonicalise": True})
    loaded, meta = load_generator(tmp_path)
    assert meta["canonicalise"] is True and meta["tokeniser"]["codebook_size"] == 8
    assert loaded.tokeniser.vqvae.per_weight is per_weight
    assert list(loaded.bases) == list(bases or {})
    for a, b in zip(jax.tree_util.tree_leaves(generator), jax.tree_util.tree_leaves(loaded)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_residual_generator_refuses_an_architecture_it_has_no_mean_of_in_one_line(tmp_path, capsys):
    import numpy as np

    import symm.cli
    from models.igpg import PriorConfig, TokeniserConfig
    from models.igpg._io import _skeleton, save_generator

    tok = TokeniserConfig(chunk_size=4, tokens_per_chunk=2, codebook_size=8, code_dim=2, hidden=8)
    prior = PriorConfig(d_model=8, heads=2, layers=1, context=4, max_positions=16)
    known = "mlp dense-2 dense-10 tanh"
    save_generator(tmp_path, _skeleton(tok, prior, np.float64, {known: [[[2, 64], [2]], [[10, 2], [10]]]}), tok, prior)
    assert symm.cli.main(["igpg", "generate", str(tmp_path), "--arch", "mlp dense-3 dense-10 tanh"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no mean network for 'mlp dense-3 dense-10 tanh'" in err and repr(known) in err
