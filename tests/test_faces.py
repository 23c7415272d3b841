"""Face detection and cropping: fer_core.data.faces.

Detection tests paste real FER2013 faces (48x48, upscaled) onto a 640x480 background at known
positions. The file names below were chosen because both detectors find them at 120-160 px on
plain and noise backgrounds (Haar even with min_neighbors=12; MTCNN with confidence > 0.99).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.data import FERDataset, LoadIssue
from fer_core.data import faces as faces_mod
from fer_core.data.faces import METHODS, Face, FaceDetector, crop_face, crop_faces, get_detector
from fer_core.errors import ConfigError, DataError
from photos import background, compose

# -- helpers ------------------------------------------------------------------
def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def assert_matches(found: list[Face], pasted: list[tuple]) -> None:
    """Each pasted box is matched by exactly one found box with IoU > 0.3, and nothing else is found."""
    assert len(found) == len(pasted), f"found {[f.box for f in found]} for pasted {pasted}"
    for box in pasted:
        hits = [f for f in found if iou(f.box, box) > 0.3]
        assert len(hits) == 1, f"pasted {box}: found {[f.box for f in found]}"


@pytest.fixture(scope="module")
def haar() -> FaceDetector:
    return get_detector("haar")


@pytest.fixture(scope="module")
def mtcnn() -> FaceDetector:
    import mtcnn  # noqa: F401  (pinned in requirements.txt: a broken install fails, it does not skip)
    return get_detector("mtcnn")


ONE = [(220, 150, 140, 140)]
THREE = [(30, 60, 160, 160), (250, 250, 120, 120), (440, 90, 140, 140)]


# -- Haar ---------------------------------------------------------------------
@pytest.mark.parametrize("bg", ["plain", "noise"])
def test_haar_finds_nothing_on_background(haar, bg):
    assert haar.detect(background(bg)) == []


@pytest.mark.parametrize("bg", ["plain", "noise"])
def test_haar_finds_one_face(haar, fer_faces, bg):
    found = haar.detect(compose(fer_faces[:1], ONE, bg))
    assert_matches(found, ONE)
    assert found[0].score == 1.0
    assert all(isinstance(v, int) for v in found[0].box)


@pytest.mark.parametrize("bg", ["plain", "noise"])
def test_haar_finds_three_faces_largest_first(haar, fer_faces, bg):
    found = haar.detect(compose(fer_faces, THREE, bg))
    assert_matches(found, THREE)
    areas = [f.area for f in found]
    assert areas == sorted(areas, reverse=True)
    assert iou(found[0].box, THREE[0]) > 0.3  # the 160 px face comes first
    assert iou(found[-1].box, THREE[1]) > 0.3  # the 120 px face last


def test_haar_rgb_and_grey_agree(haar, fer_faces):
    grey = compose(fer_faces, THREE, "noise")
    rgb = np.repeat(grey[..., None], 3, axis=2)
    assert [f.box for f in haar.detect(rgb)] == [f.box for f in haar.detect(grey)]
    assert [f.box for f in haar.detect(grey[..., None])] == [f.box for f in haar.detect(grey)]


def test_min_size_filters_small_faces(fer_faces):
    boxes = [(40, 40, 80, 80), (300, 150, 200, 200)]
    img = compose(fer_faces[:2], boxes)
    assert_matches(FaceDetector("haar", min_size=20).detect(img), boxes)
    big_only = FaceDetector("haar", min_size=110).detect(img)
    assert_matches(big_only, boxes[1:])
    assert all(min(f.box[2:]) >= 110 for f in big_only)
    assert FaceDetector("haar", min_size=300).detect(img) == []


# -- MTCNN (slow: ~0.3 s per photo, plus TensorFlow's import) -------------------
def test_mtcnn_background_and_three_faces(fer_faces, mtcnn):
    assert mtcnn.detect(background("plain")) == []
    img = compose(fer_faces, THREE, "noise")
    found = mtcnn.detect(np.repeat(img[..., None], 3, axis=2))  # RGB input
    assert_matches(found, THREE)
    assert all(0.9 <= f.score <= 1.0 for f in found)
    assert [f.area for f in found] == sorted((f.area for f in found), reverse=True)


def test_mtcnn_one_face_grey_input(fer_faces, mtcnn):
    found = mtcnn.detect(compose(fer_faces[1:2], ONE, "plain"))  # grey (h, w): converted to RGB
    assert_matches(found, ONE)


def test_mtcnn_min_size_and_small_images(fer_faces, mtcnn):
    boxes = [(40, 40, 80, 80), (300, 150, 200, 200)]
    img = compose(fer_faces[:2], boxes)
    # mtcnn 1.0.0 itself finds nothing when given min_face_size=40: the detector rescales instead
    assert_matches(FaceDetector("mtcnn", min_size=40).detect(img), boxes)
    big_only = FaceDetector("mtcnn", min_size=110).detect(img)
    assert_matches(big_only, boxes[1:])
    assert all(min(f.box[2:]) >= 110 for f in big_only)
    # a bare 48x48 FER2013 crop (the face fills the image), and an image too small for any face
    (face,) = FaceDetector("mtcnn", min_size=12).detect(fer_faces[0])
    assert iou(face.box, (0, 0, 48, 48)) > 0.5
    assert mtcnn.detect(np.zeros((8, 8), np.uint8)) == []


# -- options and validation --------------------------------------------------------
def test_unknown_method_lists_choices():
    with pytest.raises(ConfigError, match=r"'hog'.*blazeface.*haar.*mtcnn"):
        FaceDetector("hog")
    with pytest.raises(ConfigError, match="haar"):
        get_detector("hog")
    assert METHODS == ("blazeface", "haar", "mtcnn")


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"min_size": 0}, "min_size"),
        ({"scale_factor": 1.0}, "scale_factor"),
        ({"min_neighbors": -1}, "min_neighbors"),
        ({"mtcnn_min_confidence": 1.5}, "mtcnn_min_confidence"),
    ],
)
def test_bad_options(kw, word):
    with pytest.raises(ConfigError, match=word):
        FaceDetector("haar", **kw)


@pytest.mark.parametrize(
    "image, words",
    [
        (np.zeros((48, 48), np.float64), "float64"),
        (np.zeros((2, 48, 48, 3), np.uint8), r"\(2, 48, 48, 3\)"),
        (np.zeros((48, 48, 4), np.uint8), r"\(48, 48, 4\)"),
        (np.zeros((0, 48), np.uint8), "empty"),
        ([[0, 1], [2, 3]], "list"),
    ],
)
def test_bad_image_says_what_was_received(haar, image, words):
    with pytest.raises(DataError, match=words):
        haar.detect(image)


def test_get_detector_is_cached():
    a = get_detector("haar", min_size=30)
    assert get_detector("haar", min_size=30) is a
    assert get_detector("haar", min_size=40) is not a
    assert get_detector("haar") is get_detector()
    assert (a.method, a.min_size) == ("haar", 30)


def test_missing_cascade_names_opencv_4(monkeypatch, tmp_path):
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    with pytest.raises(DataError, match=r"opencv-python-headless.*4"):
        FaceDetector("haar")


def test_mtcnn_not_imported_for_haar():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from fer_core.data.faces import get_detector\n"
        "get_detector('haar').detect(np.zeros((64, 64), np.uint8))\n"
        "print('tensorflow' in sys.modules, 'mtcnn' in sys.modules)\n"
    )
    root = Path(faces_mod.__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- crop_face ----------------------------------------------------------------
@pytest.fixture()
def ramp() -> np.ndarray:
    """100x120 grey image whose pixel (y, x) is (y + 2 x) % 256, so every crop is checkable."""
    y, x = np.mgrid[0:100, 0:120]
    return ((y + 2 * x) % 256).astype(np.uint8)


def test_crop_face_no_margin_is_the_box(ramp):
    out = crop_face(ramp, (30, 20, 40, 30), margin=0, square=False)
    np.testing.assert_array_equal(out, ramp[20:50, 30:70])
    out = crop_face(ramp, Face((30, 20, 40, 30), 0.9), margin=0, square=False)
    assert out.shape == (30, 40)


def test_crop_face_margin_on_every_side(ramp):
    out = crop_face(ramp, (40, 30, 20, 20), margin=0.25, square=False)
    np.testing.assert_array_equal(out, ramp[25:55, 35:65])  # 5 px (0.25 * 20) each side


def test_crop_face_square_grows_short_side_about_centre(ramp):
    out = crop_face(ramp, (50, 20, 20, 40), margin=0, square=True)
    np.testing.assert_array_equal(out, ramp[20:60, 40:80])


def test_crop_face_pads_by_edge_replication(ramp):
    out = crop_face(ramp, (-10, -5, 30, 30), margin=0, square=False)
    assert out.shape == (30, 30)
    np.testing.assert_array_equal(out[5:, 10:], ramp[0:25, 0:20])  # the part inside the image
    np.testing.assert_array_equal(out[:5, 10:], np.repeat(ramp[0:1, 0:20], 5, axis=0))  # top rows
    np.testing.assert_array_equal(out[5:, :10], np.repeat(ramp[0:25, 0:1], 10, axis=1))  # left cols
    assert (out[:5, :10] == ramp[0, 0]).all()  # corner
    out = crop_face(ramp, (100, 80, 30, 30), margin=0.2)  # runs off bottom-right, with margin
    assert out.shape == (42, 42)
    assert (out[-1, :] == out[-2, :]).all() and (out[:, -1] == out[:, -2]).all()


def test_crop_face_resize_and_rgb(ramp):
    assert crop_face(ramp, (30, 20, 40, 30), size=48).shape == (48, 48)
    assert crop_face(ramp, (30, 20, 40, 30), size=(24, 32), square=False).shape == (24, 32)
    rgb = np.stack([ramp, 255 - ramp, ramp // 2], axis=2)
    out = crop_face(rgb, (30, 20, 40, 30), margin=0, square=False, size=(60, 80))
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(crop_face(rgb, (30, 20, 40, 30), margin=0, square=False)[..., 1],
                                  255 - ramp[20:50, 30:70])


@pytest.mark.parametrize(
    "box, kw, err, words",
    [
        ((200, 10, 20, 20), {}, DataError, "outside"),
        ((10, 10, 0, 20), {}, DataError, "positive width"),
        ((10, 10, 20), {}, DataError, "box"),
        ((10, 10, 20, 20), {"margin": -0.1}, ConfigError, "margin"),
        ((10, 10, 20, 20), {"size": 0}, ConfigError, "size"),
        ((10, 10, 20, 20), {"size": (1, 2, 3)}, ConfigError, "size"),
    ],
)
def test_crop_face_rejects_bad_input(ramp, box, kw, err, words):
    with pytest.raises(err, match=words):
        crop_face(ramp, box, **kw)


# -- crop_faces -----------------------------------------------------------------
def _photos_dataset(fer_faces) -> FERDataset:
    shape = (240, 320)
    box = (90, 50, 140, 140)
    images = np.stack([
        compose(fer_faces[:1], [box], "plain", shape),
        background("plain", shape),  # no face
        compose(fer_faces[1:2], [box], "noise", shape),
    ])
    return FERDataset(
        images=images,
        labels=[3, 6, 6],
        classes=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
        splits=["train", "test", "val"],
        sources=["photos/a.png", "photos/blank.png", "photos/c.png"],
        name="photos",
        not_face=np.array([False, True, False]),
        issues=[LoadIssue("photos/broken.png", "cannot decode")],
    )


def test_crop_faces_reports_images_without_face(fer_faces):
    ds = _photos_dataset(fer_faces)
    calls = []
    out, issues = crop_faces(ds, size=48, progress=lambda done, total: calls.append((done, total)))
    assert issues == [LoadIssue("photos/blank.png", "no face found by haar detector")]
    assert list(out.sources) == ["photos/a.png", "photos/c.png"]
    assert list(out.labels) == [3, 6] and list(out.splits) == ["train", "val"]
    assert list(out.not_face) == [False, False]
    assert out.images.shape == (2, 48, 48) and out.images.dtype == np.uint8
    assert out.name == "photos" and out.classes == ds.classes
    assert [str(i) for i in out.issues] == ["photos/broken.png: cannot decode",
                                            "photos/blank.png: no face found by haar detector"]
    assert calls == [(1, 3), (2, 3), (3, 3)]
    # each crop is crop_face of the largest detected face
    for crop, image in zip(out.images, ds.images[[0, 2]]):
        face = get_detector("haar").detect(image)[0]
        np.testing.assert_array_equal(crop, crop_face(image, face, margin=0.2, size=48))
    # without margin the crop is (close to) the pasted face: it correlates with the 48x48 original
    tight, _ = crop_faces(ds, margin=0.0)
    for crop, face in zip(tight.images, fer_faces[:2]):
        r = np.corrcoef(crop.ravel().astype(float), face.ravel().astype(float))[0, 1]
        assert r > 0.5, r


def test_crop_faces_rgb_and_detector_instance(fer_faces):
    ds = _photos_dataset(fer_faces)
    out, issues = crop_faces(ds, size=32, grey=False)
    assert out.images.shape == (2, 32, 32, 3)
    none, issues = crop_faces(ds, method=FaceDetector("haar", min_size=200))
    assert len(none) == 0 and none.images.shape == (0, 48, 48)
    assert [i.source for i in issues] == list(ds.sources)


def test_crop_faces_rejects_bad_arguments():
    ds = FERDataset(np.zeros((2, 64, 64), np.uint8), [0, 1], ("a", "b"), ["train"] * 2, ["x", "y"])
    with pytest.raises(ConfigError, match="hog"):
        crop_faces(ds, method="hog")
    with pytest.raises(ConfigError, match="size"):
        crop_faces(ds, size=(32, 48))
    with pytest.raises(DataError, match="FERDataset"):
        crop_faces(ds.images)


def test_folder_loader_crops_uncropped_photos(fer_faces, tmp_path):
    """JAFFE-style: 256x256 head shots in class folders; faces are detected and cropped on loading."""
    from PIL import Image

    from fer_core.data import load_folders

    root = tmp_path / "jaffe"
    for cls, face in (("HA", fer_faces[0]), ("NE", fer_faces[1])):
        (root / cls).mkdir(parents=True)
        Image.fromarray(compose([face], [(60, 50, 140, 140)], shape=(256, 256))).save(root / cls / f"KA.{cls}1.1.tiff")
    Image.fromarray(background("plain", (256, 256))).save(root / "HA" / "KA.HA2.2.tiff")
    ds = load_folders(root, faces="haar", fractions=(1.0, 0.0, 0.0))
    assert len(ds) == 2 and ds.image_size == (48, 48)
    assert [i.source for i in ds.issues] == ["HA/KA.HA2.2.tiff"]
    assert "no face found by haar detector" in ds.issues[0].reason
    # The crop holds the face: it matches the face it came from better than the other one.
    row = list(ds.sources).index("NE/KA.NE1.1.tiff")
    inner = cv2.resize(ds.images[row][7:41, 7:41], (48, 48))  # drop the 0.2 margin
    own, other = (np.corrcoef(inner.ravel(), f.ravel())[0, 1] for f in (fer_faces[1], fer_faces[0]))
    assert own > 0.5 and own > other
