"""ImageNet backbones followed by GRUs (paper 000): VGG16-GRU, DenseNet121-GRU, Xception-GRU.

Where the sequence comes from: a GRU over a 1x1 feature map sees a sequence of length 1, which
is what these backbones give at 48x48. Here the sequence is always the **rows of the backbone's
last spatial feature map, top to bottom** (forehead/eyes -> nose -> mouth bands of the face), and
each model's input is resized inside the model to a working size at which that map has >= 3 rows:

========================  =============  ===================  ==================================
model                     working size   feature map at 48px  sequence fed to the GRU
========================  =============  ===================  ==================================
vgg16_gru                 48 (native)    block5_conv3 3x3x512 3 rows, each averaged over width
densenet121_gru           96 (resized)   relu 3x3x1024        3 rows of 3*1024 (plain Reshape)
xception_gru              71 (resized)   block14 3x3x2048     3 rows, max-pooled over width
========================  =============  ===================  ==================================

``working_size=`` overrides the size (cost grows with its square). Paper 000 gives no unit counts
except for DenseNet121-GRU; the others are our choice and stated in each docstring. No layers
are frozen: the paper fine-tunes the pretrained backbones whole.
"""
from __future__ import annotations

import keras
from keras import layers

from .common import adapt_input, cam_marker, classifier, spatial_size
from .registry import CAM_LAYER, register_model
from .weights import backbone

PAPER_000 = ("'Facial Emotion Recognition using DenseNet121/VGG16/Xception + GRU' on the OAHEGA "
             "dataset (paper 000)")


# --- default configurations ------------------------------------------------------------------

def _cfg(**kw):
    return dict(family="hybrids", rgb=True, cam_layer=CAM_LAYER, imagenet=True, **kw)


default_cfgs = {
    "vgg16_gru": _cfg(
        paper=f"{PAPER_000}, §4.2",
        input_size=(48, 48), cam_source="block5_conv3",
        description="VGG16 (to block5_conv3; the last max-pool would leave 1x1 at 48px) -> "
                    "average over width -> 3 rows of 512 -> GRU(128) -> softmax (~15M params)."),
    "densenet121_gru": _cfg(
        paper=f"{PAPER_000}, §4.1",
        input_size=(96, 96), cam_source="relu",
        description="DenseNet121 at 96x96 -> Reshape to (3 rows, 3*1024) -> GRU(256, sequences) "
                    "-> GRU(128) -> Dense(256, relu) -> softmax (~9.8M params)."),
    "xception_gru": _cfg(
        paper=f"{PAPER_000}, §4.3",
        input_size=(71, 71), cam_source="block14_sepconv2_act",
        description="Xception at 71x71 -> MaxPooling over width -> Flatten -> Reshape to "
                    "(3 rows, 2048) -> GRU(256) -> Dense(256, relu) + 50% dropout -> softmax."),
}


# --- entrypoints -----------------------------------------------------------------------------

@register_model(default_cfgs)
def vgg16_gru(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
              gru_units: int = 128, working_size: int | None = None) -> keras.Model:
    """VGG16 + GRU of paper 000 §4.2; its GlobalAveragePooling becomes a per-row average."""
    inputs, x = adapt_input(input_shape, norm="caffe", rgb=True, min_size=32,
                            working_size=working_size)
    net = backbone(keras.applications.VGG16, x, weights, "vgg16_gru")
    x = cam_marker(net.get_layer("block5_conv3").output)
    h, w = spatial_size(x)
    x = layers.AveragePooling2D(pool_size=(1, w), name="row_avg_pool")(x)
    x = layers.Reshape((h, x.shape[-1]), name="to_sequence")(x)
    x = layers.GRU(gru_units, name="gru")(x)
    return keras.Model(inputs, classifier(x, num_classes), name="vgg16_gru")


@register_model(default_cfgs)
def densenet121_gru(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
                    working_size: int | None = None) -> keras.Model:
    """DenseNet121 + GRU(256) + GRU(128) + Dense(256) of paper 000 §4.1, rows as the sequence."""
    inputs, x = adapt_input(input_shape, norm="torch", rgb=True, min_size=96,
                            working_size=working_size)
    net = backbone(keras.applications.DenseNet121, x, weights, "densenet121_gru")
    x = cam_marker(net.output)
    h, w = spatial_size(x)
    x = layers.Reshape((h, w * x.shape[-1]), name="to_sequence")(x)
    x = layers.GRU(256, return_sequences=True, name="gru_1")(x)
    x = layers.GRU(128, name="gru_2")(x)
    x = layers.Dense(256, activation="relu", name="fc")(x)
    return keras.Model(inputs, classifier(x, num_classes), name="densenet121_gru")


@register_model(default_cfgs)
def xception_gru(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
                 gru_units: int = 256, fc_units: int = 256, dropout: float = 0.5,
                 working_size: int | None = None) -> keras.Model:
    """Xception + GRU of paper 000 §4.3; its MaxPooling2D pools over the width only."""
    inputs, x = adapt_input(input_shape, norm="tf", rgb=True, min_size=71,
                            working_size=working_size, smallest=71)
    net = backbone(keras.applications.Xception, x, weights, "xception_gru")
    x = cam_marker(net.output)
    h, w = spatial_size(x)
    channels = x.shape[-1]
    x = layers.MaxPooling2D(pool_size=(1, w), name="row_max_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Reshape((h, channels), name="to_sequence")(x)
    x = layers.GRU(gru_units, name="gru")(x)
    x = layers.Dense(fc_units, activation="relu", name="fc")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, classifier(x, num_classes), name="xception_gru")
