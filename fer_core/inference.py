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

from .data.align import align_face
from .data.faces import Face, crop_face, get_detector
from .data.images import MAX_PIXELS, check_image, read_image
from .errors import ConfigError
from .evaluation.evaluate import model_classes
from .evaluation.predict import model_input_shape, predict_probs
from .run_files import METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE

ALIGNED_SIZE = 192  # side of an eye-aligned crop (shown to the user; resized to the model input)


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


class Predictor:
    """Detect faces in photos and classify each one with a model or ensemble.

    Parameters
    ----------
    model : a Keras model, an :class:`~fer_core.evaluation.Ensemble`, or anything
        :func:`~fer_core.evaluation.predict.predict_probs` accepts.
    classes : the model's class names in output order (default: inferred, see ``model_classes``).
    detector : ``"blazeface"`` (default: best recall and no false box on the shared real photos,
        tens of ms, finds the eyes), ``"haar"`` (OpenCV; boxes some clothing) or ``"mtcnn"`` (slower).
    align : crop faces with their eyes where FER2013 has them (:mod:`fer_core.data.align`) when the
        detector finds the eyes; otherwise (or False) a square box crop with ``margin``.
    face_check : keep a Haar or MTCNN box only when BlazeFace also finds a face in it (drops boxed
        clothing and other non-faces; BlazeFace boxes need no check).
    min_face : smallest face side in pixels the detector reports.
    margin : crop margin around each detected box, as a fraction of the box.
    fallback : classify the whole image as one face when no face is found.
    tta : test-time augmentation for the classifier (``None``: the model's own default).
    max_pixels : decoding bound (decompression bombs are refused).
    detect_width : photos wider than this are searched for faces on a copy scaled down to this
        width (boxes are scaled back; crops come from the full-resolution photo). Detection cost
        grows with the pixel count, so this keeps a 640x480 photo fast. ``None`` detects at full size.
    """

    def __init__(self, model: Any, *, classes: Sequence[str] | None = None, detector: str = "blazeface",
                 min_face: int = 30, margin: float = 0.15, fallback: bool = False,
                 tta: str | Sequence[str] | None = None, max_pixels: int = MAX_PIXELS,
                 detect_width: int | None = 320, align: bool = True, face_check: bool = True):
        if margin < 0:
            raise ConfigError(f"margin must be >= 0, got {margin}.")
        self.model = model
        self.classes = model_classes(model, classes=classes)
        self.detector = get_detector(detector, min_size=int(min_face))
        self.margin, self.fallback, self.tta, self.max_pixels = margin, fallback, tta, max_pixels
        self.detect_width, self.min_face = detect_width, int(min_face)
        self.align, self.face_check = bool(align), bool(face_check)
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

    def crop(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The crop the classifier sees: eye-aligned when the eyes are known (and ``align``), else the box."""
        if self.align and face.eyes is not None:
            try:
                return align_face(image, *face.eyes, size=ALIGNED_SIZE)
            except ValueError:  # degenerate eye points: fall back to the box
                pass
        return crop_face(image, face, margin=self.margin)

    def detect(self, image: np.ndarray) -> list[Face]:
        """The faces of an RGB image (largest first), with the detector and checks of this predictor."""
        faces = self._detect_scaled(image)
        if self.face_check and self.detector.method != "blazeface" and faces:
            checker = get_detector("blazeface")
            faces = [f for f in faces if checker.detect(crop_face(image, f, margin=0.3))]
        return faces

    def _detect_scaled(self, image: np.ndarray) -> list[Face]:
        w = image.shape[1]
        if self.detect_width is None or w <= self.detect_width or self.detector.method == "blazeface":
            return self.detector.detect(image)  # BlazeFace scales the photo to 192x192 itself
        scale = self.detect_width / w
        # Keep the smallest face the user asked for detectable on the smaller copy.
        small_min = max(12, int(self.min_face * scale))
        detector = get_detector(self.detector.method, min_size=small_min)
        small = cv2.resize(image, (self.detect_width, max(1, int(round(image.shape[0] * scale)))),
                           interpolation=cv2.INTER_AREA)
        return [Face(tuple(int(round(v / scale)) for v in f.box), f.score,
                     None if f.eyes is None else tuple((x / scale, y / scale) for x, y in f.eyes))
                for f in detector.detect(small)]


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
