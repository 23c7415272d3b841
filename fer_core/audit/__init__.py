"""Dataset audit: class balance, exact and near duplicates, split leakage, label conflicts,
near-blank images, "not a face" images and agreement with FER+ crowd labels.

Exact duplicates are images whose decoded pixels are identical (a hash of the pixel bytes).
Near duplicates are images whose 64-bit perceptual hashes (:func:`phash`) differ in at most
``near_threshold`` bits. All pairs within that distance are found with multi-index hashing
(no all-pairs loop): the 64 bits are cut into ``near_threshold + 1`` chunks and, by the
pigeonhole principle, two hashes within distance ``k`` agree exactly on at least one chunk, so
only images sharing a chunk value are compared (with a vectorised popcount). The pairs are then
joined into groups (connected components, i.e. union-find).

Limitations:

* At 48x48 a pHash sees only coarse structure, so a near-duplicate group can hold genuinely
  different but very similar faces (same pose, framing and lighting). The default threshold
  (4 of 64 bits) is deliberately conservative; treat near groups as candidates to look at, not
  as proven copies. Exact groups are proven copies.
* pHash is robust to small noise and to brightness and contrast changes (by construction),
  but not to shifts: on FER2013 faces a 1-pixel shift changes a median of 6 bits, so only about
  a quarter of 1-px-shifted copies fall within the default threshold. Mirrored copies are
  far apart (about 30 bits), so flips are not found either.
* Every hash has (barring ties) exactly 32 bits set, so distances are even: thresholds 4 and 5
  find the same pairs.
* Near-blank images have a noise-driven pHash; they are reported in ``blank`` and left out of
  the near search.
Cost: pixel statistics and hashes are computed in blocks of 4,096 images and the near search
verifies candidate pairs in bounded blocks, so memory stays flat as the dataset grows. FER2013
(about 32,000 images) has 1,273 exact groups and 489 near groups at the default threshold.

Modules: :mod:`.hashing` (pHash and the near-duplicate search), :mod:`.report` (tables and
:class:`AuditReport`), :mod:`.scan` (:func:`audit`).
"""
from __future__ import annotations

from .hashing import hamming, phash
from .report import AuditReport
from .scan import MAX_NEAR_THRESHOLD, audit

__all__ = ["MAX_NEAR_THRESHOLD", "AuditReport", "audit", "hamming", "phash"]
