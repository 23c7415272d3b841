"""Every loader on small files the tests build themselves, plus each bad-input case."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_core import CLASSES
from fer_core.data import (
    FERDataset,
    attach_ferplus,
    load_dataset,
    load_fer2013_csv,
    load_ferplus,
    load_folders,
    load_oahega,
    resplit,
    subject_of,
    with_val_split,
    write_fer2013_csv,
)
from fer_core.data.cache import fingerprint
from fer_core.errors import DataError, ImageReadError

KAGGLE = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def face(seed: int, size: int = 48, rgb: bool = False) -> np.ndarray:
    """A distinct random-ish image per seed (smooth blobs, so JPEG keeps it recognisable)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6) + ((3,) if rgb else ()), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.BILINEAR))


def save(path: Path, arr: np.ndarray, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)
    return path


@pytest.fixture
def kaggle_root(tmp_path) -> Path:
    """FER2013 Kaggle layout: train/<class>/*.jpg and test/<class>/*.jpg, 3 + 1 images per class."""
    root = tmp_path / "fer2013"
    k = 0
    for split, n in (("train", 3), ("test", 1)):
        for cls in KAGGLE:
            for _ in range(n):
                save(root / split / cls / f"{split.title()}_{k}.jpg", face(k))
                k += 1
    return root


# ----------------------------------------------------------------------------- FER2013 CSV
def test_fer2013_csv_built_from_images(kaggle_root, tmp_path):
    folders = load_folders(kaggle_root)
    csv_path = tmp_path / "fer2013.csv"
    write_fer2013_csv(folders, csv_path, usage_names={"train": "Training", "test": "PublicTest"})
    ds = load_fer2013_csv(csv_path)
    assert ds.classes == CLASSES and len(ds) == len(folders) == 28
    np.testing.assert_array_equal(ds.images, folders.images)
    np.testing.assert_array_equal(ds.labels, folders.labels)
    assert set(ds.splits) == {"train", "val"}  # PublicTest -> val by default
    assert ds.sources[0] == "fer2013.csv#row=0"
    assert load_fer2013_csv(csv_path, usage_map={"Training": "train", "PublicTest": "test"}).available_splits() == ["train", "test"]


def _write_csv(path: Path, rows: list[str], header: str = "emotion,pixels,Usage") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD = "3," + " ".join(["10"] * 2304) + ",Training"


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("3," + " ".join(["10"] * 2000) + ",Training", "pixels has 2000 values, expected 2304"),
        ("3," + " ".join(["10"] * 2303 + ["x7"]) + ",Training", "non-numeric value 'x7'"),
        ("3," + " ".join(["300"] * 2304) + ",Training", "must lie in 0..255"),
        ("9," + " ".join(["10"] * 2304) + ",Training", "emotion 9 is outside 0..6"),
        ("happy," + " ".join(["10"] * 2304) + ",Training", "not an integer"),
        ("3," + " ".join(["10"] * 2304) + ",Holdout", "Usage 'Holdout'"),
    ],
)
def test_fer2013_csv_bad_rows_name_the_row(tmp_path, bad_row, message):
    path = _write_csv(tmp_path / "bad.csv", [GOOD, bad_row, GOOD])
    with pytest.raises(DataError) as err:
        load_fer2013_csv(path)
    assert "bad.csv line 3 (row 1)" in str(err.value) and message in str(err.value)
    skipped = load_fer2013_csv(path, on_error="skip")
    assert len(skipped) == 2 and len(skipped.issues) == 1
    assert skipped.issues[0].source == "bad.csv#row=1" and message in skipped.issues[0].reason
    assert list(skipped.sources) == ["bad.csv#row=0", "bad.csv#row=2"]


