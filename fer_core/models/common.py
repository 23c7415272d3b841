"""Layers every architecture shares: the input adapter, the CAM marker, the classifier head.

All of them are serialisable built-in Keras layers (plus ``keras.ops.flip``), so a saved model
reloads with a bare ``keras.models.load_model(path)``.
"""
from __future__ import annotations

import numpy as np
import keras
from keras import layers, ops

from ..errors import ConfigError
from .registry import CAM_LAYER, LOGITS_LAYER, MIN_INPUT_SIDE

# Normalisations, applied to float32 pixels 0..255 (after any grey -> RGB repeat):
#   "unit"  -> x / 255                                      (own CNNs)
#   "tf"    -> x / 127.5 - 1                                (Xception)
#   "torch" -> (x / 255 - mean) / std, RGB                  (DenseNet)
#   "caffe" -> RGB -> BGR, x - mean_bgr                     (VGG16, ResNet50, SE-ResNet50)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], "float32")
_TORCH_STD = np.array([0.229, 0.224, 0.225], "float32")
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], "float32")
NORMALISATIONS = ("unit", "tf", "torch", "caffe")
#: Batch-norm momentum of our own CNNs. Keras's 0.99 makes the moving statistics trail the
#: weights for hundreds of steps, so short runs (small datasets, quick configs) evaluate far
#: worse than they train; 0.9 (PyTorch's default) settles within tens of steps.
BN_MOMENTUM = 0.9


def adapt_input(input_shape: tuple[int, int, int], *, norm: str, rgb: bool = False,
                min_size: int = MIN_INPUT_SIDE, working_size: int | None = None,
                smallest: int = MIN_INPUT_SIDE):
    """The model's Input and the tensor the backbone should see.

    Parameters
    ----------
    input_shape : (h, w, c) of the raw faces, float32 pixel values 0..255, c in {1, 3}
    norm : one of ``NORMALISATIONS``
    rgb : repeat a greyscale channel three times (for ImageNet backbones)
    min_size : sides smaller than this are resized up to it (bilinear), larger ones kept
    working_size : if given, resize to (working_size, working_size) whatever the input size
    smallest : the smallest ``working_size`` the backbone accepts

    Returns
    -------
    (inputs, x) : the ``keras.Input`` named ``"image"`` and the adapted tensor
        (batch, h', w', c') with c' = 3 if ``rgb`` else c
    """
    h, w, c = input_shape
    if working_size is not None and (isinstance(working_size, bool) or not isinstance(
            working_size, int) or working_size < smallest):
        raise ConfigError(
            f"working_size must be an int >= {smallest} (the side the backbone is fed), got "
            f"{working_size!r}; leave it unset for the model's default.")
    inputs = keras.Input(shape=input_shape, dtype="float32", name="image")
    x = inputs
    size = (working_size, working_size) if working_size else (max(h, min_size), max(w, min_size))
    if size != (h, w):
        x = layers.Resizing(*size, interpolation="bilinear", name="resize")(x)
    if rgb and c == 1:
        x = layers.Concatenate(axis=-1, name="grey_to_rgb")([x, x, x])
    channels = 3 if rgb else c
    if norm == "unit":
        x = layers.Rescaling(1.0 / 255.0, name="normalise")(x)
    elif norm == "tf":
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(x)
    elif norm == "torch":
        scale, offset = 1.0 / (255.0 * _TORCH_STD), -_TORCH_MEAN / _TORCH_STD
        if channels == 1:
            scale, offset = scale.mean(keepdims=True), offset.mean(keepdims=True)
        x = layers.Rescaling(scale.tolist(), offset=offset.tolist(), name="normalise")(x)
    elif norm == "caffe":
        mean = _CAFFE_MEAN_BGR
        if channels == 3 and c == 3:
            x = ops.flip(x, axis=-1)  # RGB -> BGR; a repeated grey channel needs no flip
        elif channels == 1:
            mean = mean.mean(keepdims=True)
        x = layers.Rescaling(1.0, offset=(-mean).tolist(), name="normalise")(x)
    else:
        raise ValueError(f"norm must be one of {NORMALISATIONS}, got {norm!r}")
    return inputs, x


def cam_marker(x):
    """Identity layer named ``"cam_features"`` on the last spatial conv output (batch, h, w, c)."""
    return layers.Identity(name=CAM_LAYER)(x)


def classifier(x, num_classes: int):
    """Dense logits (``"logits"``) then a float32 softmax (``"predictions"``)."""
    x = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return layers.Activation("softmax", dtype="float32", name="predictions")(x)


def conv_bn_relu(x, filters: int, kernel_size: int, name: str, strides: int = 1):
    """Conv2D (same padding, no bias) -> BatchNorm -> ReLU, layers named ``name_conv/_bn/_relu``."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def spatial_size(x) -> tuple[int, int]:
    """(h, w) of a 4-D tensor with a static shape."""
    return int(x.shape[1]), int(x.shape[2])
