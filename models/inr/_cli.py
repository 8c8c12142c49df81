"""``symm inr fit|experts|strainer``: fit INRs from the command line, with plots and a JSON summary.

``register`` only builds the parser; jax and the models are imported when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

FAMILIES = ("siren", "finer", "relu-ff", "softplus", "softplus-ff")
DOMAINS = ("faces", "kodak", "photos", "digits", "mnist")


def _user_error(message):
    from symm.cli import UserError

    return UserError(message)


def _check(args, positive=(), nonnegative=()) -> None:
    """Refuse numeric options that would give a useless or crashing run, naming the option; and an
    --out that is a file."""
    out = getattr(args, "out", None)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise _user_error(f"--out {out} is a file; give a folder for the plots and the summary")
    for name in positive:
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            raise _user_error(f"--{name.replace('_', '-')} must be positive, got {value}")
    for name in nonnegative:
        value = getattr(args, name, None)
        if value is not None and not value >= 0:
            raise _user_error(f"--{name.replace('_', '-')} must be 0 or more, got {value}")


def _read_image(path: Path, size: int):
    """An image file, centre-cropped square and resized to ``size``: ``[size, size, 3]`` in [0, 1]."""
    import numpy as np
    from PIL import Image

    if path.is_dir():
        raise _user_error(f"--image {path} is a folder; give one image file (or --kodak DIR --name NAME)")
    if not path.is_file():
        raise _user_error(f"image file {path} does not exist")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            s = min(im.size)
            im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2))
            return np.asarray(im.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    except (OSError, ValueError, SyntaxError) as error:  # PIL: unidentified, truncated or corrupt files
        raise _user_error(f"cannot read {path} as an image ({error}); give a PNG, JPEG or other image file") from None


def _signal(args):
    """(kind, coords, target in [-1,1], image shape or None, label) from --image/--kodak/--audio."""
    import numpy as np

    from models.inr._data import grid, load_audio, load_kodak, to_pm1

    given = [a for a in ("image", "kodak", "audio") if getattr(args, a, None)]
    if len(given) != 1:
        raise _user_error("give exactly one of --image FILE, --kodak DIR (with --name) or --audio FILE")
    if args.audio:
        try:
            coords, amp = load_audio(args.audio)
        except (FileNotFoundError, ValueError) as e:
            raise _user_error(str(e)) from None
        return "audio", coords, amp, None, Path(args.audio).stem
    if args.kodak:
        try:
            img = load_kodak(args.kodak, names=[args.name], crop=args.size)[0]
        except (FileNotFoundError, ValueError) as e:
            raise _user_error(str(e)) from None
        label = args.name
    else:
        path = Path(args.image)
        img = _read_image(path, args.size)
        label = path.stem
    h, w, c = img.shape
    return "image", np.asarray(grid(h, w)), to_pm1(img).reshape(-1, c), img.shape, label


def _steps(args):
    _check(args, positive=("steps", "record_every", "lr", "size", "width", "depth"), nonnegative=("pretrain_steps",))
    if args.steps % args.record_every:
        raise _user_error(f"--steps {args.steps} must be a multiple of --record-every {args.record_every}")


def _write(out: Path, name: str, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list)}, indent=2))
    _say_written(out, summary.get("signal", ""))


def _say_written(out: Path, prefix: str = "") -> None:
    """Name every file this run wrote (the summary, plots, curves), so the user can find them."""
    files = sorted(p.name for p in out.iterdir() if p.is_file() and p.name.startswith(prefix))
    print(f"wrote {', '.join(files)} to {out}")


def run_fit(args) -> int:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from models.inr import _plots
    from models.inr._fit import fit
    from models.inr._layers import finer, relu_ff, siren, softplus
    from models.inr._psnr import PM1_TO_01_DB, psnr_pm1

    _steps(args)
    kind, coords, target, shape, label = _signal(args)
    coords, target = jnp.asarray(coords), jnp.asarray(target, dtype=jnp.asarray(coords).dtype)
    sizes = (coords.shape[1],) + (args.width,) * args.depth + (target.shape[1],)
    make = {"siren": siren, "finer": finer, "relu-ff": relu_ff, "softplus": softplus,
            "softplus-ff": lambda s, key: softplus(s, key=key, fourier=True)}[args.model]
    model = make(sizes, key=jax.random.key(args.seed))
    out = fit(model, coords, target, optimizer=optax.adam(args.lr), steps=args.steps,
              record_every=args.record_every, metric=psnr_pm1, progress=True, desc=f"{args.model} on {label}")
    t = out.trajectory
    dest = Path(args.out)
    summary = {"signal": label, "model": args.model, "sizes": list(sizes), "steps": args.steps,
               "psnr_pm1": float(t.metric[-1]), "psnr_01": float(t.metric[-1]) + PM1_TO_01_DB,
               "mse": float(jnp.mean((jax.vmap(out.model)(coords) - target) ** 2)),
               "trajectory_steps": t.steps.tolist(), "trajectory_psnr_pm1": t.metric.tolist()}
    _plots.psnr_curves({args.model: (t.steps, t.metric)}, dest / f"{label}_{args.model}_psnr.png",
                       title=f"{label}: PSNR ([-1,1] convention, peak max(gt))")
    if kind == "image":
        rec = np.asarray(jax.vmap(out.model)(coords)).reshape(shape)
        _plots.reconstructions((np.asarray(target).reshape(shape) + 1) / 2, {args.model: (rec + 1) / 2},
                               dest / f"{label}_{args.model}_reconstruction.png", title=label)
    _write(dest, f"{label}_{args.model}.json", summary)
    return 0


def run_experts(args) -> int:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    from models.inr import _plots
    from models.inr._experts import (
        MODELS, build, expert_map, experts_predict, needs_pretraining, param_count, pretrain_manager, train_model,
    )
    from models.inr._psnr import PM1_TO_01_DB

    _steps(args)
    stage1 = round(0.8 * args.steps)
    if stage1 % args.record_every or (args.steps - stage1) % args.record_every:
        raise _user_error(f"80% and 20% of --steps {args.steps} must be multiples of --record-every {args.record_every}")
    kind, coords, target, shape, label = _signal(args)
    coords, target = jnp.asarray(coords), jnp.asarray(target, dtype=jnp.asarray(coords).dtype)
    dest = Path(args.out)
    dest.mkdir(parents=True, exist_ok=True)
    model = build(args.model, coords.shape[1], target.shape[1], key=jax.random.key(args.seed))
    if needs_pretraining(args.model) and args.pretrain_steps:
        cache = dest / f"pretrained_{args.model}_{coords.shape[0]}pts_{args.pretrain_steps}.eqx"
        if cache.exists():  # the pretraining never sees the signal: reuse it
            model = eqx.tree_deserialise_leaves(cache, model)
        else:
            model, _ = pretrain_manager(model, coords, key=jax.random.key(args.seed + 1), steps=args.pretrain_steps,
                                        record_every=args.pretrain_steps)
            eqx.tree_serialise_leaves(cache, model)
    model, t = train_model(args.model, model, coords, target, steps=args.steps, learning_rate=args.lr,
                           record_every=args.record_every)
    summary = {"signal": label, "model": args.model, "params": param_count(model), "steps": args.steps,
               "psnr_pm1": float(t.metric[-1]), "psnr_01": float(t.metric[-1]) + PM1_TO_01_DB,
               "trajectory_steps": t.steps.tolist(), "trajectory_psnr_pm1": t.metric.tolist()}
    if kind == "audio":
        pred = experts_predict(model, coords) if hasattr(model, "experts") else jax.vmap(model)(coords)
        summary["mse"] = float(jnp.mean((pred - target) ** 2))
    _plots.psnr_curves({args.model: (t.steps, t.metric)}, dest / f"{label}_{args.model}_psnr.png",
                       title=f"{label}: PSNR ([-1,1] convention, peak max(gt))")
    if kind == "image":
        pred = experts_predict(model, coords) if hasattr(model, "experts") else jax.vmap(model)(coords)
        _plots.reconstructions((np.asarray(target).reshape(shape) + 1) / 2,
                               {args.model: (np.asarray(pred).reshape(shape) + 1) / 2},
                               dest / f"{label}_{args.model}_reconstruction.png", title=label)
        if hasattr(model, "experts"):
            _plots.expert_map(np.asarray(expert_map(model, coords)).reshape(shape[:2]),
                              dest / f"{label}_{args.model}_experts.png")
    _write(dest, f"{label}_{args.model}.json", summary)
    return 0


def load_domain(domain: str, n: int, size: int, *, start: int = 0, kodak=None):
    """``n`` images ``[n, size, size, c]`` in [0,1] of one kind (see ``DOMAINS``)."""
    from models.inr import _data

    if domain == "faces":
        return _data.lfw_faces(n, size, start=start)
    if domain == "digits":
        return _data.digits(n, size, start=start)
    if domain == "mnist":
        return _data.mnist(n, size, start=start)
    if domain == "photos":
        names = _data.SKIMAGE_PHOTOS[start:start + n]
        if len(names) < n:
            raise ValueError(f"only {len(_data.SKIMAGE_PHOTOS)} scikit-image photos; asked for {start}+{n}")
        return _data.skimage_photos(size, names)
    if domain == "kodak":
        if kodak is None:
            raise ValueError("the kodak domain needs --kodak DIR")
        imgs = _data.load_kodak(kodak, crop=size)
        if start + n > len(imgs):
            raise ValueError(f"only {len(imgs)} Kodak images; asked for {start}+{n}")
        return imgs[start:start + n]
    raise ValueError(f"unknown domain {domain!r}; choose one of {DOMAINS}")


def load_train_test(domain: str, test_domain: str, n_train: int, n_test: int, size: int, *, kodak=None):
    """STRAINER's training and held-out images; from one domain, the test images follow the training ones."""
    train = load_domain(domain, n_train, size, kodak=kodak)
    start = n_train if test_domain == domain else 0
    return train, load_domain(test_domain, n_test, size, start=start, kodak=kodak)


