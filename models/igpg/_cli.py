"""``symm igpg``: train a weight generator on zoos of small CNNs and MLPs, and generate networks for new tasks.

``symm igpg train --source digits --out DIR``   build the zoos, fit tokeniser and prior (all resumable)
``symm igpg generate DIR --arch DESC --permutation 9 --out NET.npz``  a network for a task, scored
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    igpg = subparsers.add_parser("igpg", help="instruction-guided parameter generation on CNN and MLP zoos")
    commands = igpg.add_subparsers(dest="igpg_command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train zoos, tokeniser and prior into --out; an interrupted run "
                                "resumes where it stopped")
    train.add_argument("--source", default="digits", help="mnist5k or digits (default digits)")
    train.add_argument("--out", required=True)
    train.add_argument("--arch", action="append", default=None,
                       help="architecture description (repeatable, CNNs and MLPs mix, e.g. 'mlp dense-32 dense-10 "
                       "tanh'); default 'cnn conv3x3-8 gap dense-10 relu'")
    train.add_argument("--permutations", type=int, default=3, help="label-permuted tasks 0..N-1 (default 3)")
    train.add_argument("--networks", type=int, default=16, help="networks per (task, architecture) zoo")
    train.add_argument("--zoo-steps", type=int, default=300)
    train.add_argument("--tokeniser-steps", type=int, default=1000)
    train.add_argument("--prior-steps", type=int, default=1000)
    train.add_argument("--canonicalise", action="store_true",
                       help="tokenise symm.canonicalise representatives (the symmetry-aware variant)")
    train.add_argument("--residual", action="store_true",
                       help="tokenise each network's difference from its architecture's mean network (generation "
                       "then needs an architecture it was trained on)")
    train.add_argument("--zoo-init", choices=("shared", "independent"), default="shared",
                       help="zoo networks start from one initialisation (default: a fixed-seed zoo, which the "
                       "prior can model) or each from its own")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=_train)

    gen = commands.add_parser("generate", help="generate a network for a task with a trained generator")
    gen.add_argument("model", help="directory written by `symm igpg train`")
    gen.add_argument("--arch", required=True, help="architecture description, e.g. 'cnn conv3x3-8 gap dense-10 relu'")
    gen.add_argument("--source", default="digits")
    task = gen.add_mutually_exclusive_group()
    task.add_argument("--permutation", type=int, default=None, help="label permutation seed of the task")
    task.add_argument("--classes", default=None, help="class subset of the task, e.g. 0,1,2,3,4")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", default=None, help="write the params to this .npz (W0, b0, W1, b1, ...)")
    gen.set_defaults(func=_generate)


def _task(source_name: str, permutation, classes):
    from models.igpg._tasks import class_subset, identity_task, permuted
    from models.zoo import load_source

    source = load_source(source_name)
    if classes is not None:
        try:
            return class_subset(source, tuple(int(c) for c in classes.split(",")))
        except ValueError as error:
            raise ValueError(f"--classes {classes!r}: {error}") from None
    return identity_task(source) if permutation is None else permuted(source, permutation)


def _train(args) -> int:
    import jax

    from models.igpg._io import save_generator
    from models.igpg._pipeline import IgpgConfig, build_zoo_entries, train_igpg
    from models.igpg._prior import PriorConfig
    from models.igpg._tasks import permuted
    from models.igpg._vqvae import TokeniserConfig
    from models.igpg._architecture import Architecture, ArchitectureError
    from models.train._checkpoint import CheckpointMismatch
    from models.zoo import SourceError, load_source
    from symm.cli import UserError

    try:
        source = load_source(args.source)
        archs = [Architecture.parse(a) for a in (args.arch or ["cnn conv3x3-8 gap dense-10 relu"])]
        tasks = [permuted(source, s) for s in range(args.permutations)]
        entries = []
        for task in tasks:
            for arch in archs:
                name = f"{task.name}__{str(arch).replace(' ', '_')}"
                entries += build_zoo_entries(task, arch, Path(args.out) / "zoos" / name, n=args.networks,
                                             steps=(args.zoo_steps, args.zoo_steps), seed=args.seed,
                                             shared_init=args.zoo_init == "shared")
    except (ArchitectureError, SourceError, ValueError) as error:
        raise UserError(str(error)) from None
    config = IgpgConfig(TokeniserConfig(steps=args.tokeniser_steps), PriorConfig(steps=args.prior_steps),
                        canonicalise=args.canonicalise, residual=args.residual)
    try:
        generator, info = train_igpg(entries, config, key=jax.random.key(args.seed),
                                     checkpoint_dir=Path(args.out) / "checkpoints")
    except CheckpointMismatch as error:
        raise UserError(str(error)) from None
    save_generator(args.out, generator, config.tokeniser, config.prior,
                   {"canonicalise": config.canonicalise, "residual": config.residual, "zoo_init": args.zoo_init, "tasks": [t.name for t in tasks],
                    "architectures": [str(a) for a in archs]})
    print(f"tokeniser {info['tokeniser_seconds']:.1f} s, prior {info['prior_seconds']:.1f} s; "
          f"codes used {int((info['codebook_usage'] > 0).sum())}/{len(info['codebook_usage'])}; saved to {args.out}")
    return 0


def _generate(args) -> int:
    import jax
    import numpy as np

    from models.igpg._architecture import ArchitectureError
    from models.igpg._io import load_generator
    from models.igpg._pipeline import accuracy
    from models.zoo import SourceError
    from symm.cli import UserError

    try:
        generator, _ = load_generator(args.model)
        task = _task(args.source, args.permutation, args.classes)
        space, params = generator.generate(args.arch, *task.conditioning_images(), key=jax.random.key(args.seed),
                                           temperature=args.temperature, top_k=args.top_k)
    except (ArchitectureError, SourceError, FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    acc = accuracy(space, params, *task.arrays("test"))
    print(f"{space}: test accuracy {acc:.3f} on task {task.name} (no fine-tuning)")
    if args.out:
        np.savez(args.out, **{f"{n}{i}": np.asarray(a) for i, wb in enumerate(params) for n, a in zip("Wb", wb)})
    return 0
