"""Tiny zoos shared by the training tests (built once per test module)."""

from pathlib import Path

from models.zoo import CnnZooConfig, InrZooConfig, build_cnn_zoo, build_inr_zoo, load_source

INR = InrZooConfig(hidden=(4, 4), steps=20, limit=24, shared_init=True, shard_size=24, split=(0.5, 0.25, 0.25))
CNN = CnnZooConfig(n=16, channels=(2, 2, 2), steps=(5, 30), activations=("relu",), checkpoints=2, shard_size=16)


def tiny_inr_zoo(directory: Path) -> Path:
    build_inr_zoo(load_source("digits"), directory, INR, progress=False)
    return directory


def tiny_cnn_zoo(directory: Path) -> Path:
    build_cnn_zoo(load_source("digits"), directory, CNN, progress=False)
    return directory
