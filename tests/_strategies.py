"""Hypothesis strategies shared by test files (imported as ``_strategies``: pytest puts tests/ on the path)."""

from hypothesis import strategies as st

import symm


@st.composite
def mlp_spaces(draw, *, depths: tuple[int, int], widths: tuple[int, int], activations: list[str]):
    """``WeightSpace.mlp`` with ``depths`` weight layers, ``widths`` neurons per layer, one activation per hidden layer."""
    depth = draw(st.integers(*depths))
    sizes = draw(st.lists(st.integers(*widths), min_size=depth + 1, max_size=depth + 1))
    acts = draw(st.lists(st.sampled_from(activations), min_size=depth - 1, max_size=depth - 1))
    return symm.WeightSpace.mlp(sizes, acts)