def run_strainer(args) -> int:
    import jax
    import numpy as np

    from models.inr import _plots
    from models.inr._strainer import METHODS, MILESTONES, strainer_protocol

    _check(args, positive=("n_train", "n_test", "size", "width", "train_steps", "test_steps", "record_every"))
    if args.test_steps % args.record_every:
        raise _user_error(f"--test-steps must be a multiple of --record-every {args.record_every}")
    test_domain = args.test_domain or args.domain
    try:
        train, test = load_train_test(args.domain, test_domain, args.n_train, args.n_test, args.size, kodak=args.kodak)
    except (ValueError, FileNotFoundError) as e:
        raise _user_error(str(e)) from None
    if train.shape[-1] != test.shape[-1]:
        gray = lambda x: x.mean(-1, keepdims=True)  # noqa: E731
        train, test = (gray(train), gray(test)) if train.shape[-1] == 3 else (train, gray(test))
    res = strainer_protocol(train, test, key=jax.random.key(args.seed), width=args.width,
                            train_steps=args.train_steps, test_steps=args.test_steps, record_every=args.record_every)
    dest = Path(args.out)
    milestones = [s for s in MILESTONES if s <= args.test_steps and s % args.record_every == 0]
    table = {m: {str(s): res.at(m, s) for s in milestones} for m in METHODS}
    summary = {"train_domain": args.domain, "test_domain": test_domain, "n_train": args.n_train,
               "n_test": args.n_test, "size": args.size, "width": args.width, "train_steps": args.train_steps,
               "test_steps": args.test_steps, "psnr_01_mean_std": table,
               # None (JSON null): the method never reached SIREN's final PSNR within --test-steps
               "steps_to_reach_siren_final": {m: _finite_or_none(res.steps_to_reach(m)) for m in METHODS}}
    print(f"PSNR ([0,1] convention) mean ± std over {args.n_test} test images")
    print("method".ljust(16) + "".join(f"{s:>13}" for s in milestones) + "  steps→SIREN@end")
    for m in METHODS:
        print(m.ljust(16) + "".join(f"{table[m][str(s)][0]:7.2f}±{table[m][str(s)][1]:<5.2f}" for s in milestones)
              + f"  {_steps_text(summary['steps_to_reach_siren_final'][m])}")
    curves = {m: (res.steps, res.psnr[m].mean(0)) for m in METHODS}
    _plots.psnr_curves(curves, dest / "strainer_transfer.png", bands={m: res.psnr[m].std(0) for m in METHODS},
                       title=f"test-time fit: {args.domain} → {test_domain} ([0,1] PSNR)")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "strainer.json").write_text(json.dumps(summary, indent=2))
    np.savez(dest / "strainer_curves.npz", steps=res.steps, **res.psnr)
    _say_written(dest, "strainer")
    return 0


