"""``symm train`` and ``symm results``.

``symm train classify|generalisation|edit --zoo DIR --model NAME [--seeds 3] [--canonicalise] --out RUN``
trains (resuming RUN if it holds a run of the same settings) and prints the table;
``symm results RUN...`` prints the markdown table of finished runs.
"""

from __future__ import annotations

import argparse


def register_train(subparsers) -> None:
    from models.train._models import MODELS
    from models.train._tasks import CNN_SUBSETS, TASKS

    p = subparsers.add_parser("train", help="train a metanetwork on a zoo (classify, generalisation, edit)")
    p.add_argument("task", choices=TASKS)
    p.add_argument("--zoo", required=True, help="zoo directory (`symm zoo inr` or `symm zoo cnn`)")
    p.add_argument("--model", required=True, metavar="NAME", help=f"one of {', '.join(MODELS)}")
    p.add_argument("--out", required=True, help="run folder (resumed if it holds a run of the same settings)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--activation", choices=CNN_SUBSETS, default=None,
                   help="CNN subset for generalisation (mixed: every network, each with its own activation's group)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--patience", type=int, default=None, help="early stopping after N epochs without improvement")
    p.add_argument("--width", type=int, default=32, help="metanetwork width (same for every model)")
    p.add_argument("--layers", type=int, default=2, help="message-passing / hidden layers")
    p.add_argument("--branches", type=int, default=1, help="edit: average the images of K editors")
    p.add_argument("--canonicalise", action="store_true",
                   help="train and score on canonicalised networks: each zoo network replaced by its orbit "
                        "representative under the derived group (symm.canonicalise_batch); same functions, "
                        "same targets")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run_train)


def register_results(subparsers) -> None:
    p = subparsers.add_parser("results", help="markdown table of finished `symm train` runs")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.set_defaults(func=_run_results)


def _run_train(args: argparse.Namespace) -> int:
    from symm.cli import UserError

    from models.train._checkpoint import CheckpointMismatch
    from models.train._fit import FitConfig
    from models.train._models import MODELS
    from models.train._results import results_table
    from models.train._run import ModelSize, train_task
    from models.train._tasks import TaskError

    if args.model not in MODELS:
        raise UserError(f"unknown model {args.model!r}: use one of {', '.join(MODELS)}")
    if args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    try:
        config = FitConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                           patience=args.patience)
        records = train_task(args.task, args.zoo, args.model, args.out, seeds=args.seeds,
                             size=ModelSize(args.width, args.layers, args.branches), config=config,
                             subset=args.activation, progress=not args.no_progress,
                             canonicalise=args.canonicalise)
    except (TaskError, CheckpointMismatch, ValueError) as error:
        raise UserError(str(error)) from None
    print(results_table(records))
    return 0


def _run_results(args: argparse.Namespace) -> int:
    from symm.cli import UserError

    from models.train._results import ResultsError, read_results, results_table

    try:
        print(results_table(read_results(args.runs)))
    except ResultsError as error:
        raise UserError(str(error)) from None
    return 0
