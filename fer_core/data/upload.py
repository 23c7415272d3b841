"""A face a model can take, from an uploaded photo: decode, crop the largest face, resize."""
from __future__ import annotations

import numpy as np

from .crops import FaceCropper
from .images import read_image, resize, to_grey


def face_from_upload(data: bytes, name: str, size: tuple[int, int], grey: bool) -> tuple[np.ndarray, str]:
    """Decode an uploaded image, cut out its largest face and resize it.

    The face is found and cropped as ``predict`` does it (:class:`~fer_core.data.crops.FaceCropper`'s
    defaults: BlazeFace, eye-aligned crop), so Explain and Robustness see the crop Predict shows.

    Parameters
    ----------
    data : the file's bytes; name : shown in errors
    size : (height, width) of the result, e.g. the test images' size
    grey : return (h, w) greyscale instead of (h, w, 3) RGB

    Returns
    -------
    (face uint8 array, a note saying whether a face was found or the whole image was used)

    Raises DataError for files over :data:`~fer_core.data.archives.MAX_PHOTO_MB` and ImageReadError
    (a DataError) for unreadable ones.
    """
    from .archives import MAX_PHOTO_MB, check_upload_size

    check_upload_size(len(data), name, MAX_PHOTO_MB)
    img = read_image(data, color="rgb", name=name)
    cropper = FaceCropper()
    faces = cropper.detect(img)
    note = "no face found, so the whole image is used"
    if faces:
        face = max(faces, key=lambda f: f.area)
        img = cropper.crop(img, face)
        how = "eye-aligned" if cropper.align and face.eyes is not None else "boxed"
        note = f"largest of {len(faces)} detected face(s), cropped ({how}, as Predict does)"
    img = resize(img, size)
    return (to_grey(img) if grey else img), note
