"""From a photo to a prediction: safe decoding, face detection, crop, classification, annotation.

>>> predictor = Predictor.from_ref("20261122-031500-five_layer-ab12")      # doctest: +SKIP
>>> result = predictor.predict_image("group_photo.jpg")                      # doctest: +SKIP
>>> [(f.label, round(f.confidence, 2)) for f in result.faces]               # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from .data.crops import FaceCropper
from .data.faces import Face
from .data.images import MAX_PIXELS, check_image, read_image
from .errors import ConfigError
from .evaluation.evaluate import model_classes
from .evaluation.predict import model_input_shape, predict_probs
from .run_files import METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE


class TopClass:
    """``label`` and ``confidence`` of a face from its ``probs`` over ``classes`` (photos, videos, camera)."""

    probs: np.ndarray
    classes: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


@dataclass
class FacePrediction(TopClass):
    """One detected face: where it is, what the model thinks, and the crop it saw."""

    box: tuple[int, int, int, int]
    detector_score: float
    probs: np.ndarray
    classes: tuple[str, ...]
    crop: np.ndarray


@dataclass
class PhotoResult:
    """Every face found in one photo (empty when none was found and no fallback was asked for)."""

    source: str
    image: np.ndarray  # the decoded, EXIF-oriented RGB photo
    faces: list[FacePrediction] = field(default_factory=list)
    whole_image: bool = False  # True when the whole photo was classified as one face (fallback)

    @property
    def message(self) -> str:
        if self.whole_image:
            return "no face found: the whole image was classified (fallback)"
        if not self.faces:
            return "no face found"
        return f"{len(self.faces)} face{'s' if len(self.faces) > 1 else ''} found"

    def annotated(self) -> np.ndarray:
        """The photo with a box and ``label pp%`` drawn for every face (RGB uint8)."""
        return draw_labels(self.image, [(f.box, f"{i}: {f.label} {f.confidence:.0%}")
                                        for i, f in enumerate(self.faces, 1)])

    def rows(self) -> list[dict[str, Any]]:
        """One row per face (or one 'no face' row) for a CSV of predictions."""
        if not self.faces:
            return [{"source": self.source, "face": 0, "status": self.message}]
        rows = []
        for i, f in enumerate(self.faces, 1):
            x, y, w, h = f.box
            row = {"source": self.source, "face": i, "status": "whole image" if self.whole_image else "ok",
                   "x": x, "y": y, "w": w, "h": h, "label": f.label, "confidence": round(f.confidence, 4)}
            row.update({f"p_{c}": round(float(p), 4) for c, p in zip(f.classes, f.probs)})
            rows.append(row)
        return rows


#: Colour of the boxes and label backgrounds drawn on photos, videos and the live camera (RGB).
BOX_COLOUR = (40, 220, 40)


def draw_labels(image: np.ndarray, labels: Sequence[tuple[Sequence[int], str]], *,
                copy: bool = True) -> np.ndarray:
    """``image`` (RGB uint8) with a box and a text above it (below at the top edge) per ``(box, text)``.

    ``box`` is (x, y, w, h) in pixels; lines and text scale with the image (640 px wide: 2 px).
    ``copy=False`` draws in place (the live camera's frames).
    """
    out = image.copy() if copy else image
    scale = max(out.shape[:2]) / 640
    thick = max(1, int(round(2 * scale)))
    size = 0.5 * max(scale, 0.6)
    for (x, y, w, h), text in labels:
        x, y, w, h = int(x), int(y), int(w), int(h)
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX_COLOUR, thick)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        ty = y - 4 if y - th - 6 >= 0 else y + h + th + 4
        cv2.rectangle(out, (x, ty - th - 3), (x + tw + 4, ty + base - 1), BOX_COLOUR, -1)
        cv2.putText(out, text, (x + 2, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), thick, cv2.LINE_AA)
    return out


class Predictor(FaceCropper):
    """Detect faces in photos and classify each one with a model or ensemble.

    Parameters
    ----------
    model : a Keras model, an :class:`~fer_core.evaluation.Ensemble`, or anything
        :func:`~fer_core.evaluation.predict.predict_probs` accepts.
    classes : the model's class names in output order (default: inferred, see ``model_classes``).
    detector, min_face, margin, detect_width, align, face_check : how faces are found and cropped
        (:class:`~fer_core.data.crops.FaceCropper`; BlazeFace and eye-aligned crops by default).
    fallback : classify the whole image as one face when no face is found.
    tta : test-time augmentation for the classifier (``None``: the model's own default).
    max_pixels : decoding bound (decompression bombs are refused).
    runtime : ``"keras"``, ``"onnx"`` or ``"tflite"`` (:func:`~fer_core.export.runtime_model`: exported
        once and cached; an ensemble member by member).
    """

    def __init__(self, model: Any, *, classes: Sequence[str] | None = None, detector: str = "blazeface",
                 min_face: int = 30, margin: float = 0.15, fallback: bool = False,
                 tta: str | Sequence[str] | None = None, max_pixels: int = MAX_PIXELS,
                 detect_width: int | None = 320, align: bool = True, face_check: bool = True,
                 runtime: str = "keras"):
        from .export import runtime_model

        super().__init__(detector=detector, min_face=min_face, margin=margin, detect_width=detect_width,
                         align=align, face_check=face_check)
        self.classes = model_classes(model, classes=classes)
        self.model, self.runtime = runtime_model(model, runtime), runtime
        self.fallback, self.tta, self.max_pixels = fallback, tta, max_pixels
        try:  # crops go straight to the model's input size; ensembles (mixed sizes) get 96x96
            h, w, _ = model_input_shape(model)
        except ConfigError:
            h = w = None
        self._crop_size = (h or 96, w or 96)

    @classmethod
    def from_ref(cls, ref: str | Path, **kw: Any) -> "Predictor":
        """A predictor for a run id, a run folder, a ``.keras`` file or a saved ensemble ``.json``."""
        model, classes = load_model_ref(ref)
        if kw.get("tta") is None:
            kw["tta"] = default_tta(ref)
        return cls(model, classes=kw.pop("classes", classes), **kw)

    def predict_image(self, src: str | Path | bytes | np.ndarray, name: str | None = None) -> PhotoResult:
        """Decode (or take) one photo, find its faces and classify each."""
        if isinstance(src, np.ndarray):
            image = check_image(src, "predict_image")
            image = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
            label = name or "<array>"
        else:
            label = name or (str(src) if not isinstance(src, (bytes, bytearray)) else "<upload>")
            image = read_image(src, color="rgb", max_pixels=self.max_pixels, name=label)
        faces = self.detect(image)
        whole = False
        if not faces:
            if not self.fallback:
                return PhotoResult(label, image)
            h, w = image.shape[:2]
            faces, whole = [Face((0, 0, w, h), 0.0)], True
        crops = [image] if whole else [self.crop(image, f) for f in faces]
        probs = self.classify_crops(crops)
        preds = [FacePrediction(tuple(int(v) for v in f.box), float(f.score), p, self.classes, c)
                 for f, p, c in zip(faces, probs, crops)]
        return PhotoResult(label, image, preds, whole_image=whole)

    def classify_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), of face crops (RGB uint8, any size) in one batch."""
        if not crops:
            return np.zeros((0, len(self.classes)), np.float32)
        h, w = self._crop_size
        batch = np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_AREA) for c in crops])
        return predict_probs(self.model, batch, tta=self.tta)


