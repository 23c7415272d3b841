"""The tf.data input pipeline and on-the-fly augmentation.

The images stay in memory as one uint8 tensor; each epoch draws a permutation of the *indices*
in numpy (seeded by the run seed and the epoch number, so a resumed run sees the same order as an
uninterrupted one), batches them, gathers the batch of images and targets in one op, casts to float32 0..255 and
applies the augmentation layers to the whole batch, with prefetching. Gathering by index is what
``model.fit(x_numpy, y)`` does too; an element-wise ``from_tensor_slices -> cache -> shuffle ->
batch`` pipeline spends its time on per-image overhead and was slower for small models
(see ``experiments/bench/train_pipeline.py``). Holding the arrays as tensors plays the role of
``cache()``: nothing is decoded or converted twice.
"""
from __future__ import annotations

import numpy as np

from .config import AugmentSpec, TrainConfig


def build_augmenter(spec: AugmentSpec, seed: int = 0):
    """Keras preprocessing layers for ``spec`` (paper 001 §V-B), or None when all are off.

    Returns a callable ``f(batch) -> batch`` on float32 (b, h, w, c) tensors: first the image
    corruptions of ``spec.corruptions`` (robustness training, see :func:`corruption_layer`), then
    horizontal flip, rotation of +-``rotation`` degrees, zoom of +-``zoom``, shift of +-``shift``
    in both directions (empty areas filled with the nearest edge pixels, as Keras's
    ImageDataGenerator did), then random erasing with probability ``erasing``. Corruptions come
    first because the occlusions assume an aligned face.
    """
    if not spec.enabled:
        return None
    from keras import layers

    chain = []
    if spec.corruptions:
        chain.append(corruption_layer(spec, seed + 4))
    if spec.flip:
        chain.append(layers.RandomFlip("horizontal", seed=seed))
    if spec.rotation > 0:
        chain.append(layers.RandomRotation(spec.rotation / 360.0, fill_mode="nearest", seed=seed + 1))
    if spec.zoom > 0:
        chain.append(layers.RandomZoom((-spec.zoom, spec.zoom), fill_mode="nearest", seed=seed + 2))
    if spec.shift > 0:
        chain.append(layers.RandomTranslation(spec.shift, spec.shift, fill_mode="nearest", seed=seed + 3))
    if spec.erasing > 0:  # factor (p, p): each image is erased with probability exactly p
        chain.append(layers.RandomErasing(factor=(spec.erasing, spec.erasing), value_range=(0, 255), seed=seed + 5))
    if not chain:
        return None

    def augment(x):
        for layer in chain:
            x = layer(x, training=True)
        return x

    return augment


def build_mixer(spec: AugmentSpec, seed: int = 0):
    """``f(images, targets, seed) -> (images, targets)`` applying mixup and/or CutMix (``spec.mixup``
    and ``spec.cutmix`` are their alphas), or None when both are off.

    Each image is blended with another image of the batch through a mask ``m``: mixup's is the
    constant lambda ~ Beta(alpha, alpha), CutMix's is 0 inside a box covering 1 - lambda of the image
    (clipped at the border) and 1 outside. The targets get the same pairing and the mask's mean as
    weight. With both on, each image gets one of the two masks at random. ``seed`` is a stateless
    seed (two int64), so a batch mixes the same way however the pipeline runs (and after a resume).
    """
    if not spec.enabled or (spec.mixup <= 0 and spec.cutmix <= 0):
        return None
    import tensorflow as tf

    def beta(n, s_a, s_b, alpha):
        g1 = tf.random.stateless_gamma([n], s_a, alpha)
        g2 = tf.random.stateless_gamma([n], s_b, alpha)
        return g1 / tf.maximum(g1 + g2, 1e-12)

    def box_mask(x, lam, s):  # 0 inside a box of side sqrt(1 - lam) (fractions), 1 outside
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        centre = tf.random.stateless_uniform([tf.shape(x)[0], 2], s)
        side = tf.sqrt(1.0 - lam)[:, None]
        lo, hi = tf.clip_by_value(centre - side / 2, 0, 1), tf.clip_by_value(centre + side / 2, 0, 1)
        rows = (tf.range(h, dtype=tf.float32) + 0.5) / tf.cast(h, tf.float32)
        cols = (tf.range(w, dtype=tf.float32) + 0.5) / tf.cast(w, tf.float32)
        in_r = (rows[None] >= lo[:, :1]) & (rows[None] < hi[:, :1])  # (n, h)
        in_c = (cols[None] >= lo[:, 1:]) & (cols[None] < hi[:, 1:])  # (n, w)
        inside = in_r[:, :, None] & in_c[:, None, :]
        return 1.0 - tf.cast(inside, tf.float32)[..., None]  # (n, h, w, 1)

    def mix(x, y, batch_seed):
        n = tf.shape(x)[0]
        s = [tf.stack([batch_seed[0] + 7919 * k + seed, batch_seed[1]]) for k in range(1, 8)]
        partner = tf.argsort(tf.random.stateless_uniform([n], s[2]))
        if spec.mixup > 0:
            m = tf.reshape(beta(n, s[0], s[1], float(spec.mixup)), [-1, 1, 1, 1])
        if spec.cutmix > 0:
            cut = box_mask(x, beta(n, s[3], s[4], float(spec.cutmix)), s[5])
            m = cut if spec.mixup <= 0 else tf.where(
                tf.reshape(tf.random.stateless_uniform([n], s[6]) < 0.5, [-1, 1, 1, 1]), cut, m * tf.ones_like(cut))
        ly = tf.cast(tf.reshape(tf.reduce_mean(m, axis=[1, 2, 3]), [-1, 1]), y.dtype)
        return m * x + (1.0 - m) * tf.gather(x, partner), ly * y + (1.0 - ly) * tf.gather(y, partner)

    return mix


