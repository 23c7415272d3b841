"""Training configurations: dataclasses, validation, and TOML reading and writing.

(Long because every field of the schema is documented and checked here, once.)

A configuration is a TOML file (or a dict of the same shape)::

    name = "fer2013_five_layer"
    imbalance = "none"            # none | class_weight | oversample | smote | adasyn

    [data]                        # what to train on (see DataSpec)
    path = "../shared/data/fer2013"

    [model]                       # what to train (see ModelSpec)
    name = "five_layer"

    [train]                       # how (see TrainSpec)
    epochs = 300
    optimizer = "sgd"

    [augment]                     # on-the-fly augmentation of the train split (see AugmentSpec)
    flip = true

    [resources]                   # what a job asks of a Ray cluster (see ResourceSpec)
    cpus = 2

Relative paths (``data.path``, ``data.ferplus``, ``model.weights``) resolve against the project
root (the folder holding ``fer_core/``), never against the config file or
the working directory, so ``../shared/data/fer2013`` means the shared data beside the checkout.
Every field is checked once, here; a bad one raises :class:`~fer_core.errors.ConfigError` naming
the field (``train.lr``), the value received and what is accepted.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from ..paths import PROJECT_ROOT
from ..errors import ConfigError, close_matches, did_you_mean
from ..io import atomic_write_text

FORMATS = ("auto", "synthetic", "fer2013-csv", "folders", "oahega")
COLORS = ("grey", "rgb")
EXTRAS = ("keep", "drop")
OPTIMIZERS = ("sgd", "adam")
PRECISIONS = ("float32", "mixed_bfloat16")
SCHEDULES = ("plateau_halve", "constant", "cosine", "cosine_time")
IMBALANCE = ("none", "class_weight", "oversample", "smote", "adasyn")


@dataclass
class DataSpec:
    """Where the images come from and how they are split.

    Attributes
    ----------
    path : ``"synthetic"`` (or ``"synthetic:n=2000,seed=1"``), a FER2013 CSV, an image folder or
        a ``.zip``; relative paths resolve against the project root
    format : one of ``FORMATS`` (``"auto"`` detects it)
    size : decode folder/OAHEGA images (or generate synthetic ones) at size x size; None = loader
        default (48). Ignored for the FER2013 CSV, which is always 48x48.
    color : ``"grey"`` / ``"rgb"`` decoding; None = loader default
    val_fraction : share of the train split moved to val when the data has no val split
    subset : at most this many images per split (stratified by class, with ``seed``); None = all
    seed : seed of the loader's own split (folders, OAHEGA, synthetic), the val carve-out and the subset
    label_map : ``{raw class name: canonical name}``; an empty string drops that class
    extra : ``"keep"`` / ``"drop"`` classes outside the canonical seven (contempt, ahegao)
    ferplus : FER+ votes: ``"auto"`` (beside the data), ``"none"``, or a file path
    """

    path: str = "synthetic"
    format: str = "auto"
    size: int | None = None
    color: str | None = None
    val_fraction: float = 0.1
    subset: int | None = None
    seed: int = 0
    label_map: dict[str, str] = field(default_factory=dict)
    extra: str | None = None
    ferplus: str = "auto"


@dataclass
class ModelSpec:
    """The architecture (a name from ``fer_core.models.list_models()``) and its input.

    Attributes
    ----------
    name : registered model name
    input_size : side of the square input the model is built for (>= 32)
    channels : 1 (greyscale) or 3 (RGB); images are converted to this before training
    weights : None (random init), ``"imagenet"``, or a ``.h5`` / ``.weights.h5`` path
    kwargs : model-specific options passed to ``create_model`` (e.g. ``{dropout = 0.3}``)
    """

    name: str = "five_layer"
    input_size: int = 48
    channels: int = 1
    weights: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainSpec:
    """Optimisation settings.

    Attributes
    ----------
    epochs : number of epochs (>= 1)
    batch_size : images per step (>= 1)
    optimizer : ``"sgd"`` (with ``momentum``) or ``"adam"``
    lr : initial learning rate (> 0)
    momentum : SGD momentum in [0, 1)
    nesterov : Nesterov momentum for SGD (Sutskever et al. ICML 2013); ignored by Adam
    weight_decay : decoupled weight decay (Keras ``weight_decay``; 0 = off)
    schedule : ``"plateau_halve"`` (lr / 2 after ``patience_lr`` epochs without a new best val
        accuracy), ``"constant"``, ``"cosine"`` (from lr to 0 over ``epochs``) or
        ``"cosine_time"`` (from lr to 0 over ``time_limit_min`` of training, updated every batch:
        a budgeted run anneals fully whatever the machine's speed; ``epochs`` is then a cap)
    patience_lr : epochs without val-accuracy improvement before halving (plateau_halve)
    early_stopping : stop after this many epochs without val-accuracy improvement; 0 = off
    label_smoothing : in [0, 1)
    ema : momentum of an exponential moving average of the weights (Polyak averaging; e.g.
        0.999, about 1,000 steps), kept by the optimizer; validation, the best-epoch model and
        the test evaluation use the averaged weights, training continues from the raw ones.
        In [0, 1), 0 = off
    swa_epochs : stochastic weight averaging (Izmailov et al. UAI 2018): after the ``epochs`` of
        the schedule, this many more at the constant rate ``swa_lr``, the weights averaged over
        their ends; the batch-norm statistics are then recomputed on an epoch of training batches
        (augmented as in training) and the average, validated, replaces the best epoch's model if
        it is more accurate on validation.
        0 = off. May be added to a finished run (``--resume``)
    swa_lr : the constant learning rate of the SWA epochs (> 0)
    soft_labels : train on the FER+ vote distributions (``dataset.soft_labels``)
    soft_weight : with ``soft_labels``, share of the vote distribution in each target row (the rest
        is the one-hot label), in (0, 1]; 1 = the votes alone. Faces without votes keep their label
    teacher : knowledge distillation (Hinton et al. 2015): a run id or bundled id (an ensemble
        too) whose class probabilities on the training images, with the teacher's own test-time
        augmentation, are blended into the targets; None = off. The teacher must have been
        trained on the same train split (same ``data.seed`` and ``data.val_fraction``), or the
        validation images are no longer unseen
    teacher_weight : share of the teacher's probabilities in each target row, in (0, 1]
    seed : seed of weights, shuffling and augmentation
    time_limit_min : stop cleanly after this many minutes of training, counted over every
        session of a resumed run (None = no limit)
    precision : ``"float32"`` or ``"mixed_bfloat16"`` (Keras mixed precision: layers compute in
        bfloat16, variables, the softmax and the loss stay float32). Faster only on CPUs with native
        bfloat16 (the ``avx512_bf16`` or ``amx_bf16`` flag: 1.3-1.4x measured on an AMD Zen 4, half
        speed on an Intel Xeon without it); the saved ``model.keras`` computes in float32 either way.
        Fixed for a run (not changed on resume)
    steps_per_execution : batches run per call into TensorFlow (Keras ``steps_per_execution``):
        fewer Python round trips; progress, cancellation and the time limit are checked once per
        call. Default 1; a larger value pays only where ``python -m fer_core bench train`` shows it
    """

    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "plateau_halve"
    patience_lr: int = 10
    early_stopping: int = 0
    label_smoothing: float = 0.0
    ema: float = 0.0
    swa_epochs: int = 0
    swa_lr: float = 1e-4
    soft_labels: bool = False
    soft_weight: float = 1.0
    teacher: str | None = None
    teacher_weight: float = 0.5
    seed: int = 0
    time_limit_min: float | None = None
    steps_per_execution: int = 1
    precision: str = "float32"

    @property
    def total_epochs(self) -> int:
        """The schedule's epochs, then the SWA ones."""
        return self.epochs + self.swa_epochs


@dataclass
class AugmentSpec:
    """On-the-fly augmentation of training batches (paper 001 §V-B settings by default).

    Attributes
    ----------
    enabled : master switch
    flip : random horizontal flips
    rotation : maximum rotation in degrees (0 = off)
    zoom : maximum zoom in/out as a fraction (0 = off)
    shift : maximum horizontal and vertical shift as a fraction of the side (0 = off)
    erasing : probability that a training image gets a rectangle of random noise (random erasing,
        Zhong et al. AAAI 2020; 2-33% of each side squared, after the geometric transforms; 0 = off)
    mixup : alpha of mixup (Zhang et al. ICLR 2018): every training batch is blended with a
        shuffled copy of itself, images and targets alike, with per-image weights drawn from
        Beta(alpha, alpha), after the other augmentations; in [0, 1], 0 = off (0.2 is usual)
    cutmix : alpha of CutMix (Yun et al. ICCV 2019): a box of each training image is replaced by
        the same box of another image of the batch and the targets are weighted by area (the box
        covers 1 - lambda of the image, lambda ~ Beta(alpha, alpha)); in [0, 1], 0 = off (1.0 is
        usual). With mixup also on, each image gets one of the two at random
    corruptions : robustness training: corruption names or subsets of
        ``fer_core.robustness`` (e.g. ``["lighting", "occlusion"]``); empty = off
    corruption_p : probability that a training image is corrupted (when ``corruptions`` is set)
    corruption_max_severity : corruptions are drawn at a severity from 1 to this (1..5)
    """

    enabled: bool = True
    flip: bool = True
    rotation: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1
    erasing: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    corruptions: list[str] = field(default_factory=list)
    corruption_p: float = 0.5
    corruption_max_severity: int = 3


@dataclass
class EvalSpec:
    """How the finished run is evaluated on its test split (val and model selection never use it).

    Attributes
    ----------
    tta : test-time augmentation of the final predictions: ``"none"``, ``"flip"`` (mean of the
        face and its mirror image), ``"shift"`` or ``"tencrop"`` (see :mod:`fer_core.evaluation.predict`); the
        saved test probabilities, hence every metric of the run, use it, and ``metrics.json``
        also records the accuracy without it
    """

    tta: str = "none"


@dataclass
class ResourceSpec:
    """What one training job (or one sweep trial) asks of a Ray cluster; local jobs ignore it.

    Attributes
    ----------
    cpus : CPU cores reserved on the Ray node (> 0; TensorFlow uses this many threads there)
    gpus : GPUs reserved (>= 0; fractions share a GPU); TensorFlow trains on them when > 0
    memory_gb : RAM reserved on the node in GB (None = no reservation)
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float | None = None


@dataclass
class TrainConfig:
    """One training run: data, model, optimisation, augmentation and class-imbalance handling."""

    name: str
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    imbalance: str = "none"

    def resolved_data_path(self) -> str:
        """``data.path`` made absolute against the project root (``"synthetic..."`` unchanged)."""
        return resolve_path(self.data.path)

    def data_missing(self) -> str | None:
        """Why ``data.path`` cannot be read on this machine (it names no file or folder here), or
        None when it is there or synthetic."""
        where = self.resolved_data_path()
        if where.startswith("synthetic") or Path(where).exists():
            return None
        return (f"data.path {self.data.path!r} is not on this machine (no file or folder at {where}); put the data "
                "there (see ../shared/data/README.md for the FER datasets) or set data.path to where it is.")


_SECTIONS = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec, "augment": AugmentSpec, "eval": EvalSpec,
             "resources": ResourceSpec}


# -- paths ---------------------------------------------------------------------------------
def resolve_path(path: str) -> str:
    """An absolute path for ``path``: relative ones resolve against the project root."""
    if path == "synthetic" or path.startswith("synthetic:"):
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (PROJECT_ROOT / p).resolve())


def config_header(path: str | Path) -> str:
    """The comment block that opens a configuration file (what it reproduces, why, results), with
    the ``#`` marks removed; "" when it has none."""
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines).strip()


