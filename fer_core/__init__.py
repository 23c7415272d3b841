"""FER Studio core library: data, models, training, evaluation, explanation, robustness, inference.

Importable without Streamlit; TensorFlow is imported lazily by the modules that need it.
"""
from __future__ import annotations

__version__ = "0.1.0"

#: The seven canonical expression classes, in FER2013's label order (emotion 0..6).
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

__all__ = ["CLASSES", "__version__"]