def test_fer2013_csv_structure_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing column\(s\) \['pixels'\]"):
        load_fer2013_csv(_write_csv(tmp_path / "a.csv", ["3,Training"], header="emotion,Usage"))
    with pytest.raises(DataError, match="no such file"):
        load_fer2013_csv(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="not a readable CSV"):
        load_fer2013_csv(tmp_path / "empty.csv")
    only_bad = _write_csv(tmp_path / "b.csv", ["3,1 2 3,Training"])
    with pytest.raises(DataError, match="no usable rows"):
        load_fer2013_csv(only_bad, on_error="skip")


def test_csv_without_usage_is_all_train(tmp_path):
    ds = load_fer2013_csv(_write_csv(tmp_path / "c.csv", ["3," + " ".join(["1"] * 2304)], header="emotion,pixels"))
    assert list(ds.splits) == ["train"] and ds.classes[ds.labels[0]] == "happy"


# ----------------------------------------------------------------------------- folders
def test_kaggle_folders(kaggle_root):
    ds = load_folders(kaggle_root)
    assert ds.classes == CLASSES and ds.images.shape == (28, 48, 48) and ds.images.dtype == np.uint8
    counts = ds.counts()
    assert counts.loc["neutral", "train"] == 3 and counts.loc["neutral", "test"] == 1
    assert counts["total"].sum() == 28
    assert ds.sources[0].startswith("test/angry/") or ds.sources[0].startswith("train/angry/")
    # Labels follow the folder, wherever the class sits in Kaggle's alphabetical order.
    src = list(ds.sources).index("train/neutral/Train_12.jpg")
    assert ds.classes[ds.labels[src]] == "neutral"
    # Round trip to the file the prediction will be traced back to.
    assert (Path(ds.root) / ds.sources[src]).is_file()


def test_class_folders_with_label_map_extra_and_resize(tmp_path):
    root = tmp_path / "ckplus"
    k = 0
    for cls in ("anger", "contempt", "happy", "sadness", "surprise", "fear", "disgust"):
        for subj in range(6):
            save(root / cls / f"S{subj + 10:03d}_00{k % 3}_0000001{k % 9}.png", face(k, size=64))
            k += 1
    kept = load_folders(root)
    assert kept.classes == CLASSES + ("contempt",)
    assert kept.image_size == (48, 48)  # resized from 64 by default
    assert (kept.classes[kept.labels[0]]) in ("angry",)
    dropped = load_folders(root, extra="drop", size=64)
    assert dropped.classes == CLASSES and len(dropped) == 36 and dropped.image_size == (64, 64)
    remapped = load_folders(root, label_map={"contempt": "disgust"})
    assert remapped.classes == CLASSES and (remapped.labels == CLASSES.index("disgust")).sum() == 12
    # CK+ names: grouped by subject, so no subject appears in two splits.
    subjects = pd.DataFrame({"s": [subject_of(s) for s in kept.sources], "split": kept.splits})
    assert subjects.groupby("s")["split"].nunique().max() == 1
    assert set(kept.splits) == {"train", "val", "test"}


def test_unknown_and_empty_class_folders(tmp_path):
    root = tmp_path / "own"
    save(root / "happy" / "a.png", face(1))
    save(root / "misc" / "b.png", face(2))
    with pytest.raises(DataError, match=r"unknown class 'misc'.*label_map"):
        load_folders(root)
    assert load_folders(root, label_map={"misc": None}).classes == CLASSES
    (root / "misc" / "b.png").unlink()
    with pytest.raises(DataError, match=r"misc: class folder is empty .* read as one folder per class.*--skip-bad"):
        load_folders(root, label_map={"misc": None})
    ds = load_folders(root, label_map={"misc": None}, on_error="skip")
    assert len(ds) == 1 and ds.issues[0].source == "misc"


