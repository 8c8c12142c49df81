"""Training metanetworks: one loop (``fit``), the three ScaleGMN tasks, baselines, the stress test."""

from models.train._baselines import FlatMLP, StatNN, flatten, layer_statistics, unflatten
from models.train._checkpoint import CheckpointMismatch, load_checkpoint, save_checkpoint
from models.train._fit import FitConfig, FitResult, fit, predict
from models.train._metrics import accuracy, kendall_tau, pixel_mse
from models.train._mixed import Routed, RoutedGraphNet, RoutedSpace
from models.train._models import AUGMENTED, GRAPH_MODELS, MODELS, Metanetwork, build_model
from models.train._parallel import data_mesh, replicate, shard_batch
from models.train._results import ResultsError, read_results, results_table
from models.train._run import ModelSize, load_predictions, save_predictions, train_seed, train_task
from models.train._stress import move, stress_test
from models.train._tasks import CNN_SUBSETS, MIXED, TASKS, ZOO_KIND, Render, TaskData, TaskError, dilate, load_task, render_edit

__all__ = [
    "AUGMENTED", "CNN_SUBSETS", "GRAPH_MODELS", "MIXED", "MODELS", "TASKS", "ZOO_KIND", "CheckpointMismatch", "FitConfig", "FitResult", "FlatMLP",
    "Metanetwork", "ModelSize", "Render", "ResultsError", "Routed", "RoutedGraphNet", "RoutedSpace", "StatNN", "TaskData", "TaskError", "accuracy",
    "build_model", "data_mesh", "dilate", "fit", "flatten", "kendall_tau", "layer_statistics", "load_checkpoint",
    "load_predictions", "load_task", "move", "pixel_mse", "predict", "read_results", "render_edit", "replicate", "results_table",
    "save_checkpoint", "save_predictions", "shard_batch", "stress_test", "train_seed", "train_task", "unflatten",
]
