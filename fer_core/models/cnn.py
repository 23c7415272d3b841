"""Own CNNs trained from scratch on greyscale faces: baseline, five-layer, CNN-LSTM, FER-Net.

They work at the input's own size (any side >= 32, 1 or 3 channels) and scale pixels by 1/255
inside the model.
"""
from __future__ import annotations

import keras
from keras import layers

from .common import BN_MOMENTUM, adapt_input, cam_marker, classifier, conv_bn_relu, spatial_size
from .registry import CAM_LAYER, register_model
from .weights import load_model_weights

PAPER_001 = ("S. R. Kumar, 'Facial Expression Recognition in Dynamic Environments Using Hybrid "
             "Approach' (paper 001)")


# --- building blocks -------------------------------------------------------------------------

def _residual_pair(x, filters: int, name: str):
    """conv-BN-ReLU, then conv-BN added to it and a ReLU: two 3x3 convs, one identity shortcut."""
    x = conv_bn_relu(x, filters, 3, name=f"{name}a")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}b_conv")(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}b_bn")(y)
    x = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_out")(x)


def _model(inputs, outputs, name: str, weights) -> keras.Model:
    return load_model_weights(keras.Model(inputs, outputs, name=name), weights, name)


# --- default configurations ------------------------------------------------------------------

def _cfg(**kw):
    return dict(family="cnn", input_size=(48, 48), rgb=False, cam_layer=CAM_LAYER, imagenet=False,
                **kw)


default_cfgs = {
    "baseline_cnn": _cfg(
        paper=f"{PAPER_001}, §IV-A baseline model",
        cam_source="conv4_relu",
        description="Four 3x3x32 conv-BN-ReLU layers with two 2x2 max-pools, FC 256, 50% "
                    "dropout, softmax (~1.2M parameters at 48x48)."),
    "five_layer": _cfg(
        paper=f"{PAPER_001}, §IV-B, after Kim et al. (CVPRW 2016) as described by "
              "Pramerdorfer & Kampel (arXiv:1612.02903)",
        cam_source="conv3_relu",
        description="Conv 32@5x5, 32@4x4, 64@5x5, each BN-ReLU and 3x3/2 max-pool, FC 1024 "
                    "with BN, 30% dropout, softmax (~1.7M parameters at 48x48)."),
    "cnn_lstm": _cfg(
        paper=f"{PAPER_001}, §VI hybrid CNN-LSTM",
        cam_source="conv3_relu",
        description="Three conv-BN-ReLU blocks (32, 64, 128); the 12 rows of the 12x12x128 map "
                    "feed an LSTM(128) top to bottom, 50% dropout, softmax (~1M parameters)."),
    "fer_net": _cfg(
        paper="FER Studio's own compact CNN (VGG-style stages with residual pairs and BN)",
        cam_source="stage4_out",
        description="CPU-efficient VGG/ResNet hybrid: 32@48, 64@24, 2x128@12, 2x256@6 (residual "
                    "pairs), global average pooling, 40% dropout, softmax (~1.1M parameters); deep=True: "
                    "2x32@48, 2x64@24 too (~1.2M parameters, ~1.4x the FLOPs)."),
}


# --- entrypoints -----------------------------------------------------------------------------

@register_model(default_cfgs)
def baseline_cnn(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
                 dropout: float = 0.5, fc_units: int = 256) -> keras.Model:
    """Baseline CNN of paper 001 §IV-A; the FC width (256) and dropout placement are our choice."""
    inputs, x = adapt_input(input_shape, norm="unit")
    x = conv_bn_relu(x, 32, 3, name="conv1")
    x = conv_bn_relu(x, 32, 3, name="conv2")
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = conv_bn_relu(x, 32, 3, name="conv3")
    x = conv_bn_relu(x, 32, 3, name="conv4")
    x = cam_marker(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(fc_units, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return _model(inputs, classifier(x, num_classes), "baseline_cnn", weights)


@register_model(default_cfgs)
def five_layer(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
               dropout: float = 0.3) -> keras.Model:
    """Five-layer CNN of Kim et al. as replicated in paper 001 §IV-B; "valid" 3x3/2 pooling."""
    inputs, x = adapt_input(input_shape, norm="unit")
    for i, (filters, kernel) in enumerate(((32, 5), (32, 4), (64, 5)), start=1):
        x = conv_bn_relu(x, filters, kernel, name=f"conv{i}")
        if i == 3:
            x = cam_marker(x)
        x = layers.MaxPooling2D(3, strides=2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, use_bias=False, name="fc1")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="fc1_bn")(x)
    x = layers.ReLU(name="fc1_relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return _model(inputs, classifier(x, num_classes), "five_layer", weights)


@register_model(default_cfgs)
def cnn_lstm(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
             lstm_units: int = 128, dropout: float = 0.5) -> keras.Model:
    """CNN-LSTM of paper 001 (layers unspecified there): conv map rows -> LSTM over height."""
    inputs, x = adapt_input(input_shape, norm="unit")
    x = conv_bn_relu(x, 32, 3, name="conv1")
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = conv_bn_relu(x, 64, 3, name="conv2")
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = conv_bn_relu(x, 128, 3, name="conv3")
    x = cam_marker(x)
    h, w = spatial_size(x)
    x = layers.Reshape((h, w * x.shape[-1]), name="rows_to_sequence")(x)
    x = layers.LSTM(lstm_units, name="lstm")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return _model(inputs, classifier(x, num_classes), "cnn_lstm", weights)


@register_model(default_cfgs)
def fer_net(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
            width: int = 32, dropout: float = 0.4, deep: bool = False) -> keras.Model:
    """FER Studio's compact CNN (VGG-style stages, ResNet-style pairs; He et al. CVPR 2016).

    ``deep=True`` makes stages 1 and 2 residual pairs too (8 convs instead of 6, ~1.4x the FLOPs,
    +4% parameters): the two-convs-per-stage layout of the VGG nets that lead on FER2013."""
    inputs, x = adapt_input(input_shape, norm="unit")
    for i, filters in enumerate((width, 2 * width), start=1):
        x = _residual_pair(x, filters, name=f"stage{i}") if deep else conv_bn_relu(x, filters, 3, name=f"stage{i}")
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = _residual_pair(x, 4 * width, name="stage3")
    x = layers.MaxPooling2D(2, name="pool3")(x)
    x = _residual_pair(x, 8 * width, name="stage4")
    x = cam_marker(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return _model(inputs, classifier(x, num_classes), "fer_net", weights)
