"""Property-based fuzzing: every input path gets generated garbage and odd-but-valid input.

Entry points: image decoding (``read_image``), the FER2013 CSV loader, image folders and ``.zip``
archives (``load_dataset``), the dataset cache (``load_npz``, ``cached``), training configs
(``load_config`` from TOML or a dict, ``--set`` overrides, the TOML writer) and the robustness tools
(``corrupt``, ``corrupt_batch``, ``augment_batch``, ``apply_whatif``, ``whatif_predict``).

The property is the same everywhere: the only exceptions allowed are FER Studio's own
(:class:`~fer_core.errors.FERError` and its subclasses) carrying a message; anything else
(KeyError, cv2.error, zlib.error, OverflowError, ...) is a bug. Where the input is known to be
valid, the result is checked as well (dtype, shape, count, labels, round trip).

Hypothesis profiles, registered here: ``fuzz`` (the default: up to 100 examples per test, fewer
where each example writes archives; under a minute on 2 cores) and ``fuzz-long`` (up to 1000;
about 5 minutes), chosen with an environment variable::

    FER_FUZZ_PROFILE=fuzz-long .venv/bin/pytest tests/test_fuzz.py -q -p no:cacheprovider

Add ``--hypothesis-show-statistics`` to see how many examples each test accepted and refused.
No example database is kept (``database=None``) and Hypothesis's own caches go to
``<tmp>/fer_studio_hypothesis``, so nothing is written into the repository.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.control import currently_in_test_context
from PIL import Image

from fer_core.data.cache import cache_key, cached, load_npz, save_npz
from fer_core.data.dataset import SPLITS, FERDataset, LoadIssue
from fer_core.data.images import IMAGE_EXTENSIONS, read_image
from fer_core.data.labels import KNOWN_EXTRA, SYNONYMS, canonical_name
from fer_core.data.loaders import SPLIT_FOLDERS, load_fer2013_csv
from fer_core.data.sources import load_dataset
from fer_core.errors import ConfigError, DataError, FERError
from fer_core.paths import cache_dir, data_dir
from fer_core.robustness import (CORRUPTIONS, OCCLUSIONS, SUBSETS, WhatIf, apply_whatif, augment_batch,
                                 corrupt, corrupt_batch, whatif_predict)
from fer_core.training.config import (AugmentSpec, DataSpec, EvalSpec, ModelSpec, ResourceSpec, TrainSpec,
                                      apply_overrides, config_to_dict, dump_config, load_config, to_toml)

# --------------------------------------------------------------------------- settings
_COMMON = dict(deadline=None, database=None,  # file I/O makes timings noisy; keep no example database
               suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=100, **_COMMON)
settings.register_profile("fuzz-long", max_examples=1000, **_COMMON)
PROFILE = os.environ.get("FER_FUZZ_PROFILE", "fuzz")
FUZZ = settings.get_profile(PROFILE)


def fuzz(share: float = 1.0) -> settings:
    """The profile's settings with ``share`` of its examples (for tests that touch many files)."""
    return settings(FUZZ, max_examples=max(5, int(FUZZ.max_examples * share)))


# Hypothesis caches (source constants, Unicode tables) from collection on: keep them out of the repo.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "fer_studio_hypothesis")


