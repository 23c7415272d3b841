"""Bad input on the command line: exit status 2, one line naming the file/row/field and what to do,
nothing half-written. Each case is a row of the README table "What bad input gets"."""
from __future__ import annotations

import io
import re
import json
import struct
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from fer_core.cli import main

CSV_HEADER = "emotion,pixels,Usage\n"
PIXELS = " ".join(["128"] * 48 * 48)


def _png(size=(48, 48), mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _encrypted_zip() -> bytes:
    b = bytearray(_zip({"faces/happy/0.png": _png()}))
    struct.pack_into("<H", b, b.index(b"PK\x01\x02") + 8, 1)
    struct.pack_into("<H", b, 6, 1)
    return bytes(b)


def _write(t: Path, name: str, data: bytes | str) -> str:
    path = t / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def _lambda_model(t: Path) -> str:
    import keras

    inp = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda v: v / 255.0, name="scale")(inp)
    out = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x))
    keras.Model(inp, out).save(t / "lambda.keras")
    return str(t / "lambda.keras")


def _corrupt_zip() -> bytes:
    data = _zip({"faces/happy/0.png": bytes(range(256)) * 64})
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    b = bytearray(data)
    start = info.header_offset + 30 + len(info.filename)
    b[start + 2:start + 40] = b"\xff" * 38
    return bytes(b)


def _method_zip(method: int) -> bytes:
    b = bytearray(_zip({"faces/happy/0.png": _png()}))
    struct.pack_into("<H", b, b.index(b"PK\x01\x02") + 10, method)
    struct.pack_into("<H", b, 8, method)
    return bytes(b)


def _ensemble(t: Path, members: list[str]) -> str:
    entry = {"kind": "fer_studio.ensemble", "version": 1, "name": "e", "tta": "none",
             "members": [{"ref": m, "weight": 1.0} for m in members]}
    return _write(t, "ens.json", json.dumps(entry))


def _video(t: Path, name: str, frames: int = 3, size: tuple[int, int] = (160, 120)) -> Path:
    """A small clip written with OpenCV (MJPG for .avi, mp4v otherwise), its content named ``name``."""
    from fer_core.video.synthetic import write_clip

    real = t / f"src-{name}{'.avi' if name.endswith('.avi') else '.mp4'}"
    write_clip(real, (np.zeros((size[1], size[0], 3), np.uint8) for _ in range(frames)), fps=10)
    return real.rename(t / name)