# -- loading -------------------------------------------------------------------------------
def load_config(source: str | Path | Mapping[str, Any] | TrainConfig) -> TrainConfig:
    """Read and validate a configuration.

    Parameters
    ----------
    source : a TOML file path, a dict of the same shape, or a TrainConfig (re-validated)

    Returns
    -------
    TrainConfig, every field checked

    Raises
    ------
    ConfigError : unreadable file, unknown key (the valid keys are listed) or bad value
    """
    if isinstance(source, TrainConfig):
        return validate(replace(source))
    if isinstance(source, Mapping):
        raw = dict(source)
        where = "config"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist; give the path of a .toml file "
                              "(see experiments/*.toml).")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: Windows editors start with a BOM
        except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, an integer of over 4300 digits
            raise ConfigError(f"{path}: not valid TOML ({exc}).") from None
        where = str(path)
        if "name" not in raw:
            raw["name"] = path.stem
    else:
        raise ConfigError(f"load_config expects a TOML path, a dict or a TrainConfig, got {type(source).__name__}.")
    return validate(_from_dict(raw, where))


def _from_dict(raw: Mapping[str, Any], where: str) -> TrainConfig:
    top = {f.name for f in fields(TrainConfig)}
    _check_keys(raw, top, "", where)
    if "name" not in raw:
        raise ConfigError(f"{where}: missing the run 'name' (a short string such as 'fer2013_five_layer').")
    kwargs: dict[str, Any] = {"name": raw["name"], "imbalance": raw.get("imbalance", "none")}
    for section, cls in _SECTIONS.items():
        sub = raw.get(section, {})
        if isinstance(sub, tuple(_SECTIONS.values())):
            sub = asdict(sub)
        if not isinstance(sub, Mapping):
            raise ConfigError(f"{where}: [{section}] must be a table of keys, got {type(sub).__name__} {sub!r}.")
        _check_keys(sub, {f.name for f in fields(cls)}, section + ".", where)
        kwargs[section] = cls(**dict(sub))
    return TrainConfig(**kwargs)


