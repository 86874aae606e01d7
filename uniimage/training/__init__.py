"""Training: configs, the flow-matching loss, freeze policy, optimizer, checkpoints, the loop, export."""

from .config import TrainConfig, load_config
from .export import export_checkpoint
from .loss import FlowMatchingLoss
from .model_source import load_trained_model
from .trainer import Trainer, train

__all__ = ["FlowMatchingLoss", "TrainConfig", "Trainer", "export_checkpoint", "load_config", "load_trained_model", "train"]