def test_folder_bad_files_raise_or_are_skipped(tmp_path):
    root = tmp_path / "own"
    for i in range(4):
        save(root / "happy" / f"ok{i}.png", face(i))
    (root / "happy" / "empty.jpg").write_bytes(b"")
    (root / "happy" / "notes.png").write_text("hello, not an image")
    good = io.BytesIO()
    Image.fromarray(face(9)).save(good, format="JPEG")
    (root / "happy" / "cut.jpg").write_bytes(good.getvalue()[:100])
    with pytest.raises(ImageReadError, match="happy/"):
        load_folders(root)
    ds = load_folders(root, on_error="skip")
    assert len(ds) == 4
    reasons = {i.source: i.reason for i in ds.issues}
    assert "empty file" in reasons["happy/empty.jpg"]
    assert "not an image" in reasons["happy/notes.png"]
    assert "truncated or corrupt" in reasons["happy/cut.jpg"]


def test_not_a_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_folders(tmp_path / "nothing")
    (tmp_path / "flat").mkdir()
    save(tmp_path / "flat" / "x.png", face(0))
    with pytest.raises(DataError, match="no class folders"):
        load_folders(tmp_path / "flat")


def test_mixed_sizes_need_a_size(tmp_path):
    root = tmp_path / "own"
    save(root / "happy" / "a.png", face(1, size=40))
    save(root / "happy" / "b.png", face(2, size=60))
    with pytest.raises(DataError, match="different sizes"):
        load_folders(root, size=None)
    assert load_folders(root).image_size == (48, 48)