def _check_keys(raw: Mapping[str, Any], valid: set[str], prefix: str, where: str) -> None:
    unknown = [k for k in raw if k not in valid]
    if unknown:
        key = unknown[0]
        close = close_matches(key, sorted(valid))
        hint = f" (did you mean {prefix}{close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where}: unknown key {prefix}{key!r}{hint}. Valid keys{' in [' + prefix[:-1] + ']' if prefix else ''}: "
            f"{', '.join(sorted(valid))}."
        )


# -- validation ----------------------------------------------------------------------------
def _bad(name: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{name} must be {expected}, got {value!r}.")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    if _is_int(v):
        return abs(v) <= 1e300  # math.isfinite(10**400) raises OverflowError: such a number is out of range
    return isinstance(v, float) and math.isfinite(v)


def _int(name: str, v: Any, lo: int | None = None, *, optional: bool = False, hint: str = "") -> int | None:
    if v is None and optional:
        return None
    if not _is_int(v) or (lo is not None and v < lo):
        raise _bad(name, v, f"an integer >= {lo}{' or omitted' if optional else ''}{hint}" if lo is not None
                   else "an integer")
    return int(v)


def _num(name: str, v: Any, lo: float, hi: float | None = None, *, lo_open: bool = False,
         hi_open: bool = False, optional: bool = False) -> float | None:
    if v is None and optional:
        return None
    ok = _is_num(v) and (v > lo if lo_open else v >= lo) and (
        hi is None or (v < hi if hi_open else v <= hi))
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else 'inf'}{')' if hi_open or hi is None else ']'}"
        raise _bad(name, v, f"a number in {rng}{' or omitted' if optional else ''}")
    return float(v)


