"""A mirror of the ScaleGMN update rules on numpy arrays, run with sympy symbols.

``mirror_run`` re-implements ``GMNEncoder.embed`` and ``GMNLayer.__call__`` for the
constructed model (constant gates, which is all the construction uses) on numpy
arrays whose entries may be floats or sympy expressions. A test runs it in float64
and compares with the jax model, so the two stay in sync; run with sympy symbols for
every weight, bias, input and target it proves the theorem for an architecture:
every vertex state minus the network's own expression is exactly 0.
"""

from __future__ import annotations

import dataclasses
import fractions
import functools
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np
import sympy

from models.graph import Layout

from proofs._construct import construct
from proofs._simulate import loss_coefficients


# ------------------------------------------------------------------ the mirror
@functools.lru_cache(maxsize=None)
def _rational(v: float) -> sympy.Rational:
    frac = fractions.Fraction(v).limit_denominator(10**6)
    if float(frac) != v:
        raise ValueError(f"parameter {v!r} has no short exact rational form")
    return sympy.Rational(frac.numerator, frac.denominator)


def _exact(a) -> np.ndarray:
    """A parameter array as exact rationals (the construction only uses simple numbers)."""
    a = np.asarray(a, dtype=np.float64)
    return np.array([_rational(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape)


def _linear(W, v):
    """A bias-free linear map on the last axis (W: [out, in], as in eqx.nn.Linear)."""
    return v @ W.T


def _const_gate(mlp, cv) -> np.ndarray:
    """An InvariantMLP whose last layer has zero weights is the constant ``last.bias``."""
    if np.any(np.asarray(mlp.last.weight) != 0):
        raise NotImplementedError("the symbolic mirror covers constant gates only (last-layer weights all 0)")
    return cv(mlp.last.bias)


def _scale_eq(block, v, cv):
    """ScaleEq = Γv ⊙ gate(invariants); zero when Γ = 0 (the gate is then never needed)."""
    g = cv(block.gamma.layer.weight)
    if not np.any(g != 0):
        return np.zeros(v.shape[:-1] + (g.shape[0],), dtype=v.dtype) * 0
    return _linear(g, v) * _const_gate(block.gate, cv)


@dataclasses.dataclass
class MirrorState:
    x: list
    h: list
    delta: list | None
    edges: list


def mirror_run(model, graph_vertices, graph_edges, sigma: Callable, dsigma: Callable, *, exact: bool) -> MirrorState:
    """The constructed model on numpy arrays (float or sympy object): embed, then every layer.

    ``sigma`` / ``dsigma`` act elementwise on an array (the layer's σ and σ'); ``exact=True``
    turns the model's parameters into sympy rationals.
    """
    cv = _exact if exact else (lambda a: np.asarray(a, dtype=np.float64))
    layout: Layout = model.layout
    L = layout.num_layers
    bidir = model.bidirectional
    xs, hs, ds = [], [], []
    for l in range(L + 1):
        v = _linear(cv(model.embed_vertex.layer.weight), graph_vertices[l])
        if l in (0, L):
            x = v + cv(model.pe_in if l == 0 else model.pe_out)
            h = x
            if l == L and bidir:
                d = _linear(cv(model.init_delta.weight), x) + cv(model.init_delta.bias)
            else:
                d = x * 0
        else:
            x = v * cv(model.pe_hidden[l - 1])
            h = sigma(l, _linear(cv(model.init_h.gamma.layer.weight), x))
            d = x * 0
        xs.append(x)
        hs.append(h)
        ds.append(d)
    edges = []
    for l in range(1, L + 1):
        e = _linear(cv(model.embed_edge.layer.weight), graph_edges[l - 1]) * cv(model.pe_edge[l - 1])
        if l == 1:
            e = e * cv(model.pe_edge_in)[None]
        if l == L:
            e = e * cv(model.pe_edge_out)[:, None]
        edges.append(e)
    state = MirrorState(xs, hs, ds if bidir else None, edges)
    steps = model.n_layers
    for t in range(steps):  # the encoder stacks its steps' parameters on a leading axis
        layer = jax.tree.map(lambda a: a[t] if eqx.is_array(a) else a, model.layers)
        state = _mirror_layer(layer, state, layout, sigma, dsigma, cv)
    return state


def _mirror_layer(layer, s: MirrorState, layout: Layout, sigma, dsigma, cv) -> MirrorState:
    L = layout.num_layers
    bidir = s.delta is not None
    fw = [s.x[0] * 0]
    for l in range(1, L + 1):
        raw = _linear(cv(layer.message.left.layer.weight), s.edges[l - 1]) * _linear(
            cv(layer.message.right.layer.weight), s.h[l - 1]
        )[None]
        fw.append(_scale_eq(layer.message_eq, raw, cv).sum(axis=1))
    back = None
    if bidir:
        back = []
        for l in range(L):
            e = _linear(cv(layer.backward.left.layer.weight), s.edges[l])
            dl = _linear(cv(layer.backward.right.layer.weight), s.delta[l + 1])
            back.append((e * dl[:, None]).sum(axis=0))
        back.append(s.x[L] * 0)
    new_x, new_h, new_d = [], [], []
    for l in range(L + 1):
        x, h = s.x[l], s.h[l]
        if 0 < l < L:
            u = np.concatenate([x, fw[l]], axis=-1)
            x2 = _linear(cv(layer.skip_x.layer.weight), x) + _scale_eq(layer.update_x, u, cv)
            h2 = sigma(l, _linear(cv(layer.activation.gamma.layer.weight), u)) + _scale_eq(layer.update_h, h, cv)
            d2 = x * 0
            if bidir:
                d2 = dsigma(l, _linear(cv(layer.derivative.gamma.layer.weight), u)) * _linear(
                    cv(layer.back_gamma.layer.weight), back[l]
                ) + _scale_eq(layer.update_delta, s.delta[l], cv)
        else:
            streams = [x, h] + ([s.delta[l]] if bidir else [])
            incoming = [fw[l]] + ([back[l]] if bidir else [])
            I = np.concatenate(streams + incoming, axis=-1)
            mlp = layer.update_in if l == 0 else layer.update_out
            linear = layer.linear_in if l == 0 else layer.linear_out
            o = _const_gate(mlp, cv) + (_linear(cv(linear.layer.weight), I) if linear is not None else 0)
            out = np.split(o, len(streams), axis=-1)
            x2, h2 = x + out[0], h + out[1]
            d2 = s.delta[l] + out[2] if bidir else x * 0
        new_x.append(x2)
        new_h.append(h2)
        new_d.append(d2)
    new_e = [_linear(cv(layer.edge_gamma.layer.weight), e) * _const_gate(layer.edge_gate, cv) for e in s.edges]
    return MirrorState(new_x, new_h, new_d if bidir else None, new_e)


def mirror_graph(sizes, params, xs, targets):
    """Vertex and edge features as in ``proofs.probe_graph``, on numpy (float or object) arrays."""
    P = xs.shape[0]
    L = len(sizes) - 1
    zero = xs.flat[0] * 0
    vertices = [np.concatenate([np.full((sizes[0], 1), zero), xs.T, np.full((sizes[0], P), zero)], axis=1)]
    for l in range(1, L + 1):
        b = params[l - 1][1][:, None]
        aux = targets.T if l == L else np.full((sizes[l], P), zero)
        vertices.append(np.concatenate([b, np.full((sizes[l], P), zero), aux], axis=1))
    edges = [w[:, :, None] for w, _ in params]
    return vertices, edges


# ------------------------------------------------------------------ symbolic theorem instances
@dataclasses.dataclass
class Instance:
    """One symbolic run: the simulated and the network's own expressions per quantity."""

    sizes: tuple[int, ...]
    activation: str
    rows: list  # (quantity, simulated, network, difference)

    @property
    def proved(self) -> bool:
        return all(diff == 0 for *_, diff in self.rows)


def _zero_difference(a, b):
    d = sympy.expand(a - b)
    if d != 0:
        d = sympy.simplify(sympy.expand(sympy.expand_func(d).doit()))
    return d


def prove(sizes, activation=None) -> Instance:
    """Forward and backward simulation of a ``sizes`` MLP with symbols everywhere.

    ``activation=None``: a generic σ (an undefined sympy function), so the proof holds for
    every activation; otherwise a registry activation. One probe point, MSE loss.
    """
    import symm

    sizes = tuple(int(n) for n in sizes)
    L = len(sizes) - 1
    z = sympy.Symbol("z", real=True)
    if activation is None:
        name, sig = "sigma", sympy.Function("sigma")
        expr = sig(z)
        layout_act = "identity"  # the layout's own σ is never used by the mirror
    else:
        act = symm.get_activation(activation)
        name, expr, layout_act = act.name, act.expr.subs(symm.x, z), act
    dexpr = sympy.diff(expr, z)

    if activation is None:
        def sig_fn(t):
            return sig(t)

        def dsig_fn(t):
            return sympy.diff(sig(z), z).subs(z, t)
    else:
        def sig_fn(t):
            return expr.subs(z, t)

        def dsig_fn(t):
            return dexpr.subs(z, t)

    sigma = np.vectorize(sig_fn, otypes=[object])
    dsigma = np.vectorize(dsig_fn, otypes=[object])

    params = []
    for l in range(1, L + 1):
        W = np.array([[sympy.Symbol(f"w{l}_{i}{j}", real=True) for j in range(sizes[l - 1])] for i in range(sizes[l])], dtype=object)
        b = np.array([sympy.Symbol(f"b{l}_{i}", real=True) for i in range(sizes[l])], dtype=object)
        params.append((W, b))
    xs = np.array([[sympy.Symbol(f"x{j}", real=True) for j in range(sizes[0])]], dtype=object)
    ys = np.array([[sympy.Symbol(f"y{o}", real=True) for o in range(sizes[-1])]], dtype=object)

    space = symm.WeightSpace.mlp(sizes, layout_act)
    coeffs = loss_coefficients(None, 1, sizes[-1])
    fw_model = construct(space, 1)
    bw_model = construct(space, 1, loss=coeffs)
    vertices, edges = mirror_graph(sizes, params, xs, ys)
    fw = mirror_run(fw_model, vertices, edges, lambda l, t: sigma(t), lambda l, t: dsigma(t), exact=True)
    bw = mirror_run(bw_model, vertices, edges, lambda l, t: sigma(t), lambda l, t: dsigma(t), exact=True)

    # the network's own expressions; offsets t on every pre-activation give ∂L/∂z
    offsets = [[sympy.Symbol(f"t{l}_{i}", real=True) for i in range(sizes[l])] for l in range(1, L + 1)]
    h = [list(xs[0])]
    for l, (W, b) in enumerate(params, start=1):
        zs = [sum(W[i, j] * h[-1][j] for j in range(sizes[l - 1])) + b[i] + offsets[l - 1][i] for i in range(sizes[l])]
        h.append([sig_fn(zi) for zi in zs] if l < L else zs)
    loss = sum((h[-1][o] - ys[0, o]) ** 2 for o in range(sizes[-1])) / sizes[-1]
    at_zero = {t: 0 for row in offsets for t in row}

    rows = []
    for l in range(1, L + 1):
        for i in range(sizes[l]):
            net = h[l][i].subs(at_zero)
            rows.append((f"forward h[{l}][{i}]", fw.h[l][i, 0], net, _zero_difference(fw.h[l][i, 0], net)))
    for l in range(1, L + 1):
        for i in range(sizes[l]):
            net = sympy.diff(loss, offsets[l - 1][i]).subs(at_zero)
            rows.append((f"backward δ[{l}][{i}] = ∂L/∂z", bw.delta[l][i, 0], net, _zero_difference(bw.delta[l][i, 0], net)))
    for l, (W, _) in enumerate(params, start=1):
        for i in range(sizes[l]):
            for j in range(sizes[l - 1]):
                sim = bw.delta[l][i, 0] * bw.h[l - 1][j, 0]
                net = sympy.diff(loss, W[i, j]).subs(at_zero)
                rows.append((f"edge δ[{l}][{i}]·h[{l - 1}][{j}] = ∂L/∂W{l}[{i},{j}]", sim, net, _zero_difference(sim, net)))
    return Instance(sizes, name, rows)


# ------------------------------------------------------------------ certificates
THEOREM_SIZES = ((1, 2, 1), (2, 3, 1), (2, 2, 2, 1))
ACTIVATION_SIZES = (1, 2, 1)


def certified_activations() -> list[str]:
    """Registry activations with a linear group (the theorem's condition), trivial included."""
    import symm

    return [n for n in symm.registry_names() if symm.derive(n).is_linear]


def _arch(sizes) -> str:
    return "-".join(str(n) for n in sizes)


def certificate_text(inst: Instance) -> str:
    """A readable certificate: the statement, the construction, and every checked identity."""
    import symm

    arch = _arch(inst.sizes)
    L = len(inst.sizes) - 1
    lines = [
        f"Simulation theorem, symbolic certificate: MLP {arch}, activation {inst.activation}",
        "",
        "Claim. The ScaleGMN built by proofs.construct (library modules models.gmn.GMNEncoder/GMNLayer,",
        f"hand-set parameters) reproduces after {L} steps every post-activation of the network, and the",
        f"bidirectional one after {2 * L} steps every ∂L/∂z (vertex states) and ∂L/∂W = δ_i·h_j (edge outputs),",
        "for L = mean squared error at one probe point, with symbols for all weights, biases, inputs, targets.",
    ]
    if inst.activation == "sigma":
        lines.append("σ is an undefined function: the identities hold for every activation.")
    else:
        sym = symm.derive(inst.activation)
        lines.append(
            f"σ = {symm.get_activation(inst.activation).expr}; derived group {sym.group}, φ(q) = {sym.character}; "
            "the activation block σ(Γx) is equivariant q → φ(q) because σ(q z) = φ(q) σ(z)."
        )
    lines += [
        "Construction: messages w_ij·h_j (ReScaleEq, gate 1); hidden update σ(b_i + Σ_j w_ij h_j) by the",
        "activation block; output update b_i + Σ_j w_ij h_j (linear I/O path); backward message w_ij·δ_i times",
        "the derivative block σ'(b_j + Σ w h); output δ = α(z − y), α = 2/n_out.",
        "",
        "Each line: quantity, simulated expression, simulated − network (simplified).",
    ]
    for name, sim, _net, diff in inst.rows:
        lines.append(f"  {name}: {sympy.sstr(sim)}  ->  difference {sympy.sstr(diff)}")
    lines += ["", f"Result: {'PROVED (every difference is exactly 0)' if inst.proved else 'NOT PROVED'}", ""]
    return "\n".join(lines)


def certificates(activations=None, theorem_sizes=THEOREM_SIZES) -> dict[str, str]:
    """File name → certificate text: one per theorem instance (generic σ), one per activation."""
    out = {}
    for sizes in theorem_sizes:
        out[f"theorem_{_arch(sizes)}.txt"] = certificate_text(prove(sizes))
    for name in certified_activations() if activations is None else activations:
        out[f"activation_{name}.txt"] = certificate_text(prove(ACTIVATION_SIZES, name))
    return out


def write_certificates(directory, *, progress: bool = True) -> list[str]:
    """Regenerate every certificate under ``directory``; returns the file names."""
    import pathlib

    from tqdm import tqdm

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    jobs = [("theorem", s) for s in THEOREM_SIZES] + [("activation", n) for n in certified_activations()]
    names = []
    for kind, arg in tqdm(jobs, desc="certificates", disable=not progress):
        text = certificates([arg], ()) if kind == "activation" else certificates([], (arg,))
        for name, body in text.items():
            (directory / name).write_text(body, encoding="utf-8")
            names.append(name)
    return names
