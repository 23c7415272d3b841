"""Can a registered model reach ~65% on FER2013 in ~40 minutes on 2 CPU cores?

Trains on FER2013 ``train`` (28,709 images) with flips, small shifts/rotations/zooms, Adam with
a cosine schedule and label smoothing 0.1, then reports PublicTest accuracy after the **last**
epoch (no epoch picked on the test split). Stops early when the time budget runs out.

Usage::

    python experiments/bench/fer_net_40min.py [--model fer_net] [--epochs 30] [--minutes 40]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fer_net")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf
    from fer_core.data.loaders import load_folders
    from fer_core.models import create_model

    t0 = time.perf_counter()
    ds = load_folders(args.data)
    train, test = ds.splits == "train", ds.splits == "test"
    x_tr, y_tr = ds.images[train][..., None].astype("float32"), ds.labels[train]
    x_te, y_te = ds.images[test][..., None].astype("float32"), ds.labels[test]
    n_cls = len(ds.classes)
    print(f"loaded {len(x_tr)} train / {len(x_te)} test in {time.perf_counter() - t0:.0f}s",
          flush=True)

    augment = keras.Sequential([
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(0.03, fill_mode="nearest"),  # +-10 degrees
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest"),
        keras.layers.RandomZoom(0.1, fill_mode="nearest"),
    ])
    train_ds = (tf.data.Dataset.from_tensor_slices((x_tr, tf.one_hot(y_tr, n_cls)))
                .shuffle(len(x_tr), seed=0).batch(args.batch_size)
                .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=1)
                .prefetch(2))
    steps = args.epochs * int(np.ceil(len(x_tr) / args.batch_size))
    model = create_model(args.model, input_shape=(48, 48, 1), num_classes=n_cls)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
            1e-3, steps, warmup_target=None)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=["accuracy"])

    budget = args.minutes * 60
    start = time.perf_counter()

    class Budget(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - start
            acc = float(np.mean(model.predict(x_te, batch_size=256, verbose=0).argmax(1) == y_te))
            print(f"epoch {epoch + 1:3d}  {elapsed / 60:5.1f} min  train_acc "
                  f"{logs['accuracy']:.3f}  test_acc {acc:.4f}", flush=True)
            if elapsed * (epoch + 2) / (epoch + 1) > budget:
                self.model.stop_training = True

    model.fit(train_ds, epochs=args.epochs, verbose=0, callbacks=[Budget()])
    minutes = (time.perf_counter() - start) / 60
    acc = float(np.mean(model.predict(x_te, batch_size=256, verbose=0).argmax(1) == y_te))
    print(f"{args.model}: PublicTest accuracy {acc:.4f} after {minutes:.1f} min of training "
          f"({model.count_params():,d} params)", flush=True)


if __name__ == "__main__":
    main()