def _choice(name: str, v: Any, choices: tuple[str, ...], *, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if v not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {v!r}{did_you_mean(v, choices)}.")
    return v


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _bad(name, v, "true or false")
    return v


def _str(name: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _bad(name, v, "a non-empty string")
    return v


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every field of ``cfg`` (returns it, with numbers normalised); raise ConfigError."""
    _str("name", cfg.name)
    if any(c in cfg.name for c in "/\\\0"):
        raise _bad("name", cfg.name, "a run name without '/' or '\\'")
    cfg.imbalance = _choice("imbalance", cfg.imbalance, IMBALANCE)

    d = cfg.data
    _str("data.path", d.path)
    d.format = _choice("data.format", d.format, FORMATS)
    d.size = _int("data.size", d.size, 32, optional=True)
    d.color = _choice("data.color", d.color, COLORS, optional=True)
    d.val_fraction = _num("data.val_fraction", d.val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    d.subset = _int("data.subset", d.subset, 7, optional=True, hint=" (images per split, one per class at least)")
    d.seed = _int("data.seed", d.seed, 0)
    if not isinstance(d.label_map, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in d.label_map.items()):
        raise _bad("data.label_map", d.label_map,
                   "a table of {raw class name = \"canonical name\"} strings (\"\" drops a class)")
    d.label_map = dict(d.label_map)
    d.extra = _choice("data.extra", d.extra, EXTRAS, optional=True)
    if not isinstance(d.ferplus, str) or not d.ferplus:
        raise _bad("data.ferplus", d.ferplus, "'auto', 'none' or the path of a FER+ votes file")

    m = cfg.model
    _str("model.name", m.name)
    _check_model_name(m.name)
    m.input_size = _int("model.input_size", m.input_size, 32)
    if m.channels not in (1, 3) or not _is_int(m.channels):
        raise _bad("model.channels", m.channels, "1 (greyscale) or 3 (RGB)")
    if m.weights is not None:
        _str("model.weights", m.weights)
        if m.weights != "imagenet" and not m.weights.endswith(".h5"):
            raise _bad("model.weights", m.weights, "omitted (random init), 'imagenet' or a .h5 / .weights.h5 path")
    if not isinstance(m.kwargs, Mapping) or not all(isinstance(k, str) for k in m.kwargs):
        raise _bad("model.kwargs", m.kwargs, "a table of model options, e.g. {dropout = 0.3}")
    m.kwargs = dict(m.kwargs)
    _check_model_kwargs(m.name, m.kwargs)

    t = cfg.train
    t.epochs = _int("train.epochs", t.epochs, 1)
    t.batch_size = _int("train.batch_size", t.batch_size, 1)
    t.optimizer = _choice("train.optimizer", t.optimizer, OPTIMIZERS)
    t.lr = _num("train.lr", t.lr, 0.0, 10.0, lo_open=True)
    t.momentum = _num("train.momentum", t.momentum, 0.0, 1.0, hi_open=True)
    t.nesterov = _bool("train.nesterov", t.nesterov)
    t.precision = _choice("train.precision", t.precision, PRECISIONS)
    t.weight_decay = _num("train.weight_decay", t.weight_decay, 0.0, 1.0, hi_open=True)
    t.schedule = _choice("train.schedule", t.schedule, SCHEDULES)
    t.patience_lr = _int("train.patience_lr", t.patience_lr, 1)
    t.steps_per_execution = _int("train.steps_per_execution", t.steps_per_execution, 1)
    t.early_stopping = _int("train.early_stopping", t.early_stopping, 0, hint=" (0 turns it off)")
    t.label_smoothing = _num("train.label_smoothing", t.label_smoothing, 0.0, 1.0, hi_open=True)
    t.ema = _num("train.ema", t.ema, 0.0, 1.0, hi_open=True)
    t.swa_epochs = _int("train.swa_epochs", t.swa_epochs, 0, hint=" (0 turns it off)")
    t.swa_lr = _num("train.swa_lr", t.swa_lr, 0.0, 10.0, lo_open=True)
    t.soft_labels = _bool("train.soft_labels", t.soft_labels)
    t.soft_weight = _num("train.soft_weight", t.soft_weight, 0.0, 1.0, lo_open=True)
    if t.teacher is not None:
        t.teacher = _str("train.teacher", t.teacher).strip()
    t.teacher_weight = _num("train.teacher_weight", t.teacher_weight, 0.0, 1.0, lo_open=True)
    t.seed = _int("train.seed", t.seed, 0)
    t.time_limit_min = _num("train.time_limit_min", t.time_limit_min, 0.0, lo_open=True, optional=True)
    if t.schedule == "cosine_time" and t.time_limit_min is None:
        raise ConfigError("train.schedule = 'cosine_time' anneals the learning rate over train.time_limit_min; "
                          "set it (e.g. time_limit_min = 44) or use schedule = 'cosine' (over epochs).")

    a = cfg.augment
    a.enabled = _bool("augment.enabled", a.enabled)
    a.flip = _bool("augment.flip", a.flip)
    a.rotation = _num("augment.rotation", a.rotation, 0.0, 180.0)
    a.zoom = _num("augment.zoom", a.zoom, 0.0, 1.0, hi_open=True)
    a.shift = _num("augment.shift", a.shift, 0.0, 1.0, hi_open=True)
    a.erasing = _num("augment.erasing", a.erasing, 0.0, 1.0)
    a.mixup = _num("augment.mixup", a.mixup, 0.0, 1.0)
    a.cutmix = _num("augment.cutmix", a.cutmix, 0.0, 1.0)
    if not isinstance(a.corruptions, (list, tuple)) or not all(isinstance(c, str) for c in a.corruptions):
        raise _bad("augment.corruptions", a.corruptions, "a list of corruption names (strings)")
    a.corruptions = list(a.corruptions)
    if a.corruptions:
        from ..robustness.corruptions import resolve_names

        try:
            resolve_names(a.corruptions)
        except ConfigError as e:
            raise ConfigError(f"augment.corruptions = {a.corruptions!r}: {e}") from None
    a.corruption_p = _num("augment.corruption_p", a.corruption_p, 0.0, 1.0)
    from ..tta import TTA_MODES

    cfg.eval.tta = _choice("eval.tta", cfg.eval.tta, TTA_MODES)
    a.corruption_max_severity = _int("augment.corruption_max_severity", a.corruption_max_severity, 1)
    if a.corruption_max_severity > 5:
        raise _bad("augment.corruption_max_severity", a.corruption_max_severity, "an integer in 1..5")

    r = cfg.resources
    r.cpus = _num("resources.cpus", r.cpus, 0.0, 1024.0, lo_open=True)
    r.gpus = _num("resources.gpus", r.gpus, 0.0, 64.0)
    r.memory_gb = _num("resources.memory_gb", r.memory_gb, 0.0, 1e5, lo_open=True, optional=True)
    return cfg


def _check_model_name(name: str) -> None:
    """Check ``name`` against the model registry when it can be imported."""
    try:
        from ..models import list_models
    except ImportError:  # pragma: no cover - registry not installed
        return
    names = list_models()
    if name not in names:
        hint = did_you_mean(name, names, n=3, cutoff=0.5)
        raise ConfigError(f"model.name must be a registered model, got {name!r}{hint}. "
                          f"Registered: {', '.join(names)}.")


def _check_model_kwargs(name: str, kwargs: Mapping[str, Any]) -> None:
    """Check ``model.kwargs`` against the options the registered entrypoint accepts."""
    try:
        from ..models import registry
    except ImportError:  # pragma: no cover
        return
    options = getattr(getattr(registry, "_ENTRYPOINTS", {}).get(name), "options", None)
    if options is None:
        return
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise ConfigError(f"model.kwargs = {dict(kwargs)!r} has option(s) {unknown} that model {name!r} does not accept; "
                          f"accepted: {list(options) or 'none'}.")


# -- overrides -----------------------------------------------------------------------------
def apply_overrides(cfg: TrainConfig, overrides: Mapping[str, Any] | list[str]) -> TrainConfig:
    """A validated copy of ``cfg`` with dotted keys replaced.

    ``overrides`` is a mapping ``{"train.lr": 0.01}`` or a list of ``"train.lr=0.01"`` strings,
    whose values are read as TOML (``true``, ``0.01``, ``"adam"``, ``[1, 2]``) and fall back to
    plain strings (``train.optimizer=adam``).
    """
    raw = config_to_dict(cfg, keep_none=True)
    items = overrides.items() if isinstance(overrides, Mapping) else (_parse_assignment(s) for s in overrides)
    for key, value in items:
        parts = str(key).split(".")
        if len(parts) == 1:
            _check_keys({key: None}, {f.name for f in fields(TrainConfig)} - set(_SECTIONS), "", "override")
            raw[key] = value
        elif len(parts) == 2 and parts[0] in _SECTIONS:
            _check_keys({parts[1]: None}, {f.name for f in fields(_SECTIONS[parts[0]])}, parts[0] + ".", "override")
            raw[parts[0]][parts[1]] = value
        elif len(parts) == 3 and parts[0] in ("model", "data") and parts[1] in ("kwargs", "label_map"):
            table = raw[parts[0]].setdefault(parts[1], {})
            if not isinstance(table, dict):
                raise ConfigError(f"override {key!r}: {parts[0]}.{parts[1]} is {table!r}, not a table; set "
                                  f"{parts[0]}.{parts[1]} to a table such as {{a = 1}}, or set its keys one by one.")
            table[parts[2]] = value
        else:
            raise ConfigError(f"override key {key!r} must look like 'train.lr', 'model.kwargs.dropout' or 'name'; "
                              f"sections: {', '.join(_SECTIONS)}.")
    return validate(_from_dict(raw, "override"))


def _parse_assignment(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. train.lr=0.01), got {text!r}.")
    key, value = (s.strip() for s in text.split("=", 1))
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except ValueError:  # not TOML (or an integer of over 4300 digits): a plain string
        parsed = value
    if isinstance(parsed, str) and parsed.lower() in ("none", "null"):
        parsed = None
    return key, parsed


# -- writing -------------------------------------------------------------------------------
def config_to_dict(cfg: TrainConfig, *, keep_none: bool = False) -> dict[str, Any]:
    """The configuration as nested plain dicts (None values left out unless ``keep_none``)."""
    out = asdict(cfg)
    if not keep_none:
        out = _drop_none(out)
    return out


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    return obj


def to_toml(cfg: TrainConfig | Mapping[str, Any]) -> str:
    """TOML text of a configuration: top-level keys, then one table per section."""
    data = config_to_dict(cfg) if isinstance(cfg, TrainConfig) else _drop_none(dict(cfg))
    lines: list[str] = []
    tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
    for key, value in data.items():
        if not isinstance(value, Mapping):
            lines.append(f"{_key(key)} = {_value(value)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{_key(name)}]")
        for key, value in table.items():
            lines.append(f"{_key(key)} = {_value(value)}")
    return "\n".join(lines) + "\n"


def dump_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write ``cfg`` as TOML to ``path`` (atomically); ``load_config(path)`` gives it back."""
    atomic_write_text(path, to_toml(cfg))


def _key(key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key):  # TOML bare keys are ASCII
        return key
    return _value(str(key))


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        out = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        out = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in out)
        return f'"{out}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        items = [(k, x) for k, x in v.items() if x is not None]
        return "{" + ", ".join(f"{_key(str(k))} = {_value(x)}" for k, x in items) + "}"
    raise ConfigError(f"cannot write a {type(v).__name__} ({v!r}) to TOML; use str, int, float, bool, list or table.")
