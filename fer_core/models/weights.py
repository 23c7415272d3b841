"""Backbones inside a model's graph, their pretrained weights, and the freezing rules.

A backbone is built on the adapted input tensor (``input_tensor=``), so its layers sit flat in
the model (``block5_conv3`` is a layer of the model itself, not of a nested sub-model). Weights
are loaded into a stand-alone copy of the backbone by Keras itself (which knows ImageNet files
and checks local files), then copied over layer by layer.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Callable, Iterator

import keras

from ..errors import ConfigError

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
#: Keras's "notop" ImageNet files, relative to KERAS_WEIGHTS_URL, by backbone function name.
IMAGENET_NOTOP_FILES = {
    "VGG16": "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "ResNet50": "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "DenseNet121": "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "Xception": "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def backbone(app_fn: Callable[..., keras.Model], x, weights: str | None, model_name: str):
    """Build ``app_fn(include_top=False)`` on tensor ``x`` and load ``weights`` into it.

    Parameters
    ----------
    app_fn : a ``keras.applications`` constructor (or one with the same signature)
    x : the adapted input tensor (batch, h, w, 3)
    weights : None, ``"imagenet"`` or the path of an existing ``.h5`` / ``.weights.h5`` file
        holding the backbone's weights (without its ImageNet top)
    model_name : registry name, for error messages

    Returns
    -------
    keras.Model sharing its layers with the caller's graph (use ``.output`` / ``.get_layer``)
    """
    net = app_fn(include_top=False, weights=None, input_tensor=x)
    if weights is None:
        return net
    reference = _load_reference(app_fn, tuple(x.shape[1:]), weights, model_name)
    try:
        net.set_weights(reference.get_weights())
    except ValueError as err:  # cannot happen for files Keras accepted, kept as a guard
        raise ConfigError(f"{model_name}: weights {weights!r} do not fit the backbone: {err}") from err
    return net


def _load_reference(app_fn, shape, weights: str, model_name: str) -> keras.Model:
    backbone_name = getattr(app_fn, "__name__", "backbone")
    try:
        with _strict_loading():
            return app_fn(include_top=False, weights=weights, input_shape=shape)
    except ConfigError:
        raise
    except Exception as err:  # Keras raises bare Exception on download failures
        if weights == "imagenet":
            raise ConfigError(imagenet_help(model_name, backbone_name, err)) from err
        raise ConfigError(
            f"{model_name}: could not load backbone weights from {weights!r} into {backbone_name} "
            f"(include_top=False): {_short(err)}. Expected a Keras .h5 / .weights.h5 "
            f"file holding {backbone_name} weights without the classification top "
            "(e.g. Keras's '..._notop.h5' file).") from err


def imagenet_help(model_name: str, backbone_name: str, err: Exception | None = None) -> str:
    """Error text for ImageNet weights that could not be obtained, with the offline fix."""
    cause = f" ({_short(err)})" if err else ""
    notop = IMAGENET_NOTOP_FILES.get(backbone_name)
    if notop is None:
        return (f"{model_name}: Keras distributes no ImageNet weights for {backbone_name}. "
                "Pass weights=None to train from scratch, or weights='/path/to/backbone.weights.h5' "
                "with a local file of this backbone's weights (saved with save_weights()).")
    fname = os.path.basename(notop)
    return (f"{model_name}: ImageNet weights for {backbone_name} could not be downloaded{cause}; "
            f"is this machine offline? Download {KERAS_WEIGHTS_URL}{notop} elsewhere and "
            f"pass weights='/path/to/{fname}' (a local file), or copy it to "
            f"~/.keras/models/{fname} so weights='imagenet' finds it; weights=None trains from scratch.")


def freeze_through(net: keras.Model, last_layer: str | None = None) -> None:
    """Set ``trainable=False`` on the backbone's layers up to and including ``last_layer``.

    ``last_layer=None`` freezes the whole backbone.
    """
    names = [layer.name for layer in net.layers]
    if last_layer is not None and last_layer not in names:
        raise ConfigError(f"freeze_through: {net.name} has no layer {last_layer!r}.")
    for layer in net.layers:
        layer.trainable = False
        if layer.name == last_layer:
            break


def load_model_weights(model: keras.Model, weights: str | None, model_name: str) -> keras.Model:
    """Load a whole-model weights file into an own CNN (no ImageNet weights exist for those)."""
    if weights is None:
        return model
    if weights == "imagenet":
        raise ConfigError(
            f"{model_name} has no ImageNet weights (it is trained from scratch on faces). Pass "
            "weights=None, or weights='/path/to/model.weights.h5' saved from this architecture.")
    try:
        with _strict_loading():
            model.load_weights(weights)
    except Exception as err:
        raise ConfigError(
            f"{model_name}: could not load weights from {weights!r}: {_short(err)}. "
            f"Expected a .weights.h5 / .h5 file saved from {model_name} with the same input_shape "
            "and num_classes.") from err
    return model


def _short(err: Exception, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


@contextlib.contextmanager
def _strict_loading() -> Iterator[None]:
    """Turn Keras's "skipping ... keep freshly-initialised weights" warnings into errors.

    Keras 3 only warns when a ``.weights.h5`` file lacks some of a model's layers, which would
    leave part of a "pretrained" model random without anyone noticing.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    problems = [str(w.message) for w in caught
                if issubclass(w.category, UserWarning) and "saving" in w.filename]
    for w in caught:
        if str(w.message) not in problems:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if problems:
        raise ValueError(f"the file does not match the model ({len(problems)} warning(s) while "
                         f"loading, first: {problems[0]})")