# ----------------------------------------------------------------------------- OAHEGA
@pytest.fixture
def oahega_root(tmp_path) -> Path:
    root = tmp_path / "oahega"
    rows = []
    k = 0
    for cls in ("Happy", "Angry", "Sad", "Neutral", "Surprise", "Ahegao"):
        for i in range(5):
            rel = f"{cls}/img_{k}.jpg"
            save(root / rel, face(k, size=80, rgb=True))
            rows.append(f"dataset/{rel},{cls}")  # archive-style leading folder
            k += 1
    (root / "data.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    return root


def test_oahega(oahega_root):
    ds = load_oahega(oahega_root)
    assert ds.images.shape == (30, 48, 48, 3) and ds.channels == 3
    assert ds.classes == CLASSES + ("ahegao",)
    assert ds.counts().loc["ahegao", "total"] == 5 and ds.counts().loc["disgust", "total"] == 0
    assert ds.sources[0].endswith(".jpg") and (Path(ds.root) / ds.sources[0]).is_file()
    assert load_oahega(oahega_root, extra="drop").classes == CLASSES
    assert load_dataset(oahega_root, cache=False).name == "oahega"


def test_oahega_missing_file_and_bad_csv(oahega_root):
    (oahega_root / "Happy" / "img_0.jpg").unlink()
    with pytest.raises(DataError, match=r"data.csv row 0 \(line 2\): file 'dataset/Happy/img_0.jpg' not found"):
        load_oahega(oahega_root)
    assert len(load_oahega(oahega_root, on_error="skip").issues) == 1
    (oahega_root / "data.csv").write_text("file,emotion\nx,y\n")
    with pytest.raises(DataError, match="needs columns path,label"):
        load_oahega(oahega_root)


# ----------------------------------------------------------------------------- FER+
def test_ferplus_votes_from_map_and_rows(kaggle_root, tmp_path):
    ds = load_folders(kaggle_root)
    header = "file,usage,fer2013_label,ferplus_image,n_candidates,candidates,rms,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    rows = [
        f"{ds.sources[0]},Training,angry,fer1.png,1,fer1.png,1.0,2,0,0,0,8,0,0,0,0,0",
        f"{ds.sources[1]},Training,angry,,0,,,,,,,,,,,,",  # not a face (no FER+ image)
        f"{ds.sources[2]},Training,angry,fer3.png,1,fer3.png,1.0,0,0,0,0,0,0,0,0,2,8",  # NF majority
    ]
    (tmp_path / "map.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    votes = load_ferplus(tmp_path / "map.csv")
    assert list(votes["majority"]) == ["angry", "not_face", "not_face"]
    out = attach_ferplus(ds, votes)
    np.testing.assert_allclose(out.soft_labels[0, CLASSES.index("angry")], 0.8)
    np.testing.assert_allclose(out.soft_labels[0, CLASSES.index("neutral")], 0.2)
    assert out.not_face[:3].tolist() == [False, True, True] and not out.not_face[3:].any()
    assert out.soft_labels[3:].sum() == 0

    new = tmp_path / "fer2013new.csv"
    new.write_text("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
                   "Training,fer0.png,0,10,0,0,0,0,0,0,0,0\nTraining,,0,0,0,0,0,0,0,0,0,10\n")
    csv_ds = FERDataset(np.zeros((2, 48, 48), np.uint8), [3, 0], CLASSES, ["train", "train"],
                        ["fer2013.csv#row=0", "fer2013.csv#row=1"])
    out = attach_ferplus(csv_ds, new)
    assert out.soft_labels[0, CLASSES.index("happy")] == 1 and out.not_face.tolist() == [False, True]


def test_ferplus_errors(tmp_path, kaggle_root):
    (tmp_path / "v.csv").write_text("file,neutral\nx,1\n")
    with pytest.raises(DataError, match="missing FER\\+ vote column"):
        load_ferplus(tmp_path / "v.csv")
    (tmp_path / "w.csv").write_text("file,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
                                    "elsewhere.jpg,1,0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataError, match="none of the 28 images"):
        attach_ferplus(load_folders(kaggle_root), tmp_path / "w.csv")


# ----------------------------------------------------------------------------- splits, cache, dispatch
def test_stratified_splits_are_seeded():
    labels = np.repeat(np.arange(7), 30)
    ds = FERDataset(np.zeros((210, 48, 48), np.uint8), labels, CLASSES, ["train"] * 210,
                    [f"x{i}" for i in range(210)])
    a = resplit(ds, (0.7, 0.15, 0.15), seed=1, groups=None)
    b = resplit(ds, (0.7, 0.15, 0.15), seed=1, groups=None)
    c = resplit(ds, (0.7, 0.15, 0.15), seed=2, groups=None)
    np.testing.assert_array_equal(a.splits, b.splits)
    assert (a.splits != c.splits).any()
    counts = a.counts()
    assert counts["val"].isin([4, 5]).all() and counts["test"].isin([4, 5]).all()
    assert (counts["train"] + counts["val"] + counts["test"] == 30).all()
    v = with_val_split(a, 0.2, seed=0, groups=None)
    assert (v.splits[a.splits == "test"] == "test").all()  # test untouched
    assert (v.splits == "val").sum() > (a.splits == "val").sum()
    assert ds.split_note == "" and a.split_note == "split at random by class, train/val/test 70/15/15 %, seed 1"
    assert v.split_note == a.split_note and a.split("test").split_note == a.split_note


def test_cache_reuses_and_invalidates(kaggle_root):
    first = load_dataset(kaggle_root)
    second = load_dataset(kaggle_root)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.sources, second.sources)
    assert first.split_note == second.split_note == ""  # the data's own split folders
    flat = load_dataset(kaggle_root / "train")  # class folders only: the loader splits them
    assert flat.split_note.startswith("split at random by class") and load_dataset(kaggle_root / "train").split_note == flat.split_note
    before = fingerprint(kaggle_root)
    save(kaggle_root / "train" / "happy" / "Train_new.jpg", face(999))
    assert fingerprint(kaggle_root) != before
    assert len(load_dataset(kaggle_root)) == len(first) + 1


def test_zip_upload_and_format_detection(kaggle_root, tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in kaggle_root.rglob("*.jpg"):
            zf.write(p, Path("fer2013") / p.relative_to(kaggle_root))
    ds = load_dataset(archive, cache=False)
    assert len(ds) == 28 and ds.available_splits() == ["train", "test"]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(DataError, match="unsafe entry name"):
        load_dataset(evil)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(DataError, match="not a valid .zip"):
        load_dataset(tmp_path / "broken.zip")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="without emotion,pixels"):
        load_dataset(tmp_path / "other.csv")
    with pytest.raises(DataError, match="format must be one of"):
        load_dataset(kaggle_root, format="parquet")
