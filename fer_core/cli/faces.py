"""What ``explain`` and ``whatif`` share: the faces a command is asked about (photos cropped as
``predict`` crops them, images of a dataset split by index, a model's most confident mistakes),
the model they go to, and pictures written atomically."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, FERError
from .analysis import RUN_HELP, TTA_ARG_HELP, tta_arg
from .common import add_data_options, load_split_data


@dataclass
class AskedFace:
    """One face to work on: a display name, a file-name stem, the pixels, its label when known, a note."""

    name: str
    stem: str
    image: np.ndarray
    true: str | None
    note: str


def add_face_options(p: argparse.ArgumentParser, mistakes: bool = False) -> None:
    """``RUN [PHOTO...]``, the data options, ``--split``, ``--index`` (and ``--mistakes``), ``--tta``."""
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("images", nargs="*", metavar="PHOTO", help="photos: the largest face of each, cropped as predict crops it")
    add_data_options(p, positional=False)
    p.add_argument("--split", default="test", help="split of --data the images come from (default test)")
    p.add_argument("--index", type=int, nargs="+", default=None, metavar="N", help="images of the split, by index")
    if mistakes:
        p.add_argument("--mistakes", type=int, default=0, metavar="K",
                       help="the K most confident wrong predictions on the split (scored with the model's TTA)")
    p.add_argument("--tta", type=tta_arg, default=None, metavar="TTA", help=TTA_ARG_HELP)


def load_model_for_faces(args: argparse.Namespace) -> tuple[Any, list[str], tuple[int, int], bool, str | None]:
    """The model of ``args.run``, its classes, the face size and greyness it takes, and its TTA."""
    from ..evaluation.evaluate import model_classes
    from ..evaluation.predict import model_input_shape
    from ..inference import default_tta, load_model_ref

    model, classes = load_model_ref(args.run)
    try:
        h, w, c = model_input_shape(model)
    except ConfigError:  # an ensemble of mixed input sizes: FER2013's faces
        h = w = c = None
    tta = args.tta if args.tta is not None else default_tta(args.run)
    return model, list(model_classes(model, classes=classes)), (h or 48, w or 48), (c or 1) == 1, tta


def faces_asked(args: argparse.Namespace, model: Any, classes: list[str], size: tuple[int, int], grey: bool,
                tta: str | None) -> tuple[list[AskedFace], list[tuple[str, str]]]:
    """Every face asked for, and ``(file, message)`` of the photos that could not be read (each
    also reported on stderr, so one bad file does not stop the others)."""
    from ..data.images import unreadable
    from ..data.upload import face_from_upload

    items, failed = [], []
    for path in args.images:
        try:
            face, note = face_from_upload(Path(path).read_bytes(), str(path), size, grey)
        except OSError as exc:
            failed.append((str(path), str(unreadable(path, exc))))
        except FERError as exc:
            failed.append((str(path), str(exc)))
        else:
            items.append(AskedFace(str(path), Path(path).stem, face, None, note))
    for _, message in failed:
        print(f"error: {message}", file=sys.stderr)
    mistakes = getattr(args, "mistakes", 0)
    if args.index or mistakes:
        ds = load_split_data(args)
        part = ds.split(args.split)
        for i in args.index or []:
            if not 0 <= i < len(part.images):
                raise ConfigError(f"--index {i} is outside the {args.split} split (0..{len(part.images) - 1}).")
            items.append(AskedFace(f"{args.split} #{i} ({part.sources[i]})", f"{args.split}_{i}", part.images[i],
                                   part.classes[part.labels[i]], f"an image of the {args.split} split"))
        if mistakes:
            from ..evaluation import evaluate_model
            from ..evaluation.evalset import confident_mistakes

            report = evaluate_model(model, ds, split=args.split, tta=tta, classes=classes, name=str(args.run))
            for rank, (i, _, _) in enumerate(confident_mistakes(report, part, k=mistakes), 1):
                items.append(AskedFace(f"{args.split} #{i} ({part.sources[i]})", f"mistake{rank}_{args.split}_{i}",
                                       part.images[i], part.classes[part.labels[i]], f"confident mistake {rank}"))
    return items, failed


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB picture as a PNG file (atomic; the folder is made)."""
    import cv2

    from ..io import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes())


def probs_dict(classes: list[str], probs: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in zip(classes, probs)}
