"""Datasets: one canonical in-memory form (:class:`FERDataset`) and loaders for every source."""
from __future__ import annotations

from .dataset import SPLITS, FERDataset, LoadIssue
from .images import read_image, resize, resize_batch, to_grey, to_rgb
from .loaders import attach_ferplus, load_fer2013_csv, load_ferplus, load_folders, load_oahega, write_fer2013_csv
from .sources import detect_format, load_dataset
from .splits import resplit, subject_of, with_val_split

__all__ = [
    "SPLITS", "FERDataset", "LoadIssue", "read_image", "resize", "resize_batch", "to_grey", "to_rgb",
    "attach_ferplus", "load_fer2013_csv", "load_ferplus", "load_folders", "load_oahega",
    "write_fer2013_csv", "detect_format", "load_dataset", "resplit", "subject_of", "with_val_split",
]