def _finite_or_none(value: float) -> float | None:
    import math

    return value if math.isfinite(value) else None


def _steps_text(value: float | None) -> str:
    """Steps to reach SIREN's final PSNR, or "never" when some test image never got there."""
    return "never" if value is None else f"{value:.0f}"


def _signal_args(p, default_size=128):
    src = p.add_argument_group("signal (exactly one)")
    src.add_argument("--image", help="any image file; centre-cropped square and resized to --size")
    src.add_argument("--kodak", help="Kodak folder (e.g. ../shared/data/kodak); ×4 Lanczos then --size centre crop")
    src.add_argument("--name", default="kodim01", help="which Kodak image")
    src.add_argument("--audio", help="a wav file; coordinates in [-100, 100], amplitude / max|x|")
    p.add_argument("--size", type=int, default=default_size, help="image side after cropping")
    p.add_argument("--record-every", type=int, default=100, help="record PSNR every k steps")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation")
    p.add_argument("--out", default="inr_out", help="folder for plots and the JSON summary")


def register(subparsers) -> None:
    """Add ``symm inr`` with its three sub-commands (cheap: nothing heavy is imported here)."""
    import argparse

    defaults = argparse.ArgumentDefaultsHelpFormatter
    inr = subparsers.add_parser(
        "inr", help="fit implicit neural representations (SIREN, Neural Experts, STRAINER)",
        description="Fit implicit neural representations: one INR of an image or audio clip (fit), Neural Experts "
        "and its baselines (experts), or STRAINER's shared-encoder transfer (strainer). Each writes plots and a "
        "JSON summary into --out.",
    )
    sub = inr.add_subparsers(dest="inr_command", metavar="{fit,experts,strainer}", required=True)

    f = sub.add_parser("fit", help="fit one INR (SIREN, FINER, ReLU+FF, Softplus) to an image or audio clip",
                       formatter_class=defaults)
    _signal_args(f)
    f.add_argument("--model", choices=FAMILIES, default="siren", help="the INR family")
    f.add_argument("--width", type=int, default=256, help="hidden width")
    f.add_argument("--depth", type=int, default=3, help="number of hidden layers")
    f.add_argument("--steps", type=int, default=2000, help="Adam steps")
    f.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    f.set_defaults(func=run_fit)

    e = sub.add_parser("experts", help="Neural Experts (or a baseline of its paper) on an image or audio clip",
                       formatter_class=defaults)
    _signal_args(e)
    e.add_argument("--model", default="neural_experts",
                   choices=("siren_base", "siren_wider", "vanilla_moe", "vanilla_moe_pretrained",
                            "neural_experts", "neural_experts_small"), help="the model of the paper's comparison")
    e.add_argument("--steps", type=int, default=30_000, help="training steps (paper: 30000)")
    e.add_argument("--pretrain-steps", type=int, default=3000, help="manager pretraining steps; 0 skips (paper: 3000)")
    e.add_argument("--lr", type=float, default=1e-5, help="paper: 1e-5, ×0.9999 per step")
    e.set_defaults(func=run_experts)

    s = sub.add_parser("strainer", help="STRAINER transfer: shared encoder on N images, test-time fits vs SIREN",
                       formatter_class=defaults)
    s.add_argument("--domain", choices=DOMAINS, default="faces", help="training images (faces: LFW)")
    s.add_argument("--test-domain", choices=DOMAINS, help="test images (default: same domain, other images)")
    s.add_argument("--kodak", help="Kodak folder, for --domain/--test-domain kodak")
    s.add_argument("--n-train", type=int, default=10, help="images the shared encoder is trained on")
    s.add_argument("--n-test", type=int, default=5, help="test images fitted at test time")
    s.add_argument("--size", type=int, default=64, help="image side")
    s.add_argument("--width", type=int, default=256, help="hidden width")
    s.add_argument("--train-steps", type=int, default=5000, help="steps of the shared-encoder training")
    s.add_argument("--test-steps", type=int, default=2000, help="steps of each test-time fit")
    s.add_argument("--record-every", type=int, default=10, help="record PSNR every k steps")
    s.add_argument("--seed", type=int, default=0, help="seed of the initialisation")
    s.add_argument("--out", default="inr_out", help="folder for the plot, curves and JSON summary")
    s.set_defaults(func=run_strainer)