def only_our_errors(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or the FERError it raised (which must carry a message).

    Any other exception propagates, so Hypothesis reports it as a failure and shrinks the input.
    """
    try:
        return fn(*args, **kwargs)
    except FERError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} raised with an empty message"
        return exc


def failed(out: Any) -> bool:
    """True for a FERError; also labels the example for ``--hypothesis-show-statistics``."""
    if currently_in_test_context():
        event("refused" if isinstance(out, FERError) else "accepted")
    return isinstance(out, FERError)


# --------------------------------------------------------------------------- images
#: Modes each format can store (P-mode images are built with a palette: BMP cannot read one without).
FORMAT_MODES: dict[str, tuple[str, ...]] = {
    "PNG": ("L", "RGB", "RGBA", "P", "I;16", "1", "LA"),
    "JPEG": ("L", "RGB", "CMYK"),
    "BMP": ("L", "RGB", "RGBA", "P", "1"),
    "GIF": ("L", "P"),
    "TIFF": ("L", "RGB", "RGBA", "P", "I;16", "1", "CMYK", "LA"),
    "WEBP": ("L", "RGB", "RGBA"),
}
#: Formats whose decoded L and RGB pixels are compared with the originals, value for value.
LOSSLESS = ("PNG", "BMP", "TIFF")
COLORS = st.sampled_from(["grey", "rgb"])


def make_pil(mode: str, w: int, h: int, seed: int) -> Image.Image:
    """A random-pixel PIL image of ``mode`` and size ``w`` x ``h``."""
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    if mode == "1":
        return Image.fromarray(rng.integers(0, 2, (h, w)).astype(bool))
    if mode == "P":
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert("P")
    bands = len(Image.new(mode, (1, 1)).getbands())
    return Image.frombytes(mode, (w, h), rng.integers(0, 256, h * w * bands, dtype=np.uint8).tobytes())


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


@dataclass
class ImageFile:
    data: bytes
    fmt: str
    mode: str
    size: tuple[int, int]  # (h, w)
    pil: Image.Image


@st.composite
def image_files(draw, max_side: int = 40) -> ImageFile:
    fmt = draw(st.sampled_from(sorted(FORMAT_MODES)))
    mode = draw(st.sampled_from(FORMAT_MODES[fmt]))
    w, h = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    img = make_pil(mode, w, h, draw(st.integers(0, 2**32 - 1)))
    return ImageFile(encode(img, fmt), fmt, mode, (h, w), img)


def check_decoded(out: np.ndarray, color: str, size: tuple[int, int] | None = None) -> None:
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8, out
    assert out.ndim == (2 if color == "grey" else 3), out.shape
    if color == "rgb":
        assert out.shape[2] == 3, out.shape
    if size is not None:
        assert out.shape[:2] == size, (out.shape, size)


@fuzz()
@given(image_files(), COLORS)
def test_read_image_decodes_valid_files(file: ImageFile, color: str):
    """Every mode and format, sizes from 1x1, odd aspect ratios: uint8 (h, w) or (h, w, 3)."""
    out = read_image(file.data, color=color)
    check_decoded(out, color, file.size)
    if file.fmt in LOSSLESS and file.mode in ("L", "RGB"):
        expected = np.asarray(file.pil.convert("L" if color == "grey" else "RGB"))
        np.testing.assert_array_equal(out, expected)


@fuzz()
@given(image_files(), COLORS, st.data())
def test_read_image_damaged_files(file: ImageFile, color: str, data):
    """Valid files truncated at a random offset or with random bytes flipped."""
    raw = bytearray(file.data)
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")]
    else:
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= data.draw(st.integers(1, 255))
    # a flipped size field may claim millions of pixels: keep decoding cheap on a shared machine
    out = only_our_errors(read_image, bytes(raw), color=color, max_pixels=2_000_000)
    if not failed(out):
        check_decoded(out, color)


MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
         b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"P5\n4 4\n255\n", b"P6\n", b"\x00\x00\x01\x00"]


@fuzz()
@given(st.sampled_from(MAGIC), st.binary(max_size=600), COLORS)
def test_read_image_random_bytes(magic: bytes, tail: bytes, color: str):
    """Random bytes, also behind real format signatures; a file gives what its bytes give."""
    data = magic + tail
    out = only_our_errors(read_image, data, color=color, max_pixels=2_000_000)
    if not failed(out):
        check_decoded(out, color)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.png"
        path.write_bytes(data)
        from_file = only_our_errors(read_image, path, color=color, max_pixels=2_000_000)
    assert failed(from_file) == failed(out)
    if not failed(out):
        np.testing.assert_array_equal(from_file, out)


@fuzz(0.5)
@given(st.text(max_size=10), st.sampled_from(["missing", "folder", "empty"]))
def test_read_image_bad_color_and_paths(color: str, where: str):
    """A wrong ``color``, a missing file, a folder, an empty file: DataError / ImageReadError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "face.png"
        if where == "folder":
            path.mkdir()
        elif where == "empty":
            path.write_bytes(b"")
        assert failed(only_our_errors(read_image, path, color=color))
    png = encode(make_pil("L", 4, 4, 0), "PNG")
    out = only_our_errors(read_image, png, color=color)
    assert failed(out) == (color not in ("grey", "rgb"))


# --------------------------------------------------------------------------- FER2013 CSV
#: Characters of generated CSV fields: no field or line separator, no quote (quoting is chosen apart).
FIELD_CHARS = st.characters(exclude_characters=',"\r\n\x00', exclude_categories=("Cs",))
USAGE_SPLIT = {"training": "train", "publictest": "val", "privatetest": "test"}
GOOD_USAGES = ["Training", "PublicTest", "PrivateTest", "training", "PUBLICTEST", " PrivateTest ",
               "Public Test", "private-test", "Private_Test"]
BAD_USAGES = ["", "Train", "Test", "Validation", "Public", "x"]
GOOD_EMOTIONS = ["{}", " {}", "{} ", "0{}", "+{}"]
BAD_EMOTIONS = ["7", "-1", "", "x", "3.5", "nan", "1e0", "²", "99999999999999999999999", "0x3"]
#: Pixel tokens that are not an integer in 0..255 (the superscript two passes str.isdigit()).
BAD_TOKENS = ["-1", "256", "1.5", "x", "²", "99999999999999999999", "0x1f", "nan", "1e2", "--3"]


@dataclass
class CsvRow:
    emotion: str
    pixels: str
    usage: str
    valid: bool
    label: int = -1
    split: str = ""
    image: np.ndarray | None = None

    def __repr__(self) -> str:  # short failure reports: the pixel field is 2304 numbers
        tokens = self.pixels.split()
        odd = [t for t in tokens if not (t.isascii() and t.isdigit() and int(t) < 256)][:3]
        return (f"CsvRow(emotion={self.emotion!r}, pixels=<{len(tokens)} values, odd {odd}>, "
                f"usage={self.usage!r}, valid={self.valid})")

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis's printer
        p.text(repr(self))


@st.composite
def csv_rows(draw, has_usage: bool) -> CsvRow:
    """One data row: three in four are valid (odd spellings included), the others break one field."""
    broken = draw(st.sampled_from([None] * 9 + ["emotion", "pixels"] + (["usage"] if has_usage else [])))
    valid = broken is None
    label = draw(st.integers(0, 6))
    emotion = draw(st.sampled_from(GOOD_EMOTIONS)).format(label)
    if broken == "emotion":
        emotion = draw(st.one_of(st.sampled_from(BAD_EMOTIONS), st.text(FIELD_CHARS, max_size=6)))
        try:  # random text can still be an integer 0..6 ("٣" is 3 to Python)
            label = int(emotion.strip())
            valid = 0 <= label <= 6
        except ValueError:
            pass
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = rng.integers(0, 256, (48, 48)).astype(np.uint8)
    tokens = [str(v) for v in image.ravel()]
    kind = draw(st.sampled_from(["short", "long", "bad_token", "empty"] if broken == "pixels"
                                else ["ok", "ok", "padded", "odd_ok"]))
    if kind == "short":
        tokens = tokens[: draw(st.integers(0, 2303))]
    elif kind == "long":
        tokens += ["0"] * draw(st.integers(1, 50))
    elif kind == "bad_token":
        tokens[draw(st.integers(0, 2303))] = draw(st.sampled_from(BAD_TOKENS))
    elif kind == "empty":
        tokens = []
    elif kind == "odd_ok":  # leading zeros and plus signs are still integers
        i = draw(st.integers(0, 2303))
        tokens[i] = draw(st.sampled_from(["0", "+", "00"])) + tokens[i]
    sep = draw(st.sampled_from([" ", " ", "  ", "\t"]))
    pixels = sep.join(tokens)
    if kind == "padded":
        pixels = f"  {pixels}\t "
    usage, split = "", "train"
    if has_usage:
        usage = draw(st.sampled_from(BAD_USAGES if broken == "usage" else GOOD_USAGES))
        split = USAGE_SPLIT.get(canonical_name(usage).replace("_", ""), "")
    return CsvRow(emotion, pixels, usage, valid, label, split, image if valid else None)


@dataclass
class CsvFile:
    text: str
    rows: list[CsvRow]
    missing: str | None  # a required column left out

    def __repr__(self) -> str:
        return f"CsvFile(header={self.text.splitlines()[0] if self.text else ''!r}, rows={self.rows}, " \
               f"missing={self.missing!r}, bom={self.text.startswith(chr(0xFEFF))}, crlf={chr(13) in self.text})"

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))


@st.composite
def fer_csvs(draw) -> CsvFile:
    """FER2013 CSVs with odd but valid layout: column order and case, BOM, CRLF, quotes, extra columns,
    a trailing comma on every row."""
    has_usage = draw(st.booleans())
    missing = draw(st.sampled_from([None] * 8 + ["emotion", "pixels"]))
    spell = {
        "emotion": draw(st.sampled_from(["emotion", "Emotion", "EMOTION", " emotion"])),
        "pixels": draw(st.sampled_from(["pixels", "Pixels", "pixels "])),
        "usage": draw(st.sampled_from(["Usage", "usage", "USAGE "])),
    }
    extras = draw(st.lists(st.sampled_from(["id", "Notes", "Image name", "source"]), unique=True, max_size=2))
    cols = [c for c in ("emotion", "pixels") if c != missing] + (["usage"] if has_usage else []) + extras
    cols = draw(st.permutations(cols))
    rows = draw(st.lists(csv_rows(has_usage), max_size=5))
    quote = draw(st.booleans())
    q = (lambda s: f'"{s}"') if quote else (lambda s: s)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    trailing = "," if draw(st.booleans()) else ""  # spreadsheet exports end rows with a separator
    lines = [",".join(q(spell.get(c, c)) for c in cols)]
    for r in rows:
        values = {"emotion": r.emotion, "pixels": r.pixels, "usage": r.usage}
        lines.append(",".join(q(values[c]) if c in values else q(draw(st.text(FIELD_CHARS, max_size=5)))
                              for c in cols) + trailing)
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return CsvFile(text, rows, missing)


