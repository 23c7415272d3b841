"""Loading ``.keras`` files safely: the one place FER Studio turns a model file into a model.
(And :func:`save_float16`, the half-size storage of shipped weights that it reads back, and
:func:`float32_copy`, a mixed-precision model turned back into a float32 one for saving.)

Every load states ``safe_mode=True`` (Keras then refuses to deserialise Python code) and a model with
code inside (a ``Lambda`` layer) is refused up front with a message saying why. Which files may be
loaded is decided by the callers: run-store runs, bundled models, or a path typed on the command line.
"""
from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path
from typing import Any, Iterator

from ..errors import ModelFileError

#: Layer classes that carry Python code (bytecode or source) inside the model file.
CODE_LAYERS = ("Lambda",)


def read_keras_config(path: str | Path) -> dict[str, Any]:
    """The model configuration (``config.json``) inside a ``.keras`` archive, or ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file.")
    if path.suffix.lower() != ".keras":
        raise ModelFileError(f"{path}: FER Studio loads Keras 3 '.keras' files only (legacy .h5 and SavedModel "
                             "files cannot be loaded safely); re-save it with model.save('model.keras').")
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable Keras 3 .keras archive ({exc}); re-save the model with "
                             "model.save('model.keras').") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: config.json inside is not a model configuration.")
    return config


def code_layers(config: Any) -> list[str]:
    """Names of the layers in a Keras configuration that carry Python code (:data:`CODE_LAYERS`)."""
    return [name for name, cls in _layers(config) if cls in CODE_LAYERS]


def _layers(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict):
            yield str(node["config"].get("name", "?")), node["class_name"]
        for value in node.values():
            yield from _layers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _layers(value)


def load_model_file(path: str | Path, *, compile: bool = False) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True``; ModelFileError when it is unreadable or holds code."""
    path = Path(path)
    lambdas = code_layers(read_keras_config(path))
    if lambdas:
        raise ModelFileError(
            f"{path}: refused, it contains Python code (Lambda layer {', '.join(map(repr, lambdas))}). Running code "
            "from a model file could do anything on this machine, so models load with safe_mode=True; rebuild "
            "the model with built-in or registered custom layers instead of Lambda.")
    import keras

    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a broken archive; one clear error
        raise ModelFileError(f"{path}: cannot be loaded as a Keras model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:300] if str(exc) else ''}).") from None


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``name`` (e.g. ``"mixed_bfloat16"``) inside the block, as
    layers take it when they are built; the previous policy afterwards."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def float32_copy(model: Any) -> Any:
    """``model`` computing in float32: itself when every layer already does, else a copy built from
    its configuration with every dtype policy float32 (e.g. ``mixed_bfloat16`` ones) and the same
    weights (mixed-precision variables are float32 already). Uncompiled. Models FER Studio saves
    for use are float32, so a model trained in bfloat16 predicts in float32 on any CPU."""
    import keras

    changed = []

    def to_float32(obj: Any) -> Any:
        if isinstance(obj, dict):
            if obj.get("class_name") == "DTypePolicy" and isinstance(obj.get("config"), dict):
                if obj["config"].get("name") != "float32":
                    changed.append(obj["config"].get("name"))
                return {**obj, "config": {**obj["config"], "name": "float32"}}
            return {k: to_float32(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [to_float32(v) for v in obj]
        return obj

    config = to_float32(keras.saving.serialize_keras_object(model))
    if not changed:
        return model
    copy = keras.saving.deserialize_keras_object(config, safe_mode=True)
    copy.set_weights(model.get_weights())
    return copy


def save_float16(model: Any, path: str | Path) -> None:
    """Save ``model`` as a ``.keras`` file whose float32 weights are stored as float16: half the size,
    for shipping weights (the bundled models). :func:`load_model_file` reads it back into float32
    variables (Keras casts on assignment), so it predicts in float32 like any model; only the
    stored values are rounded (relative error ~5e-4). Written atomically."""
    import io
    import tempfile

    import h5py
    import numpy as np

    from ..io import atomic_path

    def half(src: h5py.Group, dst: h5py.Group) -> None:
        dst.attrs.update(dict(src.attrs))
        for name, item in src.items():
            if isinstance(item, h5py.Group):
                half(item, dst.create_group(name))
            else:
                value = item[()]
                if isinstance(value, np.ndarray) and value.dtype == np.float32:
                    value = value.astype(np.float16)
                dst.create_dataset(name, data=value).attrs.update(dict(item.attrs))

    path = Path(path)
    with tempfile.TemporaryDirectory() as work, atomic_path(path, suffix=".keras") as tmp:
        full = Path(work) / "float32.keras"
        model.save(full)
        with zipfile.ZipFile(full) as zin, zipfile.ZipFile(tmp, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename.endswith(".h5"):
                    buf = io.BytesIO()
                    with h5py.File(io.BytesIO(data), "r") as src, h5py.File(buf, "w") as dst:
                        half(src, dst)
                    data = buf.getvalue()
                zout.writestr(info, data)
