"""``symm zoo``: build, inspect and plot weight zoos from the command line.

``symm zoo inr --source mnist5k --out DIR``   fit one SIREN per image (resumes DIR)
``symm zoo cnn --source digits --out DIR``    train a zoo of small CNNs (resumes DIR)
``symm zoo mlp --source digits --out DIR``    train a zoo of small MLPs on flattened images (resumes DIR)
``symm zoo show DIR``                         summary of a zoo on disk
``symm zoo plot DIR --out FIG.png``           reconstructions + PSNR or accuracy histogram
"""

from __future__ import annotations

import argparse


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _range(parse):
    def convert(text: str):
        values = parse(text)
        if len(values) == 1:
            values = values * 2
        if len(values) != 2:
            raise argparse.ArgumentTypeError(f"expected LOW,HIGH (or one value), got {text!r}")
        return values

    return convert


def register(subparsers) -> None:
    defaults = argparse.ArgumentDefaultsHelpFormatter
    zoo = subparsers.add_parser(
        "zoo", help="build weight zoos (SIREN INRs, small CNNs and MLPs) in-process",
        description="Build, inspect and plot weight zoos: one SIREN per image (inr), or many small CNNs (cnn) or "
        "MLPs (mlp), written as checksummed shards into --out and resumed when a run is interrupted; show and plot "
        "read a zoo.",
    )
    commands = zoo.add_subparsers(dest="zoo_command", metavar="KIND", required=True)

    inr = commands.add_parser("inr", help="fit one SIREN per image; resumes an interrupted run in --out",
                              formatter_class=defaults)
    inr.add_argument("--source", required=True, help="mnist5k, digits, a folder of images, or a .npy/.npz file")
    inr.add_argument("--out", required=True, help="zoo directory: new or empty (created), or a zoo to resume")
    inr.add_argument("--hidden", type=_ints, default=(32, 32), help="hidden widths, comma-separated")
    inr.add_argument("--omega0", type=float, default=30.0, help="SIREN frequency ω0")
    inr.add_argument("--steps", type=int, default=200, help="Adam steps per INR")
    inr.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate")
    inr.add_argument("--schedule", choices=("constant", "cosine"), default="cosine", help="learning-rate schedule")
    inr.add_argument("--augment", type=int, default=1, help="fits per image from different seeds")
    inr.add_argument("--limit", type=int, default=None,
                     help="use N images, a subset stratified by label (seeded by --split-seed, recorded in the manifest)")
    inr.add_argument("--split", type=_floats, default=(55 / 70, 5 / 70, 10 / 70), help="train,val,test fractions")
    inr.add_argument("--seed", type=int, default=0, help="seed of the SIREN initialisations")
    inr.add_argument("--split-seed", type=int, default=0, help="seed of the splits and of the --limit subset")
    inr.add_argument("--shard-size", type=int, default=1024, help="INRs fitted at once and stored per shard")
    inr.set_defaults(func=_run_inr)

    cnn = commands.add_parser("cnn", help="train a zoo of small CNNs; resumes an interrupted run in --out",
                              formatter_class=defaults)
    cnn.add_argument("--channels", type=_ints, default=(16, 16, 16), help="convolution channels, comma-separated")
    _trained_zoo_arguments(cnn, "CNNs")
    cnn.set_defaults(func=_run_cnn)

    mlp = commands.add_parser("mlp", help="train a zoo of small MLPs on flattened images; resumes an interrupted "
                              "run in --out", formatter_class=defaults)
    mlp.add_argument("--hidden", type=_ints, default=(32,), help="hidden widths, comma-separated")
    _trained_zoo_arguments(mlp, "MLPs")
    mlp.set_defaults(func=_run_mlp)

    show = commands.add_parser("show", help="summarise a zoo directory (checks every shard's checksum)")
    show.add_argument("dir", help="a zoo directory")
    show.set_defaults(func=_run_show)

    plot = commands.add_parser("plot", help="plot a zoo: reconstructions and PSNR, or test accuracies",
                               formatter_class=defaults)
    plot.add_argument("dir", help="a zoo directory")
    plot.add_argument("--out", required=True, help="image file to write (e.g. zoo.png)")
    plot.add_argument("--source", default=None, help="INR zoos: the source, if not the one in the manifest")
    plot.set_defaults(func=_run_plot)


