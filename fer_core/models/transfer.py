"""Transfer-learning models of paper 001 §IV-C..F: ResNet50, SE-ResNet50 and VGG16 with FC heads.

The paper resized faces to 197x197; here they stay at their own size by default (48x48 already
gives 2x2 ResNet and 3x3 VGG feature maps, at 1/17 of the cost); ``working_size=197`` restores
the paper's setting. Freezing happens only when pretrained weights are loaded (``freeze=None``);
``freeze=True/False`` forces it either way.
"""
from __future__ import annotations

import keras
from keras import layers

from ..errors import ConfigError
from .common import adapt_input, cam_marker, classifier
from .registry import CAM_LAYER, register_model
from .weights import backbone, freeze_through, imagenet_help

PAPER_001 = ("S. R. Kumar, 'Facial Expression Recognition in Dynamic Environments Using Hybrid "
             "Approach' (paper 001)")
#: "We froze the first 170 layers of ResNet" (paper 001 §IV-D): in Keras's ResNet50 without top
#: (175 layers, input layer included) layer 170 is conv5_block3_2_bn, so only the last 1x1 conv
#: and its BN train. SE-ResNet50 freezes through the same named layer.
RESNET_LAST_FROZEN = "conv5_block3_2_bn"
BN_EPS = 1.001e-5  # as in keras.applications.ResNet50


# --- building blocks: SE-ResNet50 (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018) ---

def _squeeze_excite(x, ratio: int, name: str):
    """Channel attention: GAP -> FC(c/ratio, relu) -> FC(c, sigmoid) -> rescale the channels."""
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    s = layers.Dense(channels // ratio, activation="relu", name=f"{name}_se_reduce")(s)
    s = layers.Dense(channels, activation="sigmoid", name=f"{name}_se_expand")(s)
    return layers.Multiply(name=f"{name}_se_scale")([x, s])


def _se_bottleneck(x, filters: int, stride: int, conv_shortcut: bool, ratio: int, name: str):
    """Keras's ResNet50 bottleneck (same layer names) with an SE block before the addition."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=BN_EPS, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPS, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPS, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPS, name=f"{name}_3_bn")(x)
    x = _squeeze_excite(x, ratio, name)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def SEResNet50(include_top: bool = False, weights: str | None = None, input_tensor=None,
               input_shape=None, ratio: int = 16) -> keras.Model:
    """SE-ResNet-50 feature extractor with the ``keras.applications.ResNet50`` interface.

    Output: the conv5 map (batch, h/32, w/32, 2048), last layer ``conv5_block3_out``.
    ``weights``: None or a local file saved from this function's model (no ImageNet file exists
    in Keras; ``"imagenet"`` raises ConfigError).
    """
    if include_top:
        raise ConfigError("SEResNet50 is a feature extractor: only include_top=False is supported.")
    if weights == "imagenet":
        raise ConfigError(imagenet_help("senet50_ft", "SEResNet50"))
    inputs = input_tensor if input_tensor is not None else keras.Input(shape=input_shape)
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks, stride) in enumerate(
            ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=2):
        for block in range(1, blocks + 1):
            x = _se_bottleneck(x, filters, stride if block == 1 else 1, block == 1, ratio,
                               name=f"conv{stage}_block{block}")
    source = keras.utils.get_source_inputs(input_tensor) if input_tensor is not None else inputs
    model = keras.Model(source, x, name="se_resnet50")
    if weights is not None:
        model.load_weights(weights)
    return model


def _head(x, num_classes: int, dropout: float):
    """FC 4096 -> FC 1024 (ReLU, optional dropout after each) -> softmax, as in paper 001."""
    for i, units in enumerate((4096, 1024), start=1):
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    return classifier(x, num_classes)


def _resnet_ft(app_fn, name, input_shape, num_classes, weights, freeze, working_size, dropout):
    inputs, x = adapt_input(input_shape, norm="caffe", rgb=True, working_size=working_size)
    net = backbone(app_fn, x, weights, name)
    if freeze if freeze is not None else weights is not None:
        freeze_through(net, RESNET_LAST_FROZEN)
    x = cam_marker(net.output)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, _head(x, num_classes, dropout), name=name)


# --- default configurations ------------------------------------------------------------------

def _cfg(**kw):
    return dict(family="transfer", input_size=(48, 48), rgb=True, cam_layer=CAM_LAYER, **kw)


default_cfgs = {
    "resnet50_ft": _cfg(
        paper=f"{PAPER_001}, §IV-D (after Brechet et al.)", cam_source="conv5_block3_out",
        imagenet=True,
        description="ResNet50 -> global average pool -> FC 4096 -> FC 1024 -> softmax; first 170 "
                    "layers frozen when pretrained weights are loaded (~36M params)."),
    "senet50_ft": _cfg(
        paper=f"{PAPER_001}, §IV-E; SE blocks of Hu et al. (CVPR 2018), ratio 16",
        cam_source="conv5_block3_out", imagenet=False,
        description="SE-ResNet-50 (ResNet50 bottlenecks with squeeze-and-excitation) -> the "
                    "resnet50_ft head; same freezing rule (~39M params)."),
    "vgg16_ft": _cfg(
        paper=f"{PAPER_001}, §IV-F", cam_source="block5_conv3", imagenet=True,
        description="VGG16 (frozen when pretrained) -> Flatten -> FC 4096 -> FC 1024, 50% dropout "
                    "after each -> softmax (~21M params at 48x48)."),
}


# --- entrypoints -----------------------------------------------------------------------------

@register_model(default_cfgs)
def resnet50_ft(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
                freeze: bool | None = None, working_size: int | None = None,
                dropout: float = 0.0) -> keras.Model:
    """Fine-tuned ResNet50 of paper 001 §IV-D (He et al., CVPR 2016); no dropout in the paper."""
    return _resnet_ft(keras.applications.ResNet50, "resnet50_ft", input_shape, num_classes,
                      weights, freeze, working_size, dropout)


@register_model(default_cfgs)
def senet50_ft(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
               freeze: bool | None = None, working_size: int | None = None,
               dropout: float = 0.0) -> keras.Model:
    """Fine-tuned SE-ResNet-50 of paper 001 §IV-E (Hu et al., CVPR 2018), ResNet50 settings."""
    return _resnet_ft(SEResNet50, "senet50_ft", input_shape, num_classes,
                      weights, freeze, working_size, dropout)


@register_model(default_cfgs)
def vgg16_ft(input_shape=(48, 48, 1), num_classes=7, weights=None, *,
             freeze: bool | None = None, working_size: int | None = None,
             dropout: float = 0.5) -> keras.Model:
    """VGG16 with a 4096-1024 head of paper 001 §IV-F (Simonyan & Zisserman, ICLR 2015)."""
    inputs, x = adapt_input(input_shape, norm="caffe", rgb=True, working_size=working_size)
    net = backbone(keras.applications.VGG16, x, weights, "vgg16_ft")
    if freeze if freeze is not None else weights is not None:
        freeze_through(net)
    x = cam_marker(net.get_layer("block5_conv3").output)
    # the backbone's own block5_pool reads block5_conv3 directly; pool again after the marker
    x = layers.MaxPooling2D(2, name="head_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, _head(x, num_classes, dropout), name="vgg16_ft")
