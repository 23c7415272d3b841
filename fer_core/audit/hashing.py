"""Perceptual hashes (pHash) of images and the search for pairs within a Hamming distance."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..data.images import LUMA_WEIGHTS
from ..errors import DataError

#: Images per block when computing statistics and hashes.
CHUNK = 4096
_PAIR_BUDGET = 2_000_000  # candidate pairs verified per block


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Matrix of shape (n_out, n_in) that resamples a 1-D signal by pixel-area averaging."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def _dct_rows(n: int, rows: slice) -> np.ndarray:
    """The given rows of the orthonormal DCT-II matrix of size n."""
    k = np.arange(n)[rows, None]
    x = np.arange(n)[None, :]
    scale = np.where(k == 0, np.sqrt(1 / n), np.sqrt(2 / n))
    return scale * np.cos(np.pi * (2 * x + 1) * k / (2 * n))


def _grey(block: np.ndarray) -> np.ndarray:
    """uint8 (m, h, w) or (m, h, w, 3) -> float32 (m, h, w) luma (ITU-R 601, as PIL's "L")."""
    if block.ndim == 4:
        return block.astype(np.float32) @ np.array(LUMA_WEIGHTS, np.float32)
    return block.astype(np.float32)


def phash(images: np.ndarray) -> np.ndarray:
    """64-bit perceptual hashes of images.

    Each image is converted to grey (ITU-R 601 luma), resized to 32x32 by area averaging and
    transformed with a 2-D DCT-II; the 8x8 lowest frequencies *after* the DC row and column
    (coefficients [1:9, 1:9], so overall brightness does not count) are compared with their
    median, giving 64 bits (row-major, first coefficient in the most significant bit).

    Parameters
    ----------
    images : array-like of uint8, shape (n, h, w) or (n, h, w, 3)

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (
        images.ndim == 4 and images.shape[-1] != 3
    ):
        raise DataError(
            f"phash expects uint8 images of shape (n, h, w) or (n, h, w, 3), got dtype "
            f"{images.dtype} and shape {images.shape}; pass a stack of images (add a leading "
            "axis for a single image) converted with .astype(np.uint8)."
        )
    n, h, w = images.shape[:3]
    out = np.empty(n, np.uint64)
    if n == 0:
        return out
    if h == 0 or w == 0:
        raise DataError(f"phash expects non-empty images, got shape {images.shape}.")
    # resize then DCT, folded into one linear map per axis: (8, h) and (8, w)
    rows = (_dct_rows(32, slice(1, 9)) @ _area_matrix(h, 32)).astype(np.float32)
    cols = (_dct_rows(32, slice(1, 9)) @ _area_matrix(w, 32)).astype(np.float32)
    for start in range(0, n, CHUNK):
        grey = _grey(images[start:start + CHUNK])
        coef = np.matmul(rows, grey @ cols.T).reshape(len(grey), 64)  # rows @ img @ cols.T
        bits = coef > np.median(coef, axis=1, keepdims=True)
        out[start:start + len(grey)] = np.packbits(bits, axis=1).view(">u8")[:, 0]
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between uint64 hashes (broadcasting), as int64."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))).astype(
        np.int64
    )


# -- near-duplicate search -----------------------------------------------------------------
def _chunk_layout(k: int) -> list[tuple[int, int]]:
    """(shift, width) of the k+1 bit chunks that cover the 64 bits."""
    m = k + 1
    widths = [64 // m + (1 if i < 64 % m else 0) for i in range(m)]
    shifts = np.cumsum([0] + widths[:-1])
    return [(int(s), int(wd)) for s, wd in zip(shifts, widths)]


def _bucket_pairs(keys: np.ndarray, budget: int = _PAIR_BUDGET) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """All index pairs (i, j), i != j, with keys[i] == keys[j], in blocks of about ``budget``."""
    n = len(keys)
    if n < 2:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, n]
    after = np.repeat(ends, ends - starts) - 1 - np.arange(n)  # later members of the same bucket
    pos = np.flatnonzero(after)
    if not len(pos):
        return
    cnt = after[pos]
    cum = np.cumsum(cnt)
    first = 0
    while first < len(pos):
        done = cum[first - 1] if first else 0
        last = max(int(np.searchsorted(cum, done + budget, side="right")), first + 1)
        p, c = pos[first:last], cnt[first:last]
        left = np.repeat(p, c)
        right = left + 1 + (np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c))
        yield order[left], order[right]
        first = last


def near_pairs(hashes: np.ndarray, k: int, progress: Callable[[float], None]) -> np.ndarray:
    """Unique pairs (i < j) of ``hashes`` within Hamming distance ``k``, shape (p, 2)."""
    found: list[np.ndarray] = []
    layout = _chunk_layout(k)
    for step, (shift, width) in enumerate(layout):
        keys = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        for a, b in _bucket_pairs(keys):
            keep = hamming(hashes[a], hashes[b]) <= k
            if keep.any():
                a, b = a[keep], b[keep]
                found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
        progress((step + 1) / len(layout))
    if not found:
        return np.empty((0, 2), np.int64)
    return np.unique(np.concatenate(found).astype(np.int64), axis=0)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Component label of each of n nodes joined by ``pairs`` (union-find), shape (n,)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def max_distance(hashes: np.ndarray) -> int:
    """Largest pairwise Hamming distance within one group of hashes (memory-bounded)."""
    best = 0
    for start in range(0, len(hashes), 1024):
        best = max(best, int(hamming(hashes[start:start + 1024, None], hashes[None, :]).max()))
    return best