def _trained_zoo_arguments(parser, networks: str) -> None:
    """The options every zoo of trained classifiers (CNN, MLP) shares: hyperparameter ranges and sizes."""
    parser.add_argument("--source", required=True, help="mnist5k, digits, a labelled image folder, or .npy/.npz")
    parser.add_argument("--out", required=True, help="zoo directory: new or empty (created), or a zoo to resume")
    parser.add_argument("-n", "--n", type=int, default=1000, help="number of networks")
    parser.add_argument("--activations", nargs="+", choices=("relu", "tanh"), default=["relu", "tanh"],
                        help="activations drawn per network")
    parser.add_argument("--lr", type=_range(_floats), default=(1e-4, 3e-2), help="LOW,HIGH, log-uniform")
    parser.add_argument("--weight-decay", type=_range(_floats), default=(1e-6, 1e-1), help="LOW,HIGH, log-uniform")
    parser.add_argument("--init-scale", type=_range(_floats), default=(0.2, 2.0), help="LOW,HIGH, log-uniform")
    parser.add_argument("--dropout", type=_range(_floats), default=(0.0, 0.5), help="LOW,HIGH, uniform")
    parser.add_argument("--train-fraction", type=_range(_floats), default=(0.05, 1.0), help="LOW,HIGH, uniform")
    parser.add_argument("--steps", type=_range(_ints), default=(100, 1000), help="LOW,HIGH, uniform integers")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size")
    parser.add_argument("--checkpoints", type=int, default=5, help="saved weights per network, init to end")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="images held out to measure test accuracy")
    parser.add_argument("--seed", type=int, default=0, help="seed of the hyperparameters and initialisations")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/val/test split of the networks")
    parser.add_argument("--shard-size", type=int, default=256, help=f"{networks} trained at once and stored per shard")
    parser.add_argument("--shared-init", action="store_true",
                        help=f"start every one of the {networks} from one initialisation (a fixed-seed zoo)")


def _user_errors(call):
    """Turn the zoo's own validation errors into one-line CLI errors."""
    from symm.cli import UserError

    from models.zoo._sources import SourceError
    from models.zoo._storage import ZooFormatError

    try:
        return call()
    except (SourceError, ZooFormatError, ValueError) as error:
        raise UserError(str(error)) from None
    except OSError as error:  # e.g. a --out whose folder does not exist, or a full disk
        raise UserError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")) from None


def _run_inr(args) -> int:
    def run():
        from models.zoo import InrZooConfig, build_inr_zoo, load_source

        config = InrZooConfig(
            hidden=args.hidden, omega0=args.omega0, steps=args.steps, lr=args.lr, schedule=args.schedule,
            seed=args.seed, augment=args.augment, limit=args.limit, split=args.split, split_seed=args.split_seed,
            shard_size=args.shard_size,
        )
        zoo = build_inr_zoo(load_source(args.source), args.out, config)
        print(f"{len(zoo)} INRs in {args.out}: mean PSNR {zoo['psnr'].mean():.2f} dB "
              f"(min {zoo['psnr'].min():.2f}, init {zoo['psnr_init'].mean():.2f})")
        return 0

    return _user_errors(run)


def _run_trained(args, build, Config, unit: str, **architecture) -> int:
    """Build a CNN or MLP zoo from the shared options; one summary line."""

    def run():
        from models.zoo import load_source

        config = Config(
            n=args.n, activations=tuple(args.activations), lr=args.lr, weight_decay=args.weight_decay,
            init_scale=args.init_scale, dropout=args.dropout, train_fraction=args.train_fraction, steps=args.steps,
            batch_size=args.batch_size, checkpoints=args.checkpoints, test_fraction=args.test_fraction,
            seed=args.seed, split_seed=args.split_seed, shard_size=args.shard_size, shared_init=args.shared_init,
            **architecture,
        )
        zoo = build(load_source(args.source), args.out, config)
        acc = zoo["test_accuracy"]
        print(f"{len(zoo)} {unit}s in {args.out}: test accuracy mean {acc.mean():.3f}, "
              f"min {acc.min():.3f}, max {acc.max():.3f}")
        return 0

    return _user_errors(run)


def _run_cnn(args) -> int:
    from models.zoo import CnnZooConfig, build_cnn_zoo

    return _run_trained(args, build_cnn_zoo, CnnZooConfig, "CNN", channels=args.channels)


def _run_mlp(args) -> int:
    from models.zoo import MlpZooConfig, build_mlp_zoo

    return _run_trained(args, build_mlp_zoo, MlpZooConfig, "MLP", hidden=args.hidden)


def _run_show(args) -> int:
    def run():
        import numpy as np

        from models.zoo import load_zoo

        zoo = load_zoo(args.dir)
        arch = zoo.generator["architecture"]
        print(f"{zoo.kind} zoo in {args.dir}: {len(zoo)} networks, {arch}")
        source = zoo.generator["source"]
        images = zoo.generator.get("images")
        if images is not None:
            print(f"images: {images['n']} of {source['name']}'s {images['of']} ({images['method']}, seed {images['seed']})")
        elif "source_index" in zoo.arrays:  # a zoo written before the selection was recorded
            print(f"images: {len(np.unique(zoo['source_index']))} of {source['name']}'s {source['n']}")
        else:
            print(f"source: {source['name']} ({source['n']} images)")
        print("splits: " + ", ".join(f"{s} {int(np.sum(zoo['split'] == i))}" for i, s in enumerate(("train", "val", "test"))))
        for name in ("psnr", "test_accuracy"):
            if name in zoo.arrays:
                v = zoo[name]
                print(f"{name}: mean {v.mean():.4g}, std {v.std():.4g}, min {v.min():.4g}, max {v.max():.4g}")
        return 0

    return _user_errors(run)


def _run_plot(args) -> int:
    def run():
        from models.zoo import load_zoo
        from models.zoo._plots import plot_zoo

        figure = plot_zoo(load_zoo(args.dir), source=args.source)
        figure.savefig(args.out, dpi=120, bbox_inches="tight")
        print(f"wrote {args.out}")
        return 0

    return _user_errors(run)
