"""Model registry: every architecture is built by name, timm-style.

>>> from fer_core.models import create_model, list_models, model_info
>>> list_models("*_gru")
['densenet121_gru', 'vgg16_gru', 'xception_gru']
>>> model = create_model("fer_net", input_shape=(48, 48, 1), num_classes=7)

Every model takes float32 pixels 0..255 of shape (batch, h, w, c) (h, w >= 32, c in {1, 3}),
adapts them inside (resize, grey -> RGB, normalisation), returns softmax probabilities, and has
an Identity layer ``"cam_features"`` on its last spatial conv map for Grad-CAM.
"""
from __future__ import annotations

from .registry import (CAM_LAYER, LOGITS_LAYER, ModelInfo, create_model, find_cam_layer,
                       list_models, model_info, register_model)
from . import cnn, hybrids, transfer  # noqa: F401  (registers the architectures)

__all__ = ["CAM_LAYER", "LOGITS_LAYER", "ModelInfo", "create_model", "find_cam_layer",
           "list_models", "model_info", "register_model"]