def write_tmp(folder: str, name: str, content: str | bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


@fuzz(0.7)
@given(fer_csvs(), st.sampled_from(["raise", "skip"]))
def test_fer2013_csv_generated(csv: CsvFile, on_error: str):
    """Generated CSVs load exactly when they should: counts, labels, splits and pixels checked."""
    with tempfile.TemporaryDirectory() as tmp:
        out = only_our_errors(load_fer2013_csv, write_tmp(tmp, "fer2013.csv", csv.text), on_error=on_error)
    good = [r for r in csv.rows if r.valid]
    first_bad = next((i for i, r in enumerate(csv.rows) if not r.valid), None)
    if csv.missing:
        assert isinstance(out, DataError) and "missing column" in str(out), out
    elif on_error == "raise" and first_bad is not None:
        assert isinstance(out, DataError), out
        assert f"line {first_bad + 2} (row {first_bad})" in str(out), out
    elif not good:
        assert isinstance(out, DataError) and "no usable rows" in str(out), out
    else:
        assert not failed(out), out
        assert len(out) == len(good) and len(out.issues) == len(csv.rows) - len(good)
        np.testing.assert_array_equal(out.labels, [r.label for r in good])
        assert list(out.splits) == [r.split for r in good]
        np.testing.assert_array_equal(out.images, np.stack([r.image for r in good]))


def mangle(text: str, data) -> str:
    """``text`` with random characters inserted (separators, quotes, NUL, BOM), deleted, or cut."""
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        if not chars:
            break
        i = data.draw(st.integers(0, len(chars) - 1))
        how = data.draw(st.sampled_from(["insert", "delete", "cut"]))
        if how == "insert":
            chars.insert(i, data.draw(st.sampled_from([",", '"', "\n", "\r", "\t", "\x00", "\ufeff", ";", " "])))
        elif how == "delete":
            del chars[i]
        else:
            chars = chars[:i]
    return "".join(chars)


@fuzz(0.7)
@given(st.data(), st.sampled_from(["raise", "skip"]))
def test_fer2013_csv_garbage(data, on_error: str):
    """Random text, random bytes (not UTF-8, UTF-16, NUL), and generated CSVs with random edits."""
    kind = data.draw(st.sampled_from(["text", "bytes", "utf16", "mangled"]), label="kind")
    if kind == "text":
        content: str | bytes = data.draw(st.text(max_size=300))
    elif kind == "bytes":
        content = data.draw(st.binary(max_size=300))
    elif kind == "utf16":
        content = data.draw(fer_csvs()).text.encode("utf-16")
    else:
        content = mangle(data.draw(fer_csvs()).text, data)
    with tempfile.TemporaryDirectory() as tmp:
        out = only_our_errors(load_fer2013_csv, write_tmp(tmp, "fer2013.csv", content), on_error=on_error)
    if not failed(out):
        assert out.images.dtype == np.uint8 and out.images.shape[1:] == (48, 48) and len(out) > 0
        assert out.labels.min() >= 0 and out.labels.max() <= 6
        assert set(out.splits) <= set(SPLITS)


# --------------------------------------------------------------------------- folders and zips
NAME_CHARS = st.characters(codec="utf-8", exclude_characters="/\x00", exclude_categories=("Cs",))
KNOWN_NAMES = ["angry", "Anger", "disgust", "FEAR", "afraid", "happy", "Happiness", "sad", "Sadness",
               "surprise", "Surprised", "neutral", "calm", "contempt", "Ahegao", " sad", "happy "]
SPLIT_SPELLINGS = ["train", "Train", "TRAINING", "val", "Validation", "test", "Test", "PublicTest"]
README_NAMES = ["notes.txt", "Thumbs.db", ".DS_Store", "labels.json"]


def is_known_class(name: str) -> bool:
    key = canonical_name(name)
    return key in SYNONYMS or key in KNOWN_EXTRA


def class_of(name: str) -> str:
    key = canonical_name(name)
    return SYNONYMS.get(key, key)


random_names = st.text(NAME_CHARS, min_size=1, max_size=10).filter(
    lambda s: not s.startswith(".") and canonical_name(s) not in SPLIT_FOLDERS)


@dataclass
class Tree:
    """A generated dataset folder: files by relative path, plus what loading it must give."""

    files: dict[str, bytes] = field(default_factory=dict)
    empty_dirs: list[str] = field(default_factory=list)
    kaggle: bool = False
    good: dict[str, str] = field(default_factory=dict)  # image path -> canonical class
    good_split: dict[str, str] = field(default_factory=dict)  # image path -> split (Kaggle layout)
    bad: int = 0  # image files that cannot be decoded
    empty_class: bool = False  # a class folder without image files
    unknown_class: bool = False  # a non-empty class folder whose name maps to no class
    split_without_classes: bool = False  # a split folder without class folders

    def write(self, root: Path) -> None:
        for rel in self.empty_dirs:
            (root / rel).mkdir(parents=True, exist_ok=True)
        for rel, content in self.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)

    def must_fail(self, on_error: str) -> bool:
        if self.split_without_classes or self.unknown_class or not self.good:
            return True
        return on_error == "raise" and (self.bad > 0 or self.empty_class)


@st.composite
def image_bytes(draw) -> tuple[bytes, bool]:
    """One file's content and whether it is a decodable image (extension and format may disagree)."""
    kind = draw(st.sampled_from(["image"] * 12 + ["garbage", "empty", "header"]))
    if kind == "garbage":
        return b"this is not an image: " + draw(st.binary(max_size=64)), False
    if kind == "empty":
        return b"", False
    fmt = draw(st.sampled_from(["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"]))
    mode = draw(st.sampled_from(["L", "RGB"] if fmt != "GIF" else ["L", "P"]))
    img = make_pil(mode, draw(st.integers(8, 48)), draw(st.integers(8, 48)), draw(st.integers(0, 2**16)))
    data = encode(img, fmt)
    return (data[:20], False) if kind == "header" else (data, True)


