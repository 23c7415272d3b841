"""Training: configurations (TOML), the training loop and its run folder, class imbalance.

>>> from fer_core.training import load_config, train
>>> cfg = load_config("experiments/synthetic_quick.toml")
>>> metrics = train(cfg, "runs/synthetic_quick")        # doctest: +SKIP

``train`` imports TensorFlow on first use; the configuration helpers do not.
"""
from __future__ import annotations

from typing import Any

from .config import (AugmentSpec, DataSpec, ModelSpec, TrainConfig, TrainSpec, apply_overrides,
                     config_header, config_to_dict, dump_config, load_config, resolve_path, to_toml, validate)
from .imbalance import class_weights, resample

__all__ = ["AugmentSpec", "DataSpec", "ModelSpec", "TrainConfig", "TrainSpec", "apply_overrides",
           "class_weights", "config_header", "config_to_dict", "dump_config", "load_config", "prepare_data", "resample",
           "resolve_path", "to_toml", "train", "validate"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from .engine import train

        return train
    if name == "prepare_data":
        from .prepare import prepare_data

        return prepare_data
    raise AttributeError(f"module 'fer_core.training' has no attribute {name!r}")