def _resolve_ref(ref: str | Path) -> tuple[Callable[[], Any], Path | None, bool]:
    """What a model reference names, without loading it: ``(load, folder, is_ensemble)``, where
    ``folder`` holds its run files (None for an ensemble ``.json``). Shared by
    :func:`load_model_ref` and :func:`default_tta`."""
    from .bundled import DEFAULT_ALIAS, get_bundled, is_bundled, load_bundled

    if str(ref) == DEFAULT_ALIAS or is_bundled(str(ref)):
        b = get_bundled(str(ref))  # 'default' with nothing bundled: a clear error
        return (lambda: load_bundled(b.id)), b.path, b.kind != "model"
    p = Path(ref)
    if p.suffix.lower() == ".json":  # an ensemble file given explicitly; its members are ids only
        from .evaluation.ensemble import load_ensemble

        return (lambda: load_ensemble(p)), None, True
    if p.suffix.lower() in (".keras", ".h5") or (p.is_dir() and (p / MODEL_FILE).is_file()):
        from .models.files import load_model_file  # a model file or run folder given explicitly

        return (lambda: load_model_file(p if p.suffix else p / MODEL_FILE)), (p.parent if p.suffix else p), False
    from .evaluation.ensemble import resolve_member
    from .runs import RunStore

    run = RunStore().get(str(ref))
    return (lambda: resolve_member(run.id)), Path(run.path), False


def load_model_ref(ref: str | Path) -> tuple[Any, tuple[str, ...] | None]:
    """Load a model from a run id, a bundled id (or ``default``), a run folder, a ``.keras`` file or
    an ensemble ``.json``.

    Returns the model and its class names when the run recorded them (else None, to be inferred).
    """
    load, folder, _ = _resolve_ref(ref)
    return load(), (run_classes(folder) if folder is not None else None)


def default_tta(ref: str | Path) -> str | None:
    """The test-time augmentation a single model's reported accuracy was measured with (its card's,
    else its run's ``metrics.json``), so that predicting and evaluating by name reproduce the figure
    shown for it. None for ensembles (they carry their own), bare files and runs without one."""
    from .modelcard import CARD_JSON
    from .runs import read_json

    _, folder, ensemble = _resolve_ref(ref)
    if ensemble or folder is None:
        return None
    card = read_json(folder / CARD_JSON, {})
    for record in ((card.get("figures") if isinstance(card, dict) else None), read_json(folder / METRICS_FILE)):
        if isinstance(record, dict) and isinstance(record.get("tta"), str):
            return None if record["tta"] == "none" else record["tta"]
    return None


def run_classes(folder: Path) -> tuple[str, ...] | None:
    """The class names a run (or bundled) folder recorded with its predictions, or None."""
    preds = folder / PREDICTIONS_FILE
    if preds.is_file():
        with np.load(preds, allow_pickle=False) as z:
            if "classes" in z.files:
                return tuple(str(c) for c in z["classes"])
    return None