@st.composite
def trees(draw, max_classes: int = 3, max_files: int = 3) -> Tree:
    tree = Tree(kaggle=draw(st.booleans()))
    bases = [(None, "")]
    if tree.kaggle:
        splits = draw(st.lists(st.sampled_from(SPLIT_SPELLINGS), min_size=1, max_size=2, unique=True))
        bases = [(SPLIT_FOLDERS[canonical_name(s)], s + "/") for s in splits]
    for split, base in bases:
        known_or_not = st.integers(0, 5).flatmap(lambda k: st.sampled_from(KNOWN_NAMES) if k else random_names)
        names = draw(st.lists(known_or_not, min_size=int(not tree.kaggle or draw(st.integers(0, 5)) > 0),
                              max_size=max_classes, unique=True))
        if not names:
            tree.split_without_classes = True
            tree.empty_dirs.append(base)
        for name in names:
            n_files = draw(st.integers(1 if draw(st.integers(0, 5)) else 0, max_files))  # few empty folders
            nested = draw(st.booleans())
            if n_files == 0:
                tree.empty_class = True
                tree.empty_dirs.append(base + name)
            elif not is_known_class(name):
                tree.unknown_class = True
            for _ in range(n_files):
                stem = draw(st.text(NAME_CHARS, min_size=1, max_size=8))
                ext = draw(st.sampled_from(IMAGE_EXTENSIONS))
                ext = ext.upper() if draw(st.booleans()) else ext
                rel = f"{base}{name}/{'sub/' if nested else ''}{stem}{ext}"
                if rel in tree.files:
                    continue
                content, ok = draw(image_bytes())
                tree.files[rel] = content
                if ok and is_known_class(name):
                    tree.good[rel] = class_of(name)
                    tree.good_split[rel] = split
                elif not ok:
                    tree.bad += 1
            if draw(st.integers(0, 3)) == 0:  # a non-image file beside the images is ignored
                tree.files[f"{base}{name}/{draw(st.sampled_from(README_NAMES))}"] = b"not an image"
    if draw(st.booleans()):  # hidden folders at the top are not class folders
        tree.files[".ipynb_checkpoints/broken.png"] = b"garbage"
    return tree


def check_tree_dataset(out: Any, tree: Tree, on_error: str) -> None:
    refused = failed(out)
    if tree.must_fail(on_error):
        assert isinstance(out, DataError), f"expected a DataError, got {out!r}"
        return
    assert not refused, out
    assert len(out) == len(tree.good), (len(out), tree.good)
    assert out.images.dtype == np.uint8 and out.images.shape[1:3] == (48, 48)
    found = {src: out.classes[lab] for src, lab in zip(out.sources, out.labels)}
    assert found == tree.good
    if tree.kaggle:
        assert dict(zip(out.sources, out.splits)) == tree.good_split
    assert set(out.splits) <= set(SPLITS)


@fuzz()
@given(trees(), st.sampled_from(["raise", "skip"]))
def test_load_dataset_folders(tree: Tree, on_error: str):
    """Folder trees: class folders with odd names, Kaggle split folders, nested, empty and hidden
    folders, unreadable files with image extensions."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "my data"
        root.mkdir()
        tree.write(root)
        out = only_our_errors(load_dataset, root, cache=False, on_error=on_error)
    check_tree_dataset(out, tree, on_error)


def zip_of(files: dict[str, bytes], dirs: list[str] = (), compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for d in dirs:
            zf.writestr(d.rstrip("/") + "/", b"")
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def datasets_dir() -> Path:
    return data_dir() / "datasets"


def partial_folders() -> set[Path]:
    root = datasets_dir()
    return set(root.glob("*.partial*")) if root.is_dir() else set()


def load_zip(content: bytes, stem: str = "upload", **options: Any) -> Any:
    """``load_dataset`` on ``content`` saved as ``<stem>.zip``; asserts no ``*.partial`` folder is left."""
    before = partial_folders()
    with tempfile.TemporaryDirectory() as tmp:
        out = only_our_errors(load_dataset, write_tmp(tmp, f"{stem}.zip", content), cache=False, **options)
    left = partial_folders() - before
    assert not left, f"partial extraction left behind: {sorted(left)}"
    return out


ZIP_COMPRESSIONS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])


@fuzz()
@given(trees(), st.sampled_from(["raise", "skip"]), st.booleans(), st.booleans(), ZIP_COMPRESSIONS,
       st.text(NAME_CHARS, min_size=1, max_size=8))
def test_load_dataset_zip_of_folders(tree: Tree, on_error: str, wrap: bool, macosx: bool, compression: int,
                                     stem: str):
    """Zips of generated trees (in a top folder or not, with __MACOSX junk) load like the folders."""
    # a backslash in a member name is a folder separator (zips written on Windows): not the same tree
    assume(not any("\\" in rel for rel in [*tree.files, *tree.empty_dirs]))
    top = "dataset/" if wrap else ""
    files = {top + rel: content for rel, content in tree.files.items()}
    if macosx:
        files.update({f"__MACOSX/{top}._{rel}": b"\x00\x05\x16\x07junk" for rel in list(tree.files)[:2]})
    out = load_zip(zip_of(files, [top + d for d in tree.empty_dirs], compression), stem, on_error=on_error)
    visible = {rel.split("/", 1)[0] for rel in [*tree.files, *tree.empty_dirs] if not rel.startswith(".")}
    if wrap or len(visible) > 1:  # a zip holding one folder is read from inside that folder
        check_tree_dataset(out, tree, on_error)


@fuzz(0.5)
@given(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"PK\x05\x06" + bytes(18)]), st.binary(max_size=200))
def test_zip_random_bytes(prefix: bytes, tail: bytes):
    """Random bytes named .zip, also behind zip signatures (an empty archive has no class folders)."""
    assert failed(load_zip(prefix + tail))


def small_tree_zip(seed: int, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    rng = np.random.default_rng(seed)
    files = {f"data/{c}/{i}.png": encode(make_pil("L", 12, 12, int(rng.integers(1 << 30))), "PNG")
             for c in ("happy", "sad") for i in range(2)}
    return zip_of(files, compression=compression)


@fuzz(0.5)
@given(st.integers(0, 1000), ZIP_COMPRESSIONS, st.data())
def test_zip_truncated(seed: int, compression: int, data):
    """A valid dataset zip cut at a random offset."""
    raw = small_tree_zip(seed, compression)
    assert failed(load_zip(raw[: data.draw(st.integers(0, len(raw) - 1))]))


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                         zipfile.ZIP_LZMA])
@fuzz(0.4)
@given(seed=st.integers(0, 1000), data=st.data())
def test_zip_flipped_bytes(compression: int, seed: int, data):
    """A valid dataset zip whose bytes (member data, headers, directory) are flipped after writing."""
    raw = bytearray(small_tree_zip(seed, compression))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    out = load_zip(bytes(raw))
    if not failed(out):  # a flip in a timestamp or version field is harmless
        assert len(out) <= 4 and out.images.dtype == np.uint8


@pytest.mark.parametrize("offset", [4, 20], ids=["lzma-properties", "lzma-stream"])
def test_zip_corrupt_lzma_member(offset: int):
    """An LZMA-compressed dataset zip with one byte of the first member's compressed data flipped
    (two inputs pinned from test_zip_flipped_bytes: the LZMA errors once escaped as LZMAError)."""
    raw = bytearray(small_tree_zip(0, zipfile.ZIP_LZMA))
    raw[30 + len("data/happy/0.png") + offset] ^= 0xFF  # local header (30 bytes) + name, then member data
    assert failed(load_zip(bytes(raw)))


def patch_central(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Set a field of every central-directory entry (``offset`` from the ``PK\\x01\\x02`` signature)."""
    out = bytearray(raw)
    i = out.find(b"PK\x01\x02")
    while i >= 0:
        struct.pack_into(fmt, out, i + offset, value)
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


