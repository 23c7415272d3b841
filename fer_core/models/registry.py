"""The model registry: architectures registered by name, listed with wildcards, built by name.

Each family module (``cnn``, ``hybrids``, ``transfer``) holds a table of default configurations
and decorates its public entrypoints with :func:`register_model`; :func:`create_model` builds a
model by name and :func:`model_info` describes one without building it.
"""
from __future__ import annotations

import fnmatch
import functools
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..errors import ConfigError, close_matches

#: Name of the Identity layer every registered model puts right after its last spatial conv
#: block, so Grad-CAM finds it in a freshly built or a reloaded ``.keras`` model alike.
CAM_LAYER = "cam_features"
#: Name of the pre-softmax Dense layer (Grad-CAM and calibration want logits).
LOGITS_LAYER = "logits"
#: Smallest input side every model accepts.
MIN_INPUT_SIDE = 32

DEFAULT_INPUT_SHAPE: tuple[int, int, int] = (48, 48, 1)
DEFAULT_NUM_CLASSES = 7


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one architecture, without building it.

    Attributes
    ----------
    name : registry name, also the built model's ``name``
    family : module the architecture lives in (``"cnn"``, ``"hybrids"``, ``"transfer"``)
    paper : short citation of the paper the architecture follows
    input_size : (height, width) the backbone works at; smaller inputs are resized up inside
        the model (larger ones are used as they are)
    rgb : True when the backbone needs 3 channels (greyscale input is repeated inside the model)
    cam_layer : name of the layer whose 4-D output is the last spatial conv feature map
        (always ``"cam_features"``, an Identity layer placed right after that conv block)
    cam_source : the backbone layer ``cam_layer`` mirrors (e.g. ``"block5_conv3"``)
    description : one or two sentences on the architecture
    imagenet : True when Keras distributes ImageNet weights for the backbone
        (``weights="imagenet"`` then works wherever they can be downloaded or are cached)
    """

    name: str
    family: str
    paper: str
    input_size: tuple[int, int]
    rgb: bool
    cam_layer: str
    cam_source: str
    description: str
    imagenet: bool = False


_ENTRYPOINTS: dict[str, Callable[..., Any]] = {}
_INFOS: dict[str, ModelInfo] = {}


def register_model(cfgs: Mapping[str, Mapping[str, Any]]) -> Callable[[Callable], Callable]:
    """Decorator registering an architecture function under its own name.

    Parameters
    ----------
    cfgs : the family's table of default configurations, keyed by function name; the entry
        for the decorated function holds every :class:`ModelInfo` field except ``name``.

    The registered function gets the uniform signature
    ``(input_shape=(48, 48, 1), num_classes=7, weights=None, **kw) -> keras.Model``:
    arguments are validated first, ``None`` values mean "use the default", and keyword options
    must be keyword-only parameters of the decorated function.
    """

    def decorator(fn: Callable) -> Callable:
        name = fn.__name__
        if name in _ENTRYPOINTS:
            raise ConfigError(f"Model {name!r} is registered twice ({fn.__module__}).")
        if name not in cfgs:
            raise ConfigError(f"Model {name!r} has no entry in the default_cfgs of {fn.__module__}.")
        info = ModelInfo(name=name, **cfgs[name])
        options = tuple(
            p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY
        )

        @functools.wraps(fn)
        def entrypoint(input_shape=DEFAULT_INPUT_SHAPE, num_classes=DEFAULT_NUM_CLASSES,
                       weights=None, **kw):
            input_shape, num_classes, weights = _check_build_args(
                name, input_shape, num_classes, weights)
            kw = {k: v for k, v in kw.items() if v is not None}
            unknown = sorted(set(kw) - set(options))
            if unknown:
                raise ConfigError(
                    f"{name}: unknown option(s) {unknown}. Accepted options: "
                    f"{list(options) or 'none'} (plus input_shape, num_classes, weights).")
            return fn(input_shape, num_classes, weights, **kw)

        entrypoint.options = options  # type: ignore[attr-defined]
        _ENTRYPOINTS[name] = entrypoint
        _INFOS[name] = info
        return entrypoint

    return decorator


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Sorted names of the registered models matching a shell-style wildcard.

    Parameters
    ----------
    pattern : ``fnmatch`` pattern, e.g. ``"*_gru"`` or ``"*net*"``
    family : keep only this family (``"cnn"``, ``"hybrids"``, ``"transfer"``)
    """
    return sorted(
        n for n, info in _INFOS.items()
        if fnmatch.fnmatchcase(n, pattern) and (family is None or info.family == family)
    )


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model (raises ConfigError for unknown names)."""
    return _INFOS[_check_name(name)]


def create_model(name: str, input_shape=DEFAULT_INPUT_SHAPE, num_classes=DEFAULT_NUM_CLASSES,
                 weights=None, **kw):
    """Build a registered model by name.

    Parameters
    ----------
    name : a name from :func:`list_models`
    input_shape : (height, width, channels) of the raw faces the model takes, channels 1 or 3,
        sides >= 32; pixels are float32 values 0..255 (uint8 arrays work too)
    num_classes : number of output classes (>= 2)
    weights : None (random init), ``"imagenet"`` (Keras's ImageNet backbone weights, needs a
        download or Keras's cache) or the path of a local ``.h5`` / ``.weights.h5`` backbone file
    **kw : model-specific options (see the entrypoint's keyword-only parameters); ``None``
        values are ignored so unset options keep their defaults

    Returns
    -------
    keras.Model named ``name``: (batch, h, w, c) float32 0..255 -> (batch, num_classes) softmax
    """
    return _ENTRYPOINTS[_check_name(name)](
        input_shape=input_shape, num_classes=num_classes, weights=weights, **kw)


def spatial_layers(model: Any) -> list[str]:
    """Names of the layers with a 4-D (batch, h, w, c) output and h, w > 1, input-side first."""
    names = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # unbuilt or shared layers have no single output
            continue
        if len(shape) == 4 and (shape[1] or 2) > 1 and (shape[2] or 2) > 1 and layer.name != "image":
            names.append(layer.name)
    return names


def find_cam_layer(model: Any) -> str:
    """Name of the Grad-CAM layer of a (possibly reloaded) model.

    ``"cam_features"`` when present, else the last layer with a spatial 4-D output (see
    :func:`spatial_layers`).
    """
    names = [layer.name for layer in model.layers]
    if CAM_LAYER in names:
        return CAM_LAYER
    spatial = spatial_layers(model)
    if not spatial:
        raise ConfigError(f"Model {model.name!r} has no layer with a spatial (batch, h, w, c) output; "
                          "Grad-CAM needs one. Use method='occlusion' instead.")
    return spatial[-1]


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"Model name must be a str, got {type(name).__name__} {name!r}.")
    if name not in _ENTRYPOINTS:
        close = close_matches(name, _ENTRYPOINTS, n=5, cutoff=0.5)
        hint = f"Did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ConfigError(
            f"Unknown model {name!r}. {hint}Registered models: {', '.join(list_models())}.")
    return name


def _check_build_args(name: str, input_shape, num_classes, weights):
    """Validate and normalise the three arguments every entrypoint takes."""
    input_shape = DEFAULT_INPUT_SHAPE if input_shape is None else input_shape
    num_classes = DEFAULT_NUM_CLASSES if num_classes is None else num_classes
    try:
        shape = tuple(int(s) for s in input_shape)
        if any(s != v for s, v in zip(shape, input_shape)):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name}: input_shape must be a tuple of 3 ints (height, width, channels), "
            f"got {input_shape!r}.") from None
    if len(shape) != 3:
        raise ConfigError(
            f"{name}: input_shape must be (height, width, channels), got {shape} "
            f"({len(shape)} values); e.g. (48, 48, 1) for greyscale faces.")
    h, w, c = shape
    if min(h, w) < MIN_INPUT_SIDE:
        raise ConfigError(
            f"{name}: input_shape {shape} is too small: height and width must be >= "
            f"{MIN_INPUT_SIDE}. Resize the faces (e.g. to 48x48) before building the model.")
    if c not in (1, 3):
        raise ConfigError(
            f"{name}: input_shape {shape} has {c} channels; expected 1 (greyscale) or 3 (RGB).")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(f"{name}: num_classes must be an int >= 2, got {num_classes!r}.")
    if weights is not None and weights != "imagenet":
        if not isinstance(weights, (str, os.PathLike)):
            raise ConfigError(
                f"{name}: weights must be None, 'imagenet' or a file path, got {weights!r}.")
        weights = os.fspath(weights)
        if not weights.endswith(".h5"):
            raise ConfigError(
                f"{name}: weights file {weights!r} must be a Keras '.h5' or '.weights.h5' file.")
        if not os.path.isfile(weights):
            raise ConfigError(
                f"{name}: weights file {weights!r} does not exist. Pass None to train from "
                "scratch, or the path of an existing .h5 / .weights.h5 backbone weights file.")
    return shape, num_classes, weights
