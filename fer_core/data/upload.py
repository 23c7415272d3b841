"""A face a model can take, from an uploaded photo: decode, crop the largest face, resize."""
from __future__ import annotations

import numpy as np

from .faces import crop_face, get_detector
from .images import read_image, resize, to_grey


def face_from_upload(data: bytes, name: str, size: tuple[int, int], grey: bool) -> tuple[np.ndarray, str]:
    """Decode an uploaded image, cut out its largest face (Haar cascade) and resize it.

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
    faces = get_detector("haar").detect(img)
    note = "no face found, so the whole image is used"
    if faces:
        img = crop_face(img, max(faces, key=lambda f: f.area), margin=0.15)
        note = f"largest of {len(faces)} detected face(s), cropped"
    img = resize(img, size)
    return (to_grey(img) if grey else img), note
