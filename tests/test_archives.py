"""Dataset archives and registration: every way a .zip fails is one clear DataError, nothing is left behind."""
from __future__ import annotations

import io
import struct
import threading
import zipfile
from pathlib import Path

import cv2
import pytest

from fer_core.data.synthetic import make_synthetic
from fer_core.data.archives import check_allowed, register_path, register_zip
from fer_core.data.registry import list_datasets
from fer_core.data.sources import load_dataset
from fer_core.data.unzip import datasets_dir, extract_zip, remove_unpacked, unpacked_archives
from fer_core.errors import DataError


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FER_STUDIO_DATA_ROOTS", raising=False)
    return tmp_path / "home"


def _faces_zip(n: int = 14, seed: int = 0, top: str = "faces", method: int = zipfile.ZIP_DEFLATED) -> bytes:
    faces = make_synthetic(n, seed=seed, balance="uniform")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for i, (img, label) in enumerate(zip(faces.images, faces.labels)):
            zf.writestr(f"{top}/{faces.classes[label]}/{i}.png", cv2.imencode(".png", img)[1].tobytes())
    return buf.getvalue()


def _write(tmp_path: Path, data: bytes, name: str = "a.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _leftovers(home: Path) -> list[str]:
    """Anything half-done: partial folders, removal trash, kept uploads."""
    found = [p.name for p in (home / "datasets").glob(".*")] if (home / "datasets").is_dir() else []
    if (home / "uploads").is_dir():
        found += [p.name for p in (home / "uploads").iterdir()]
    return found


def _patch_central(data: bytes, offset: int, value: int) -> bytes:
    """Set a 2-byte field of the first entry's central-directory and local headers."""
    b = bytearray(data)
    c = b.index(b"PK\x01\x02")
    struct.pack_into("<H", b, c + offset, value)
    struct.pack_into("<H", b, offset - 2, value)  # the local header has the same field 2 bytes earlier
    return bytes(b)


def _corrupt_first_member(data: bytes) -> bytes:
    """Overwrite bytes inside the first member's compressed stream, headers intact."""
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    b = bytearray(data)
    name_len, extra_len = struct.unpack_from("<HH", b, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    for i in range(start + 2, start + min(info.compress_size, 40)):
        b[i] = 0xFF
    return bytes(b)


def _evil(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in names:
            zf.writestr(n, b"x")
    return buf.getvalue()


BAD_ARCHIVES = {
    "random bytes": (lambda: b"this is not a zip at all" * 10, "not a valid .zip"),
    "zip header then garbage": (lambda: b"PK\x03\x04 garbage", "not a valid .zip"),
    "truncated": (lambda: _faces_zip()[: len(_faces_zip()) // 2], "not a valid .zip"),
    "corrupt deflate stream": (lambda: _corrupt_first_member(_faces_zip()), "is corrupt|not a valid"),
    "encrypted": (lambda: _patch_central(_faces_zip(), 8, 0x1), "encrypted"),
    "unknown compression": (lambda: _patch_central(_faces_zip(), 10, 99), "compression method 99"),
    "parent path": (lambda: _evil(["../escape.png"]), "unsafe entry name"),
    "absolute path": (lambda: _evil(["/etc/passwd"]), "unsafe entry name"),
    "windows drive": (lambda: _evil(["C:/Windows/x.png"]), "unsafe entry name"),
    "empty archive": (lambda: _evil([]), "archive is empty"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
def test_bad_archives_give_one_clear_error_and_leave_nothing(case, home, tmp_path):
    make, message = BAD_ARCHIVES[case]
    path = _write(tmp_path, make())
    with pytest.raises(DataError, match=message) as err:
        load_dataset(path)
    assert "a.zip" in str(err.value)
    assert _leftovers(home) == []
    assert not [p for p in (home / "datasets").iterdir()] if (home / "datasets").is_dir() else True


def test_limits_on_entries_and_size(home, tmp_path):
    path = _write(tmp_path, _faces_zip(14))
    with pytest.raises(DataError, match="14 entries, more than the limit of 5"):
        extract_zip(path, max_entries=5)
    with pytest.raises(DataError, match="more than the limit of 1,000"):
        extract_zip(path, max_bytes=1000)
    assert _leftovers(home) == [] and not list(datasets_dir().iterdir())


def test_disk_failure_mid_unpack_leaves_nothing(home, tmp_path, monkeypatch):
    import fer_core.data.unzip as unzip

    calls = {"n": 0}
    real = unzip._extract

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(unzip, "_extract", failing)
    with pytest.raises(DataError, match="No space left on device"):
        extract_zip(_write(tmp_path, _faces_zip()))
    assert _leftovers(home) == [] and not list(datasets_dir().iterdir())


def test_unpacked_once_per_content_and_junk_dropped(home, tmp_path):
    data = _faces_zip(7)
    with zipfile.ZipFile(buf := io.BytesIO(data), "a") as zf:
        zf.writestr("__MACOSX/faces/._0.png", b"resource fork")
        zf.writestr("faces/.DS_Store", b"finder")
    first = extract_zip(_write(tmp_path, buf.getvalue(), "one.zip"))
    again = extract_zip(_write(tmp_path, buf.getvalue(), "other name.zip"))
    assert first == again and first.name == "faces"
    assert len(list(datasets_dir().iterdir())) == 1
    assert not list(first.parent.rglob("__MACOSX")) and not list(first.rglob(".DS_Store"))
    assert len(load_dataset(first)) == 7


def test_concurrent_unpacks_of_the_same_archive(home, tmp_path):
    path = _write(tmp_path, _faces_zip(21))
    results, errors = [], []

    def run():
        try:
            results.append(extract_zip(path))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert len(list(datasets_dir().iterdir())) == 1 and _leftovers(home) == []


def test_uploads_are_unique_temporary_files_removed_afterwards(home):
    e1, ds1 = register_zip(_faces_zip(7, seed=1), "faces.zip", "first")
    e2, ds2 = register_zip(io.BytesIO(_faces_zip(14, seed=2)), "faces.zip", "second")
    assert (len(ds1), len(ds2)) == (7, 14) and e1.path != e2.path
    with pytest.raises(DataError, match="not a valid .zip"):
        register_zip(b"junk", "faces.zip")
    assert _leftovers(home) == []


def test_upload_size_limit(home):
    with pytest.raises(DataError, match=r"big.zip: .* MB is more than the 1 MB limit"):
        register_zip(b"\0" * (1024 * 1024 + 1), "big.zip", limit_mb=1)
    assert _leftovers(home) == []


def test_photo_upload_size_limit(home):
    from fer_core.data.upload import face_from_upload

    with pytest.raises(DataError, match=r"big.jpg: 26.0 MB is more than the 25 MB limit"):
        face_from_upload(b"\0" * (26 * 1024 * 1024), "big.jpg", (48, 48), True)


def test_remove_unpacked_archive_unregisters_its_datasets(home):
    register_zip(_faces_zip(7), "faces.zip", "mine")
    (u,) = unpacked_archives()
    assert u.used_by == ("mine",) and u.bytes > 0
    assert remove_unpacked(u.name) == ["mine"]
    assert unpacked_archives() == [] and list_datasets() == []
    with pytest.raises(DataError, match="No unpacked archive named"):
        remove_unpacked(u.name)


def test_register_path_only_inside_allowed_folders(home, tmp_path, monkeypatch):
    from fer_core.data import write_fer2013_csv

    outside = tmp_path / "elsewhere" / "faces.csv"
    outside.parent.mkdir()
    write_fer2013_csv(make_synthetic(14, seed=1), outside)
    with pytest.raises(DataError, match="outside the folders the dashboard may read.*FER_STUDIO_DATA_ROOTS"):
        register_path(outside)
    with pytest.raises(DataError, match="outside"):
        register_path(home / ".." / "elsewhere" / "faces.csv")  # '..' does not escape the check
    link = home / "link.csv"
    home.mkdir(exist_ok=True)
    link.symlink_to(outside)
    with pytest.raises(DataError, match="outside"):
        check_allowed(link)  # nor does a symlink from inside
    assert list_datasets() == []
    entry, ds = register_path(outside, allowed_only=False)  # the command line names paths explicitly
    assert len(ds) == 14
    monkeypatch.setenv("FER_STUDIO_DATA_ROOTS", str(outside.parent))
    entry, ds = register_path(outside, "allowed")
    assert entry.name == "allowed"


def test_corrupt_bzip2_member_and_file_folder_clash_are_named(home, tmp_path):
    data = _faces_zip(method=zipfile.ZIP_BZIP2)
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    b = bytearray(data)
    start = info.header_offset + 30 + len(info.filename)
    b[start + 10:start + 30] = b"\x00" * 20
    with pytest.raises(DataError, match=r"'faces/.*png' is corrupt"):
        extract_zip(_write(tmp_path, bytes(b), "bz.zip"))
    clash = _evil(["faces/x", "faces/x/y.png"])
    with pytest.raises(DataError, match="'faces/x/y.png' is both a file and a folder"):
        extract_zip(_write(tmp_path, clash, "clash.zip"))
    assert _leftovers(home) == [] and not list(datasets_dir().iterdir())


def test_oahega_csv_cannot_reach_outside_its_folder(tmp_path):
    from fer_core.data.loaders import _resolve

    root = tmp_path / "oahega"
    (root / "Happy").mkdir(parents=True)
    (root / "Happy" / "a.jpg").write_bytes(b"x")
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"x")
    assert _resolve(root, "Happy/a.jpg") == root / "Happy" / "a.jpg"
    assert _resolve(root, "/some/where/Happy/a.jpg") == root / "Happy" / "a.jpg"  # a path from another machine
    assert _resolve(root, "C:\\\\data\\\\Happy\\\\a.jpg") == root / "Happy" / "a.jpg"
    for escape in ("../secret.jpg", str(secret), "Happy/../../secret.jpg"):
        assert _resolve(root, escape) is None, escape
    (root / "link.jpg").symlink_to(secret)
    assert _resolve(root, "link.jpg") is None