def three_class_zip_files(seed: int) -> dict[str, bytes]:
    return {f"data/{c}/a.png": encode(make_pil("L", 8, 8, seed), "PNG") for c in ("happy", "sad", "fear")}


UNSAFE_MEMBERS = ["../evil.png", "data/../../evil.png", "/abs/evil.png", "data/happy/../../../x.png",
                  "..\\evil.png", "C:/evil.png"]


@fuzz(0.3)
@given(st.sampled_from(UNSAFE_MEMBERS), st.integers(0, 100))
def test_zip_unsafe_member_paths(member: str, seed: int):
    """Members with ``..``, absolute or drive paths (also with backslashes) are refused before anything is written."""
    files = three_class_zip_files(seed)
    files[member] = b"x"
    out = load_zip(zip_of(files))
    assert isinstance(out, DataError) and "unsafe" in str(out), out


@fuzz(0.2)
@given(st.integers(0, 100))
def test_zip_declaring_more_than_the_limit(seed: int):
    """Members whose declared sizes add up to more than the 8 GB unpacking limit (a zip bomb) are refused."""
    out = load_zip(patch_central(zip_of(three_class_zip_files(seed)), 24, "<I", 0xFFFFFFF0))
    assert isinstance(out, DataError) and "limit" in str(out), out


@fuzz(0.3)
@given(st.sampled_from(["encrypted", "unknown_method", "file_folder_clash"]), st.integers(0, 100))
def test_zip_unsupported_members(kind: str, seed: int):
    """Encrypted members, an unknown compression method, a file and a folder of the same name."""
    files = three_class_zip_files(seed)
    if kind == "file_folder_clash":
        files["data/happy"] = b"a file where a folder must go"
    raw = zip_of(files)
    if kind == "encrypted":
        raw = patch_central(raw, 8, "<H", 0x1)
    elif kind == "unknown_method":
        raw = patch_central(raw, 10, "<H", 99)
    assert failed(load_zip(raw))


# --------------------------------------------------------------------------- dataset cache
def tiny_dataset(seed: int, n: int, extras: bool) -> FERDataset:
    rng = np.random.default_rng(seed)
    classes = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    soft = rng.dirichlet(np.ones(7), n).astype(np.float32) if extras else None
    return FERDataset(rng.integers(0, 256, (n, 8, 8), dtype=np.uint8), rng.integers(0, 7, n), classes,
                      rng.choice(SPLITS, n), [f"ü/{i}.png" for i in range(n)], name="tiny", root="/x",
                      soft_labels=soft, not_face=rng.random(n) < 0.5 if extras else None,
                      issues=[LoadIssue("bad.png", "truncated")] if extras else [])


def same_dataset(a: FERDataset, b: FERDataset) -> None:
    for name in ("images", "labels", "splits", "sources", "soft_labels", "not_face"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert (a.classes, a.name, a.root, a.issues) == (b.classes, b.name, b.root, b.issues)


@fuzz()
@given(st.integers(0, 1000), st.integers(1, 5), st.booleans(), st.data())
def test_cache_damaged_npz(seed: int, n: int, extras: bool, data):
    """A cache entry truncated or with flipped bytes is refused (DataError), or read back unchanged."""
    ds = tiny_dataset(seed, n, extras)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "entry.npz"
        save_npz(ds, path)
        raw = bytearray(path.read_bytes())
        if data.draw(st.booleans(), label="truncate"):
            raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        else:
            for _ in range(data.draw(st.integers(1, 6))):
                i = data.draw(st.integers(0, len(raw) - 1))
                raw[i] ^= data.draw(st.integers(1, 255))
        path.write_bytes(bytes(raw))
        out = only_our_errors(load_npz, path)
    if not failed(out):
        same_dataset(out, ds)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)


@fuzz()
@given(st.one_of(json_values, st.fixed_dictionaries(
    {}, optional={"classes": json_values, "name": json_values, "root": json_values,
                  "synthetic": json_values, "issues": json_values})), st.booleans())
def test_cache_garbage_metadata_is_rebuilt(meta: Any, raw_text: bool):
    """An entry with arbitrary metadata is refused by load_npz and rebuilt by cached()."""
    ds = tiny_dataset(0, 3, False)
    with tempfile.TemporaryDirectory() as tmp:
        source = write_tmp(tmp, "source.csv", "emotion,pixels\n")
        entry = cache_dir() / f"{cache_key('fuzz', source, {})}.npz"
        with open(entry, "wb") as fh:
            np.savez(fh, images=ds.images, labels=ds.labels, splits=ds.splits, sources=ds.sources,
                     meta=np.array("{" if raw_text else json.dumps(meta)))
        out = only_our_errors(load_npz, entry)
        if not failed(out):  # only metadata of the right shape and types is trusted
            assert isinstance(out.name, str) and isinstance(out.root, str) and isinstance(out.synthetic, bool)
            assert all(isinstance(c, str) for c in out.classes)
            assert all(isinstance(i.source, str) and isinstance(i.reason, str) for i in out.issues)
        built = cached("fuzz", source, {}, lambda: ds)
        assert built is ds if failed(out) else isinstance(built, FERDataset)
        entry.unlink(missing_ok=True)


# --------------------------------------------------------------------------- training configs
SECTIONS = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec, "augment": AugmentSpec, "eval": EvalSpec,
            "resources": ResourceSpec}
SECTION_KEYS = {name: [f.name for f in fields(cls)] for name, cls in SECTIONS.items()}
TEXT = st.text(max_size=12)


