"""Import TensorFlow without its start-up noise on stderr (used by the command line).

TensorFlow's C++ side prints lines such as "All log messages before absl::InitializeLog() ...",
"Could not find cuda drivers ...", "This TensorFlow binary is optimized ..." and "failed call to
cuInit" while it loads or first runs. ``TF_CPP_MIN_LOG_LEVEL=3`` silences the later ones; the
lines printed before absl is initialised ignore it, so stderr (file descriptor 2) is pointed at
``/dev/null`` while ``tensorflow`` is imported.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["import_tensorflow_quietly", "stderr_to_devnull", "tflite_interpreter"]


@contextmanager
def stderr_to_devnull() -> Iterator[None]:
    """Send everything written to file descriptor 2 (C/C++ code included) to ``/dev/null``."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_tensorflow_quietly(verbose: bool = False) -> None:
    """Import TensorFlow now, silencing its start-up lines and Python warnings unless ``verbose``.

    ``TF_CPP_MIN_LOG_LEVEL`` is set to 3 unless it is already set. A no-op when TensorFlow is
    already imported (its noise, if any, has been printed by then).
    """
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_to_devnull():
        import tensorflow
    # its Python warnings too (e.g. "triggered tf.function retracing" when an ensemble's test-time
    # views come in batches of several sizes): advice for TensorFlow developers, not for the user
    tensorflow.get_logger().setLevel("ERROR")


def tflite_interpreter(path: str | os.PathLike, num_threads: int = 2) -> Any:
    """A ``tf.lite.Interpreter`` for ``path``, tensors allocated, made without its notes.

    It announces its move to LiteRT (a Python warning) and its XNNPACK delegate (a line of its C++
    side on stderr): notes for TensorFlow developers, not for the user.
    """
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings(), stderr_to_devnull():
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(model_path=str(path), num_threads=num_threads)
        interp.allocate_tensors()
    return interp
