"""Export a trained model for deployment (ONNX, TFLite) and run the exported file.

The exported model takes the same raw pixels (float32 0..255, the model's input shape) as the
Keras model, so the same pre-processing serves both; :class:`ExportedModel` wraps a runtime
session behind the ``input_shape`` / ``output_shape`` / ``predict_on_batch`` interface that
:func:`~fer_core.evaluation.predict_probs` uses. :func:`runtime_model` gives a model (or an
ensemble, member by member) in the runtime ``predict --runtime`` names, exported once and cached.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError
from .io import atomic_path

FORMATS = ("onnx", "tflite")
#: where a model can run: Keras itself (the figures on its card), or one of its exports
RUNTIMES = ("keras",) + FORMATS
RUNTIME_HELP = ("keras: the model itself (the figures of its card); onnx, tflite: the model exported once and "
                "cached in $FER_STUDIO_HOME/exports (an ensemble member by member): faster on some CPUs, "
                "probabilities within ~1e-5 of Keras")


def export_model(model: Any, fmt: str, out: str | Path) -> Path:
    """Write ``model`` (a Keras model) as ``fmt`` (``"onnx"`` or ``"tflite"``) to ``out``, atomically."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format must be one of {FORMATS}, got {fmt!r}.")
    if not hasattr(model, "inputs"):
        raise ConfigError("Only single Keras models can be exported; export an ensemble's members one by one.")
    out = Path(out)
    shape = tuple(int(d) for d in model.input_shape[1:])
    model(np.zeros((1,) + shape, np.float32))  # exporters need a model that has been called once
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
            import tf2onnx  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"ONNX export needs the onnx and tf2onnx packages ({exc}); install "
                              "requirements.txt.") from None
        with atomic_path(out, suffix=".onnx") as tmp, contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():  # Keras' tf2onnx shim asks numpy for np.object
            warnings.filterwarnings("ignore", message="In the future `np.object`", category=FutureWarning)
            model.export(str(tmp), format="onnx", verbose=False)
    else:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        with atomic_path(out, suffix=".tflite") as tmp:
            with contextlib.redirect_stdout(io.StringIO()):  # the converter lists its SavedModel's endpoints
                data = converter.convert()
            tmp.write_bytes(data)
    return out


class ExportedModel:
    """An exported ``.onnx`` (onnxruntime) or ``.tflite`` (TFLite interpreter) model.

    Exposes ``input_shape``, ``output_shape``, ``num_classes`` and ``predict_on_batch(x)``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such exported model file.")
        self.format = {".onnx": "onnx", ".tflite": "tflite"}.get(self.path.suffix.lower())
        if self.format is None:
            raise ConfigError(f"{self.path}: expected a .onnx or .tflite file.")
        if self.format == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            inp, out = self._session.get_inputs()[0], self._session.get_outputs()[0]
            self._input_name = inp.name
            self.input_shape = (None,) + tuple(int(d) for d in inp.shape[1:])
            self.output_shape = (None, int(out.shape[-1]))
        else:
            from .tf_quiet import tflite_interpreter

            self._interp = tflite_interpreter(self.path)
            inp, out = self._interp.get_input_details()[0], self._interp.get_output_details()[0]
            self._in_index, self._out_index = inp["index"], out["index"]
            self.input_shape = (None,) + tuple(int(d) for d in inp["shape"][1:])
            self.output_shape = (None, int(out["shape"][-1]))
            self._batch = int(inp["shape"][0])
        self.num_classes = self.output_shape[-1]
        self.name = self.path.stem
        self._lock = threading.Lock()  # a TFLite interpreter serves one call at a time (the server's sessions share it)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for a float32 batch shaped like ``input_shape``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.format == "onnx":
            return self._session.run(None, {self._input_name: x})[0]
        with self._lock:
            if len(x) != self._batch:
                self._interp.resize_tensor_input(self._in_index, (len(x),) + self.input_shape[1:])
                self._interp.allocate_tensors()
                self._batch = len(x)
            self._interp.set_tensor(self._in_index, x)
            self._interp.invoke()
            return self._interp.get_tensor(self._out_index).copy()


def model_digest(model: Any) -> str:
    """SHA-256 of a Keras model's architecture (its JSON) and weights: the key of its cached exports."""
    h = hashlib.sha256(model.to_json().encode("utf-8"))
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        h.update(f"{w.dtype.str}{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()


def runtime_model(model: Any, runtime: str = "keras", *, cache: str | Path | None = None) -> Any:
    """``model`` (a Keras model or an :class:`~fer_core.evaluation.Ensemble`) ready to run in ``runtime``.

    ``"keras"`` returns it as it is. ``"onnx"`` / ``"tflite"`` return an :class:`ExportedModel`
    of it, exported on first use into ``cache`` (default ``$FER_STUDIO_HOME/exports``) under the
    digest of its architecture and weights, so later calls load the file; an ensemble gets each
    member exported (the same weights, TTA and temperature; members then run one by one).
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime must be one of {RUNTIMES}, got {runtime!r}.")
    if runtime == "keras":
        return model
    from .evaluation.ensemble import Ensemble, is_ensemble

    if is_ensemble(model):
        members = [runtime_model(m, runtime, cache=cache) for m in model.members]
        return Ensemble(list(zip(members, model.weights)), name=model.name, tta=model.tta, classes=model.classes,
                        refs=model.refs, temperature=model.temperature, fuse=False)
    if not hasattr(model, "to_json") or not hasattr(model, "inputs"):
        raise ConfigError(f"runtime {runtime!r} needs a Keras model or an Ensemble of them, got "
                          f"{type(model).__name__}.")
    if cache is None:
        from .paths import data_dir

        cache = data_dir() / "exports"
    path = Path(cache) / f"{model_digest(model)[:32]}.{runtime}"
    if path.is_file():
        try:
            return ExportedModel(path)
        except Exception:  # noqa: BLE001 - a cached file that no longer loads (damaged, another version): export again
            pass
    export_model(model, runtime, path)
    return ExportedModel(path)


def top1_agreement(model: Any, exported: Any, images: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """How often the exported model's top-1 equals the Keras model's, and the largest prob difference."""
    from .evaluation.predict import predict_probs

    a = predict_probs(model, images, batch_size=batch_size)
    b = predict_probs(exported, images, batch_size=batch_size)
    return {"n": int(len(images)), "top1_agreement": float((a.argmax(1) == b.argmax(1)).mean()) if len(a) else 1.0,
            "max_abs_prob_diff": float(np.abs(a - b).max()) if len(a) else 0.0}
