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

from .config import AugmentSpec


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
    """``f(images, targets, seed) -> (images, targets)`` applying mixup (``spec.mixup`` is its alpha),
    or None when it is off.

    Each image and its target row are blended with those of another image of the batch, with one
    weight per image drawn from Beta(alpha, alpha); the pairing and the weights are the same for
    images and targets. ``seed`` is a stateless seed (two int64), so a batch mixes the same way
    however the pipeline runs (and after a resume).
    """
    if not spec.enabled or spec.mixup <= 0:
        return None
    import tensorflow as tf

    alpha = float(spec.mixup)

    def mix(x, y, batch_seed):
        n = tf.shape(x)[0]
        s1, s2, s3 = (tf.stack([batch_seed[0] + 7919 * k + seed, batch_seed[1]]) for k in (1, 2, 3))
        g1 = tf.random.stateless_gamma([n], s1, alpha)
        g2 = tf.random.stateless_gamma([n], s2, alpha)
        lam = g1 / tf.maximum(g1 + g2, 1e-12)
        partner = tf.argsort(tf.random.stateless_uniform([n], s3))
        lx = tf.reshape(lam, [-1, 1, 1, 1])
        ly = tf.cast(tf.reshape(lam, [-1, 1]), y.dtype)
        return (lx * x + (1.0 - lx) * tf.gather(x, partner),
                ly * y + (1.0 - ly) * tf.gather(y, partner))

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