def _half(data: bytes) -> bytes:
    return data[:len(data) // 2]


def _unknown_codec(t: Path) -> str:
    """An AVI whose codec tag (MJPG) is replaced by one no decoder knows."""
    path = _video(t, "q.avi")
    path.write_bytes(path.read_bytes().replace(b"MJPG", b"QQQQ"))
    return str(path)


def _video_out(t: Path) -> list[str]:
    """Outputs a failed video analysis must not leave behind."""
    return ["--csv", str(t / "out.csv"), "--annotate", str(t / "annotated")]


Argv = Callable[[Path, str], list[str]]
#: case id -> (argv builder taking (tmp folder, a valid model path), regex the one error line must match)
CASES: dict[str, tuple[Argv, str]] = {
    # photos
    "photo-empty": (lambda t, m: ["predict", m, _write(t, "e.jpg", b"")], r"e.jpg: empty file \(0 bytes\)"),
    "photo-truncated": (lambda t, m: ["predict", m, _write(t, "t.png", _png((64, 64))[:60])], r"t.png: truncated or corrupt"),
    "photo-not-an-image": (lambda t, m: ["predict", m, _write(t, "n.jpg", "hello, I am text")], r"n.jpg: not an image"),
    "photo-missing": (lambda t, m: ["predict", m, str(t / "nowhere.jpg")], r"nowhere.jpg: cannot read file"),
    "photo-bomb": (lambda t, m: ["predict", m, _write(t, "b.png", _png((9000, 9000), "1"))], r"b.png: image is 9000x9000.*decompression bomb.*downscale"),
    # videos
    "video-empty": (lambda t, m: ["predict", m, _write(t, "e.mp4", b""), *_video_out(t)], r"e.mp4: empty file \(0 bytes\)"),
    "video-corrupt": (lambda t, m: ["predict", m, _write(t, "c.mp4", _half(_video(t, "whole.mp4").read_bytes())), *_video_out(t)],
                      r"c.mp4: no video stream found \(the file is cut short or corrupt"),
    "video-unsupported-codec": (lambda t, m: ["predict", m, _unknown_codec(t), *_video_out(t)], r"q.avi: its video codec is not supported"),
    "video-huge-resolution": (lambda t, m: ["predict", m, str(_video(t, "big.avi", 1, (5120, 2880))), *_video_out(t)],
                              r"big.avi: frames are 5120x2880 = 14,745,600 pixels, more than the limit"),
    "video-photo-named-mp4": (lambda t, m: ["predict", m, _write(t, "p.mp4", _png()), *_video_out(t)], r"p.mp4: a PNG image, not a video"),
    "video-named-as-photo": (lambda t, m: ["predict", m, str(_video(t, "v.jpg"))], r"v.jpg: a video \(MP4/MOV\), not a photo; give it its video extension"),
    "video-every-zero": (lambda t, m: ["predict", m, str(_video(t, "z.mp4")), "--every", "0", *_video_out(t)], r"every must be a whole number >= 1"),
    # datasets and archives
    "data-missing": (lambda t, m: ["data", "info", str(t / "none")], r"none: no such file or folder"),
    "data-unsupported-file": (lambda t, m: ["data", "info", _write(t, "x.txt", "x")], r"x.txt: unsupported file; give a FER2013 CSV"),
    "zip-not-a-zip": (lambda t, m: ["data", "info", _write(t, "r.zip", "random bytes " * 20)], r"r.zip: not a valid .zip"),
    "zip-encrypted": (lambda t, m: ["data", "info", _write(t, "p.zip", _encrypted_zip())], r"p.zip: .* is encrypted"),
    "zip-unsafe-path": (lambda t, m: ["data", "info", _write(t, "u.zip", _zip({"../up.png": _png()}))], r"u.zip: unsafe entry name '../up.png'"),
    "zip-empty": (lambda t, m: ["data", "info", _write(t, "z.zip", _zip({}))], r"z.zip: the archive is empty"),
    "csv-wrong-header": (lambda t, m: ["data", "info", _write(t, "h.csv", "a,b\n1,2\n")], r"h.csv: a CSV without emotion,pixels columns"),
    "csv-short-row": (lambda t, m: ["data", "info", _write(t, "s.csv", CSV_HEADER + "3,1 2 3,Training\n")], r"s.csv line 2 \(row 0\): pixels has 3 values, expected 2304"),
    "csv-bad-label": (lambda t, m: ["data", "info", _write(t, "l.csv", CSV_HEADER + f"9,{PIXELS},Training\n")], r"l.csv line 2"),
    "csv-text-pixels": (lambda t, m: ["data", "info", _write(t, "p.csv", CSV_HEADER + f"1,{PIXELS[:-3]}abc,Training\n")], r"p.csv line 2"),
    "folder-without-images": (lambda t, m: ["data", "info", str((t / "emptydir").mkdir() or t / "emptydir")], r"emptydir"),
    # training configurations
    "config-missing": (lambda t, m: ["train", str(t / "none.toml")], r"none.toml"),
    "config-bad-toml": (lambda t, m: ["train", _write(t, "b.toml", "[train\nepochs = 3")], r"b.toml"),
    "config-unknown-key": (lambda t, m: ["train", _write(t, "k.toml", "[train]\nepohcs = 3\n")], r"epohcs.*epochs"),
    "config-wrong-type": (lambda t, m: ["train", _write(t, "w.toml", "[train]\nepochs = \"ten\"\n")], r"epochs"),
    "config-unknown-model": (lambda t, m: ["train", _write(t, "m.toml", "[model]\nname = \"fer_nett\"\n")], r"fer_nett.*fer_net"),
    # model files, ensembles, run ids
    "model-missing": (lambda t, m: ["evaluate", str(t / "gone.keras"), "--data", "synthetic:n=70"], r"gone.keras: no such model file"),
    "model-not-keras": (lambda t, m: ["evaluate", _write(t, "x.keras", "junk"), "--data", "synthetic:n=70"], r"x.keras: not a readable Keras 3 .keras archive"),
    "model-legacy-h5": (lambda t, m: ["evaluate", _write(t, "old.h5", b"\x89HDF\r\n"), "--data", "synthetic:n=70"], r"old.h5: FER Studio loads Keras 3 '.keras' files only"),
    "model-with-code": (lambda t, m: ["predict", _lambda_model(t), _write(t, "f.png", _png())], r"lambda.keras: refused, it contains Python code \(Lambda layer 'scale'\)"),
    "ensemble-names-a-path": (lambda t, m: ["evaluate", _ensemble(t, [m]), "--data", "synthetic:n=70"], r"ens.json: Ensemble member '.*ok.keras' is not a run id or bundled id.*runs import"),
    "ensemble-bad-json": (lambda t, m: ["evaluate", _write(t, "e.json", "{oops"), "--data", "synthetic:n=70"], r"e.json: not valid JSON"),
    "run-unknown-id": (lambda t, m: ["runs", "show", "20990101-000000-nothing-0000"], r"No run with id '20990101-000000-nothing-0000'"),
    "job-unknown-id": (lambda t, m: ["jobs", "resume", "no-such-job"], r"no-such-job"),
    "import-model-with-code": (lambda t, m: ["runs", "import", _lambda_model(t)], r"lambda.keras: refused, it contains Python code"),
    "zip-corrupt-stream": (lambda t, m: ["data", "info", _write(t, "c.zip", _corrupt_zip())], r"c.zip: .faces/happy/0.png. is corrupt \(Error -3"),
    "zip-unknown-method": (lambda t, m: ["data", "info", _write(t, "k.zip", _method_zip(99))], r"k.zip: .* uses compression method 99"),
    "zip-truncated": (lambda t, m: ["data", "info", _write(t, "h.zip", _zip({"a/b/0.png": _png()})[:-30])], r"h.zip: not a valid .zip"),
    "csv-empty": (lambda t, m: ["data", "info", _write(t, "empty.csv", "")], r"empty.csv"),
    "folder-corrupt-image": (lambda t, m: ["data", "info", str(Path(_write(t, "faces/happy/0.png", b"\x89PNG broken")).parents[1])], r"0.png"),
    "oahega-bad-csv": (lambda t, m: ["data", "info", str(Path(_write(t, "oa/data.csv", "nothing,useful\n1,2\n")).parent)], r"data.csv"),
    "synthetic-bad-option": (lambda t, m: ["data", "info", "synthetic:n"], r"synthetic options look like 'synthetic:n=2000,seed=1'"),
    "config-negative-epochs": (lambda t, m: ["train", _write(t, "n.toml", "[train]\nepochs = -3\n")], r"train.epochs must be an integer >= 1, got -3"),
    "config-unknown-section": (lambda t, m: ["train", _write(t, "s.toml", "[trian]\nepochs = 3\n")], r"trian.*train"),
    "config-bad-override": (lambda t, m: ["train", _write(t, "o.toml", ""), "--set", "train.lr=fast"], r"train.lr"),
    "evaluate-data-missing": (lambda t, m: ["evaluate", m, "--data", str(t / "nodata")], r"nodata: no such file or folder"),
    "corruption-unknown": (lambda t, m: ["robustness", m, "--data", "synthetic:n=70", "--corruptions", "fogg"], r"Unknown corruption 'fogg'; expected one of"),
}


@pytest.fixture(scope="module")
def valid_model(tiny_model_file) -> str:
    return tiny_model_file


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(case, valid_model, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("FER_STUDIO_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    build, pattern = CASES[case]
    argv = build(work, valid_model)
    before = {p for p in work.rglob("*")}
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert re.search(pattern, err[0]), err[0]
    leftovers = [p for p in tmp_path.rglob("*") if ".tmp" in p.name or p.name.endswith(".partial")
                 or (p.parent == home / "runs")]
    assert leftovers == [] and {p for p in work.rglob("*")} == before


def test_readme_table_lists_every_case():
    """The README's "What bad input gets" table and this module list the same cases."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text.split("## What bad input gets", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= 40
    named = {c for c in CASES if f"`{c}`" in section}
    assert named == set(CASES), sorted(set(CASES) - named)
