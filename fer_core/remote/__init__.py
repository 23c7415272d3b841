"""Training on a Ray cluster: the same jobs, the same engine, other machines.

Where a job runs is a choice made at submit time (``ray_address`` in the job's params, from
``--ray ADDRESS``, ``$RAY_ADDRESS`` or the Train page). Without one nothing here is imported and
jobs run as local processes. With one, the local worker process stays the job's supervisor (its
record, progress, heartbeat, cancel flag and liveness work as for a local job) and acts as a Ray
*driver*:

* **Code** reaches the cluster with the connection: ``runtime_env={"py_modules": [fer_core]}``
  uploads this checkout's ``fer_core`` package (about 0.6 MB, cached by content), so every node
  runs exactly the driver's code. The third-party packages (TensorFlow, Keras, ...) must be
  installed on every node (``pip install -r requirements.txt``, same Ray and Python versions).
* **Data** travels through Ray's object store: the driver loads the dataset with the studio's
  loaders (and its local ``.npz`` cache) and puts the arrays in the object store; nodes never read the
  user's files or need the studio's home directory mounted.
* **Results** travel back after every epoch: the remote side trains with
  :func:`fer_core.training.engine.train` into a temporary folder on its node and ships the files
  that changed (``checkpoint.keras``, ``state.json``, ``history.json``, ``model.keras``, at the end
  ``metrics.json`` and ``predictions.npz``) to the driver as bytes; the driver writes them
  atomically into the local run folder, checkpoint before state, metrics last. A resumed job ships
  the local checkpoint to the node first.
* **Cancel** raises a stop flag in the remote trainer; the engine's ``should_stop`` sees it.
  If the local worker dies, Ray ends the remote actor with its owner; if the remote worker dies,
  the driver reports it and the job is failed, resumable from the last epoch that came back.

Modules: :mod:`.connect` (addresses, bounded connection, clear errors, resource checks),
:mod:`.files` (which files travel and how they are written back), :mod:`.trainer` (the actor on
the cluster), :mod:`.driver` (:func:`train_on_ray`), :mod:`.sweep` (Ray Tune sweeps).
"""
from __future__ import annotations

from .connect import ADDRESS_ENV, parse_address, resolve_address

__all__ = ["ADDRESS_ENV", "parse_address", "resolve_address"]