def toml_str(s: str) -> str:
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    """A tiny TOML emitter (independent of the library's writer) for generated values."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_str(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML for {v!r}")


def toml_text(doc: dict[str, Any]) -> str:
    lines = [f"{toml_str(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in ((k, v) for k, v in doc.items() if isinstance(v, dict)):
        lines += ["", f"[{toml_str(name)}]"] + [f"{toml_str(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


toml_scalars = st.one_of(
    st.booleans(), st.integers(), st.sampled_from([0, -1, 2**63 - 1, -(2**63), 10**40, 10**400, -(10**400)]),
    st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]), TEXT,
    st.dates(), st.datetimes(), st.times())
toml_values = st.recursive(
    toml_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6)
#: Values the config writer can write back (TOML dates and times it cannot).
plain_toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.floats(), TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)


def opt(**strategies: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=strategies)


NO_SLASH = st.characters(exclude_characters="/\\\x00", exclude_categories=("Cs",))
MODELS_WITH_DROPOUT = ("five_layer", "baseline_cnn", "fer_net")


@st.composite
def valid_config_dicts(draw) -> dict[str, Any]:
    """Config dicts whose every field is valid, with odd values where they are allowed."""
    doc: dict[str, Any] = {"name": draw(st.text(NO_SLASH, min_size=1, max_size=16).filter(str.strip))}
    doc |= draw(opt(imbalance=st.sampled_from(["none", "class_weight", "oversample", "smote", "adasyn"])))
    unit_open = st.floats(0, 1, exclude_min=True, exclude_max=True)
    doc["data"] = draw(opt(
        path=st.one_of(st.sampled_from(["synthetic", "synthetic:n=100,seed=1", "../shared/data/fer2013"]),
                       st.text(min_size=1, max_size=12).filter(str.strip)),
        format=st.sampled_from(["auto", "synthetic", "fer2013-csv", "folders", "oahega"]),
        size=st.integers(32, 10**30), color=st.sampled_from(["grey", "rgb"]), val_fraction=unit_open,
        subset=st.integers(7, 10**9), seed=st.integers(0, 2**63 - 1),
        label_map=st.dictionaries(TEXT, TEXT, max_size=3), extra=st.sampled_from(["keep", "drop"]),
        ferplus=st.one_of(st.sampled_from(["auto", "none"]), st.text(min_size=1, max_size=12))))
    model = draw(st.sampled_from(MODELS_WITH_DROPOUT))
    doc["model"] = {"name": model} | draw(opt(
        input_size=st.integers(32, 4096), channels=st.sampled_from([1, 3]),
        weights=st.sampled_from(["imagenet", "w.h5", "runs/x.weights.h5"]),
        kwargs=opt(dropout=plain_toml_values)))
    doc["train"] = draw(opt(
        epochs=st.integers(1, 10**20), batch_size=st.integers(1, 4096), optimizer=st.sampled_from(["sgd", "adam"]),
        lr=st.floats(0, 10, exclude_min=True), momentum=st.floats(0, 1, exclude_max=True),
        weight_decay=st.floats(0, 1, exclude_max=True),
        schedule=st.sampled_from(["plateau_halve", "constant", "cosine", "cosine_time"]),
        patience_lr=st.integers(1, 1000), early_stopping=st.integers(0, 1000),
        label_smoothing=st.floats(0, 1, exclude_max=True), soft_labels=st.booleans(),
        soft_weight=st.floats(0, 1, exclude_min=True),
        seed=st.integers(0, 2**63 - 1), time_limit_min=st.floats(0, 1e9, exclude_min=True),
        steps_per_execution=st.integers(1, 64),
        teacher=st.text(min_size=1, max_size=24).filter(str.strip), teacher_weight=st.floats(0, 1, exclude_min=True)))
    if doc["train"].get("schedule") == "cosine_time":
        doc["train"].setdefault("time_limit_min", 44.0)
    doc["augment"] = draw(opt(
        enabled=st.booleans(), flip=st.booleans(), rotation=st.floats(0, 180), zoom=st.floats(0, 1, exclude_max=True),
        shift=st.floats(0, 1, exclude_max=True),
        corruptions=st.lists(st.sampled_from([*CORRUPTIONS, *SUBSETS, "all"]), max_size=3),
        erasing=st.floats(0, 1), mixup=st.floats(0, 1), cutmix=st.floats(0, 1), corruption_p=st.floats(0, 1),
        corruption_max_severity=st.integers(1, 5)))
    doc["eval"] = draw(opt(tta=st.sampled_from(["none", "flip", "shift", "tencrop"])))
    doc["resources"] = draw(opt(cpus=st.floats(0, 1024, exclude_min=True), gpus=st.floats(0, 64),
                                memory_gb=st.floats(0, 1e5, exclude_min=True)))
    for section in [s for s in SECTIONS if not doc[s] and draw(st.booleans())]:
        del doc[section]
    return doc


def config_repr(cfg) -> str:
    return repr(config_to_dict(cfg))


@fuzz(0.7)
@given(valid_config_dicts(), st.booleans())
def test_config_valid_round_trip(doc: dict[str, Any], windows_file: bool):
    """Valid configs load from a dict and from TOML alike, and write then read back unchanged
    (also saved with a BOM and CRLF line ends, as Windows editors do)."""
    cfg = load_config(doc)
    with tempfile.TemporaryDirectory() as tmp:
        assert config_repr(load_config(write_tmp(tmp, "a.toml", toml_text(doc)))) == config_repr(cfg)
        path = Path(tmp) / "b.toml"
        dump_config(cfg, path)
        assert config_repr(load_config(path)) == config_repr(cfg)
        if windows_file:
            text = "\ufeff" + to_toml(cfg).replace("\n", "\r\n")
            assert config_repr(load_config(write_tmp(tmp, "c.toml", text))) == config_repr(cfg)


#: Values that break naive checks: huge ints (no float), NaN, infinities, empty and numeric strings.
EDGE_VALUES = [10**400, -(10**400), 2**63, -1, 0, math.nan, math.inf, -math.inf, -0.0, 1e308, "", " ", "1",
               "nan", True, False, [], {}, [1], dt.date(2024, 1, 1)]


@st.composite
def mutated_config_dicts(draw) -> dict[str, Any]:
    """A valid config dict with 1-3 random edits: wrong types and values, unknown keys and sections."""
    doc = draw(valid_config_dicts())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", *SECTIONS, "new_section"]))
        how = draw(st.sampled_from(["set", "set", "set", "delete", "not_a_table"]))
        value = draw(st.one_of(st.sampled_from(EDGE_VALUES), toml_values))
        if where == "top":
            key = draw(st.one_of(st.sampled_from(["name", "imbalance", *SECTIONS]), TEXT))
            if how == "delete":
                doc.pop(key, None)
            else:
                doc[key] = value
        elif where == "new_section":
            doc[draw(TEXT)] = draw(st.dictionaries(TEXT, toml_values, max_size=2))
        elif how == "not_a_table":
            doc[where] = value
        else:
            table = doc.setdefault(where, {})
            if not isinstance(table, dict):
                continue
            key = draw(st.one_of(st.sampled_from(SECTION_KEYS[where]), TEXT))
            if how == "delete":
                table.pop(key, None)
            else:
                table[key] = value
    return doc


@fuzz()
@given(mutated_config_dicts())
@example({"name": "x", "train": {"lr": 10**400}})
@example({"name": "x", "train": {"epochs": -1, "lr": math.nan}, "augment": {"rotation": math.inf}})
@example({"name": "x", "data": "fer2013.csv", "extra_section": {"a": 1}})
@example({"name": "x", "model": {"input_size": "48", "channels": 3.0}})
def test_config_bad_values(doc: dict[str, Any]):
    """Negative epochs, NaN/inf, huge ints, strings for numbers, dates, unknown keys and sections:
    ConfigError naming the field, the same from a dict as from TOML; what loads also round-trips."""
    from_dict = only_our_errors(load_config, doc)
    with tempfile.TemporaryDirectory() as tmp:
        from_toml = only_our_errors(load_config, write_tmp(tmp, "run.toml", toml_text(doc)))
        if "name" in doc:  # a TOML file without a name takes its file name
            assert failed(from_dict) == failed(from_toml), (from_dict, from_toml)
            if not failed(from_dict):
                assert config_repr(from_dict) == config_repr(from_toml)
        for cfg in (from_dict, from_toml):
            if failed(cfg):
                assert isinstance(cfg, ConfigError), cfg
            else:
                path = Path(tmp) / "back.toml"
                written = only_our_errors(dump_config, cfg, path)
                if not failed(written):  # e.g. a date in model.kwargs cannot be written back
                    assert config_repr(load_config(path)) == config_repr(cfg)


@fuzz()
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200),
                 st.builds(lambda d, cut: toml_text(d)[:cut], valid_config_dicts(), st.integers(0, 400))))
@example('name = "x"\n[train]\nlr = ' + "9" * 5000)  # Python refuses ints of over 4300 digits
@example(b"\xff\xfename = 1")
def test_config_random_toml_text(content: str | bytes):
    """Random text and bytes, and valid configs cut short, as a .toml file: ConfigError or a config."""
    with tempfile.TemporaryDirectory() as tmp:
        out = only_our_errors(load_config, write_tmp(tmp, "run.toml", content))
    assert failed(out) or config_to_dict(out)["name"]


DOTTED_KEYS = ["name", "imbalance", "model.kwargs.dropout", "data.label_map.Happy"] + [
    f"{s}.{k}" for s, keys in SECTION_KEYS.items() for k in keys]
LITERALS = ["1", "-3", "0.5", "nan", "inf", "true", "none", "null", '"adam"', "[1, 2]", "{a = 1}",
            "1979-05-27", "9" * 40, "9" * 400, "-" + "9" * 400, "", "=", '"unterminated', "1\n[x]", "adam"]


#: Overrides that are valid on their own (a list of them must load).
GOOD_ASSIGNMENTS = ["train.lr=0.01", "train.epochs=5", "train.optimizer=sgd", "augment.flip=false",
                    "model.name=fer_net", "model.kwargs.dropout=0.3", "data.path=synthetic:n=100",
                    "data.label_map.Fröhlich=happy", "name=my run", "eval.tta=flip", "data.size=none"]


@fuzz()
@given(st.lists(st.one_of(
    st.sampled_from(GOOD_ASSIGNMENTS), st.sampled_from(GOOD_ASSIGNMENTS),
    st.builds("{}={}".format, st.one_of(st.sampled_from(DOTTED_KEYS), TEXT),
              st.one_of(st.sampled_from(LITERALS), TEXT)),
    TEXT), max_size=4))
@example(["train.lr=" + "9" * 400, "train.epochs=" + "9" * 5000])
@example(["train.epochs=-1", "model.kwargs.dropout=nan"])
@example(["data.label_map=1", "data.label_map.Fröhlich=happy"])
def test_config_set_overrides(assignments: list[str]):
    """``--set key=value`` strings: TOML literals, bare words, unknown and malformed keys."""
    base = load_config({"name": "base"})
    out = only_our_errors(apply_overrides, base, assignments)
    if all(a in GOOD_ASSIGNMENTS for a in assignments):
        assert not failed(out), out
    if not failed(out):
        assert config_repr(load_config(config_to_dict(out))) == config_repr(out)


@fuzz()
@given(st.dictionaries(st.one_of(st.sampled_from(DOTTED_KEYS), TEXT, st.integers()),
                       st.one_of(st.sampled_from(EDGE_VALUES), toml_values), max_size=3))
@example({"model.kwargs": [1], "model.kwargs.dropout": 0.3})
def test_config_override_mapping(overrides: dict[Any, Any]):
    """Overrides given as a mapping (the Python API): any keys, any values."""
    out = only_our_errors(apply_overrides, load_config({"name": "base"}), overrides)
    if not failed(out):
        assert config_repr(load_config(config_to_dict(out))) == config_repr(out)


# --------------------------------------------------------------------------- robustness
def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` three times in four, else ``bad``: enough valid calls to check their results too."""
    return st.integers(0, 3).flatmap(lambda k: good if k else bad)


