"""The verification example runs end to end at a tiny size and reaches the documented verdicts."""

from examples.verify_equivariance import main


def test_example_verdicts():
    reports = main(sizes=(2, 3, 1), n=4, n_inputs=4)
    assert reports["preserved"].passed
    assert reports["invariant"].passed
    assert not reports["planted"].passed and reports["planted"].reason is None  # fails on its error
    assert reports["planted"].max_rel_error > 1e-3