def corruption_layer(spec: AugmentSpec, seed: int = 0):
    """``f(batch, training=True)`` corrupting each image with probability ``spec.corruption_p``.

    Wraps :func:`fer_core.robustness.make_augmenter` (numpy/OpenCV) in ``tf.numpy_function``,
    so the corruptions of the robustness page are what the model sees while training: one
    corruption drawn from ``spec.corruptions`` per chosen image, at a severity in
    1..``spec.corruption_max_severity``.
    """
    import tensorflow as tf

    from ..robustness import make_augmenter

    fn = make_augmenter(spec.corruptions, p=spec.corruption_p, max_severity=spec.corruption_max_severity,
                        seed=seed)

    def corrupt(x, training=True):
        y = tf.numpy_function(fn, [x], tf.float32, stateful=True, name="corrupt")
        y.set_shape(x.shape)
        return y

    return corrupt


PARALLEL = 2  # batches gathered / augmented at once
PREFETCH = 2  # batches ready ahead of the training step


class ArrayPipeline:
    """Batches of (images, targets[, weights]) from in-memory arrays, for training or evaluation.

    Parameters
    ----------
    x : uint8 array (n, h, w, c)
    y : float32 array (n, C) of targets, or None (prediction only)
    w : float32 array (n,) of sample weights, or None
    batch_size : images per batch
    augment : callable from :func:`build_augmenter`, or None
    mix : callable from :func:`build_mixer` (blends images and targets of a batch), or None
    seed : base seed of the shuffling
    autotune : let tf.data tune parallelism and prefetching (off: see :meth:`dataset`; kept for
        ``experiments/bench/epoch_stall.py``)
    """

    def __init__(self, x: np.ndarray, y: np.ndarray | None = None, w: np.ndarray | None = None, *,
                 batch_size: int = 64, augment=None, mix=None, seed: int = 0, autotune: bool = False):
        import tensorflow as tf

        self.autotune = bool(autotune)
        self.n = len(x)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.augment = augment
        self.mix = mix
        self._x = tf.constant(x)
        self._y = None if y is None else tf.constant(y, tf.float32)
        self._w = None if w is None else tf.constant(w, tf.float32)

    @property
    def batches(self) -> int:
        """Number of batches per pass (the last one may be smaller)."""
        return -(-self.n // self.batch_size)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The image order of a pass: a permutation seeded by (seed, epoch), or 0..n-1 for None."""
        if epoch is None:
            return np.arange(self.n, dtype=np.int64)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.n).astype(np.int64)

    def dataset(self, epoch: int | None = None):
        """A tf.data.Dataset over the arrays: shuffled for ``epoch`` (an int), in order for None."""
        import tensorflow as tf

        x, y, w, augment = self._x, self._y, self._w, self.augment
        ds = tf.data.Dataset.from_tensor_slices(self.order(epoch)).batch(self.batch_size)

        def gather(idx):
            xb = tf.cast(tf.gather(x, idx), tf.float32)
            if y is None:
                return xb
            yb = tf.gather(y, idx)
            return (xb, yb) if w is None else (xb, yb, tf.gather(w, idx))

        parallel, prefetch = (tf.data.AUTOTUNE, tf.data.AUTOTUNE) if self.autotune else (PARALLEL, PREFETCH)
        ds = ds.map(gather, num_parallel_calls=parallel, deterministic=True)
        if augment is not None and epoch is not None:
            ds = ds.map(lambda xb, *rest: (augment(xb), *rest), num_parallel_calls=parallel)
        if self.mix is not None and epoch is not None and y is not None:
            mix, base = self.mix, tf.constant([self.seed, int(epoch) * 1_000_003], tf.int64)
            ds = ds.enumerate().map(
                lambda i, batch: (*mix(batch[0], batch[1], base + tf.stack([tf.constant(0, tf.int64), i])),
                                  *batch[2:]), num_parallel_calls=parallel)
        options = tf.data.Options()
        # as Keras does for numpy input: no graph rewrites, whose serialisation of the pipeline
        # (with the captured image tensor) would be paid again for every epoch's new dataset
        options.experimental_optimization.apply_default_optimizations = False
        # No autotuning: destroying an autotuned iterator waits for tf.data's tuning thread to
        # wake, which stalled every epoch (and every evaluation) for up to ~5 s here
        # (docs/benchmarks.md, "The epoch-end stall"). Batches are whole arrays, so fixed values lose nothing.
        options.autotune.enabled = self.autotune
        return ds.prefetch(prefetch).with_options(options)


def train_pipeline(cfg: TrainConfig, x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> ArrayPipeline:
    """The training batches of ``cfg``: its batch size, augmentation and mixing, seeded by ``train.seed``."""
    seed = cfg.train.seed
    return ArrayPipeline(x, y, w, batch_size=cfg.train.batch_size, augment=build_augmenter(cfg.augment, seed),
                         mix=build_mixer(cfg.augment, seed), seed=seed)
