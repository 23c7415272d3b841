"""BlazeFace on the shared real photos: every counted face, no false box, eyes inside the box;
the photo pipeline's face check drops Haar's boxed jeans; an upload's face is the crop Predict makes; bad
input."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from fer_core.data.blazeface import BlazeFace, model_file
from fer_core.errors import ConfigError

# photo -> faces counted by eye (../shared/data/photos/README.md); obama_and_biden: 3 visible, BlazeFace
# misses the small child turned down, so at least 2
EXPECTED = {"multiface.jpg": (6, 6), "two_people.jpg": (2, 2), "obama_and_biden.jpg": (2, 3), "obama.jpg": (1, 1),
            "obama-240p.jpg": (1, 1), "biden.jpg": (1, 1), "angelina_jolie.jpg": (1, 1), "kate_siegel.jpg": (1, 1),
            "paul_rudd.jpg": (1, 1), "shea_whigham.jpg": (1, 1)}


@pytest.fixture(scope="module")
def photos():
    from fer_core.paths import shared_data_dir

    root = shared_data_dir()
    folder = root / "photos" if root else None
    if folder is None or not folder.is_dir():
        pytest.skip("shared photos (../shared/data/photos) are not present on this machine")
    return {name: np.asarray(ImageOps.exif_transpose(Image.open(folder / name)).convert("RGB"))
            for name in EXPECTED}


def test_every_face_and_no_false_box(photos):
    det = BlazeFace("full")
    for name, rgb in photos.items():
        found = det.detect(rgb)
        lo, hi = EXPECTED[name]
        assert lo <= len(found) <= hi, (name, [f.box for f in found])
        for f in found:
            x, y, w, h = f.box
            assert 0.4 < w / h < 2.5 and f.score >= 0.5
            for ex, ey in f.eyes:  # eyes inside the box, in its upper part
                assert x <= ex <= x + w and y <= ey <= y + 0.7 * h, (name, f.box, f.eyes)


def test_face_check_drops_non_faces_from_haar(photos):
    from fer_core.inference import Predictor
    from fer_core.models import create_model

    model = create_model("five_layer", input_shape=(48, 48, 1), num_classes=7)
    rgb = photos["multiface.jpg"]
    raw = Predictor(model, detector="haar", face_check=False).predict_image(rgb)
    checked = Predictor(model, detector="haar").predict_image(rgb)
    assert len(raw.faces) == 7 and len(checked.faces) == 6  # Haar also boxes a pair of jeans
    blaze = Predictor(model).predict_image(rgb)
    assert len(blaze.faces) == 6
    assert all(f.crop.shape[:2] == (192, 192) for f in blaze.faces)  # eye-aligned crops


def test_an_uploaded_face_is_the_crop_predict_makes(photos):
    """Explain and Robustness take an upload's largest face as Predict crops it (BlazeFace, eyes
    aligned), not a Haar box, which on this photo also boxes a pair of jeans."""
    import cv2

    from fer_core.data.images import resize, to_grey
    from fer_core.data.upload import face_from_upload
    from fer_core.inference import Predictor
    from fer_core.models import create_model

    model = create_model("five_layer", input_shape=(48, 48, 1), num_classes=7)
    for name in ("multiface.jpg", "obama.jpg"):
        rgb = photos[name]
        data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
        face, note = face_from_upload(data, name, (48, 48), grey=True)
        largest = max(Predictor(model).predict_image(rgb).faces, key=lambda f: f.box[2] * f.box[3])
        assert note.startswith(f"largest of {EXPECTED[name][0]} detected face(s), cropped (eye-aligned")
        assert np.array_equal(face, to_grey(resize(largest.crop, (48, 48))))


def test_blank_image_and_bad_model_name():
    det = BlazeFace("short")
    assert det.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert model_file("full").name == "face_detection_full_range.tflite"
    with pytest.raises(ConfigError, match="'full'"):
        model_file("wide")