@st.composite
def uint8_images(draw, max_side: int = 64) -> np.ndarray:
    """uint8 images (h, w), (h, w, 1) or (h, w, 3), sides 1..64, also Fortran-ordered, flipped or strided."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    channels = draw(st.sampled_from([(), (1,), (3,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    layout = draw(st.sampled_from(["c", "fortran", "flipped", "strided"]))
    if layout == "strided":
        return rng.integers(0, 256, (2 * h, 2 * w, *channels), dtype=np.uint8)[::2, ::2]
    img = rng.integers(0, 256, (h, w, *channels), dtype=np.uint8)
    return np.asfortranarray(img) if layout == "fortran" else img[::-1, ::-1] if layout == "flipped" else img


bad_images = st.one_of(
    st.builds(lambda img, dtype: img.astype(dtype), uint8_images(),
              st.sampled_from([np.float32, np.float64, np.int16, np.int64, np.uint16, bool])),
    st.sampled_from([(16, 16, 2), (16, 16, 4), (16,), (2, 16, 16, 3), (0, 16), (16, 16, 0), ()]).map(
        lambda shape: np.zeros(shape, np.uint8)),
    st.sampled_from([None, "face.png", 3, 2.5, [], [[1, 2], [3]], [[0] * 8] * 8, {"pixels": 1}, b"\x00" * 64]),
)
MIN_SIDE = 8  # corruptions and what-if edits need images at least 8x8


def valid_image(img: Any) -> bool:
    return (isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.size > 0
            and (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3))) and min(img.shape[:2]) >= MIN_SIDE)


def int_like(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


numbers = st.one_of(
    st.integers(-10, 10), st.integers(), st.sampled_from([10**400, -(10**400)]), st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, np.float32("nan"), np.int64(3), np.uint8(2),
                     np.float64(2.0), np.complex128(1 + 1j), True, False]),
    st.none(), TEXT)
severities = mostly(st.integers(0, 5), numbers)
names = mostly(st.sampled_from(list(CORRUPTIONS)),
               st.one_of(st.sampled_from(list(SUBSETS)), TEXT, st.none(), st.just(3)))
seeds = mostly(st.one_of(st.integers(0, 2**64), st.none(), st.sampled_from([np.int64(7), 10**30])),
               st.one_of(st.integers(-5, -1), st.floats(), TEXT, st.just(True)))


def valid_seed(seed: Any) -> bool:
    return seed is None or (int_like(seed) and seed >= 0)


def valid_severity(severity: Any) -> bool:
    return int_like(severity) and 0 <= severity <= 5


@fuzz()
@given(mostly(uint8_images(), bad_images), names, severities, seeds)
@example([[1, 2], [3]], "gamma", 1, 0)
@example(np.zeros((7, 64), np.uint8), "gamma", 1, 0)
def test_corrupt(image: Any, name: Any, severity: Any, seed: Any):
    """One image of any size, dtype and layout; any name, severity and seed."""
    out = only_our_errors(corrupt, image, name, severity, seed)
    if valid_image(image) and name in CORRUPTIONS and valid_severity(severity) and valid_seed(seed):
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == image.shape, out
    else:
        assert failed(out), f"accepted bad input, returned {type(out).__name__}"


@st.composite
def batches(draw) -> np.ndarray:
    n = draw(st.integers(0, 4))
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    channels = draw(st.sampled_from([(), (1,), (3,)]))
    return np.random.default_rng(n * h * w).integers(0, 256, (n, h, w, *channels), dtype=np.uint8)


def valid_batch(x: Any, allow_float: bool = False) -> bool:
    return (isinstance(x, np.ndarray) and (x.dtype == np.uint8 or (allow_float and x.dtype.kind == "f"))
            and (x.ndim == 3 or (x.ndim == 4 and x.shape[3] in (1, 3))) and min(x.shape[1:3]) >= MIN_SIDE)


@fuzz()
@given(mostly(batches(), st.one_of(uint8_images(24), bad_images)), names, severities, seeds)
def test_corrupt_batch(images: Any, name: Any, severity: Any, seed: Any):
    """Batches of 0-4 images (a single image passed as a batch is refused unless it looks like one)."""
    out = only_our_errors(corrupt_batch, images, name, severity, seed)
    if valid_batch(images) and name in CORRUPTIONS and valid_severity(severity) and valid_seed(seed):
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == images.shape
    else:
        assert failed(out), f"accepted bad input, returned {type(out).__name__}"


corruption_lists = mostly(
    st.one_of(st.lists(st.sampled_from([*CORRUPTIONS, *SUBSETS, "all"]), min_size=1, max_size=3),
              st.sampled_from([*CORRUPTIONS, *SUBSETS, "all"]), st.none()),
    st.one_of(st.lists(TEXT, max_size=2), st.just(3), st.just([1, "noise"])))


def valid_names(v: Any) -> bool:
    known = {*CORRUPTIONS, *SUBSETS, "all"}
    if v is None:
        return True
    if isinstance(v, str):
        return v in known
    return isinstance(v, list) and len(v) > 0 and all(isinstance(n, str) and n in known for n in v)


@fuzz()
@given(mostly(st.one_of(batches(), batches().map(lambda b: b.astype(np.float32))), bad_images), corruption_lists,
       mostly(st.floats(0, 1), numbers), mostly(st.integers(1, 5), numbers), seeds)
@example(np.zeros((2, 8, 8), np.uint8), "noise", 10**400, 3, 0)
@example([[1, 2], [3]], "noise", 0.5, 3, 0)
def test_augment_batch(images: Any, names: Any, p: Any, max_severity: Any, seed: Any):
    """Training augmentation: uint8 or float batches, any names, probability, severity and seed."""
    out = only_our_errors(augment_batch, images, names, p, max_severity, seed)
    ok_p = isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, (bool, np.bool_)) \
        and 0 <= p <= 1
    ok_top = int_like(max_severity) and 1 <= max_severity <= 5
    if valid_batch(images, allow_float=True) and valid_names(names) and ok_p and ok_top and valid_seed(seed):
        assert isinstance(out, np.ndarray) and out.dtype == images.dtype and out.shape == images.shape
    else:
        assert failed(out), f"accepted bad input, returned {type(out).__name__}"


#: The what-if sliders' ranges (dashboard/views/robustness.py stays inside them).
WHATIF_RANGES = {
    "brightness": (-1.0, 1.0), "gamma": (0.1, 10.0), "contrast": (0.0, 3.0), "noise": (0.0, 255.0),
    "blur": (0.0, 20.0), "jpeg_quality": (1, 100), "rotation": (-180.0, 180.0),
    "occlusion_x": (0.0, 1.0), "occlusion_y": (0.0, 1.0), "occlusion_size": (0.0, 1.0),
}


def slider(name: str) -> st.SearchStrategy:
    lo, hi = WHATIF_RANGES[name]
    good = st.integers(lo, hi) if name == "jpeg_quality" else st.floats(lo, hi)
    return st.integers(0, 9).flatmap(lambda k: good if k else numbers)  # several sliders per call


whatif_params = st.fixed_dictionaries({}, optional={
    **{name: slider(name) for name in WHATIF_RANGES},
    "occlusion": mostly(st.sampled_from([None, *OCCLUSIONS]), st.one_of(TEXT, st.just(1)))})


def valid_slider(name: str, v: Any) -> bool:
    lo, hi = WHATIF_RANGES[name]
    if isinstance(v, (bool, np.bool_)):
        return False
    if name == "jpeg_quality":
        return int_like(v) and lo <= v <= hi
    if isinstance(v, (int, np.integer)):
        return lo <= v <= hi
    return isinstance(v, (float, np.floating)) and math.isfinite(v) and lo <= v <= hi


@fuzz()
@given(mostly(uint8_images(), bad_images), whatif_params, seeds)
@example(np.zeros((8, 8), np.uint8), {"brightness": 10**400}, 0)
@example(np.zeros((8, 8), np.uint8), {"gamma": np.complex128(1 + 1j), "jpeg_quality": 50.0}, 0)
@example(np.zeros((8, 8, 3), np.uint8), {"noise": math.nan, "occlusion": "sunglasses"}, 0)
def test_apply_whatif(image: Any, params: dict[str, Any], seed: Any):
    """Every slider at any value (NaN, inf, huge, negative, complex, wrong type) on any image."""
    out = only_our_errors(apply_whatif, image, WhatIf(**params), seed)
    ok_params = all(valid_slider(k, v) if k in WHATIF_RANGES else v is None or v in OCCLUSIONS
                    for k, v in params.items())
    if valid_image(image) and ok_params and valid_seed(seed):
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == image.shape
    else:
        assert failed(out), f"accepted bad input, returned {type(out).__name__}"


def test_apply_whatif_needs_a_whatif():
    out = only_our_errors(apply_whatif, np.zeros((16, 16), np.uint8), {"brightness": 0.2})
    assert isinstance(out, ConfigError) and "WhatIf" in str(out)


predictions = st.one_of(
    st.integers(1, 9).map(lambda c: np.full((1, c), 1.0 / c)),
    st.integers(1, 9).map(lambda c: np.ones((1, c), np.int64)),
    st.sampled_from([None, "happy", 3, [], [[]], [[0.5, "x"]], [["a", "b"]], [[None, 0.1]], [[0.1], [0.2, 0.3]],
                     np.zeros((2, 7)), np.zeros(7), np.zeros((1, 7, 1)), np.zeros((1, 0)),
                     np.array([[1 + 2j, 0.5]]), {"happy": 0.9}]))


@fuzz(0.5)
@given(predictions)
@example([[0.5, "x"]])
def test_whatif_predict_with_garbage_model_output(probs: Any):
    """A predict_fn returning anything but probabilities of shape (1, n_classes) is named as such."""
    out = only_our_errors(whatif_predict, lambda batch: probs, np.zeros((16, 16), np.uint8), WhatIf())
    arr = np.asarray(probs) if isinstance(probs, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iuf" and arr.ndim == 2 and arr.shape[0] == 1 and arr.shape[1] >= 1:
        edited, p = out
        assert edited.shape == (16, 16) and p.dtype == np.float64 and p.shape == (arr.shape[1],)
    else:
        assert failed(out), f"accepted {probs!r}"
