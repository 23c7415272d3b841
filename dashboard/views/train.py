"""Train: configure a run, see how long an epoch should take, submit it as a background job (here
or on a Ray cluster), launch a sweep, and watch every job (progress, ETA, learning curves; cancel,
resume, log of failures)."""
from __future__ import annotations

import os

import streamlit as st

from dashboard import state
from dashboard.jobs_panel import jobs_panel
from fer_core.errors import FERError
from fer_core.jobs import JobManager
from fer_core.models import list_models, model_info
from fer_core.names import slug
from fer_core.remote import ADDRESS_ENV, resolve_address
from fer_core.sweeps import SCHEDULERS, submit_sweep
from fer_core.robustness import CORRUPTIONS, SUBSETS
from fer_core.throughput import BENCH_FILE, expected_rate, model_key
from fer_core.paths import PROJECT_ROOT, native_bfloat16
from fer_core.training.config import (IMBALANCE, OPTIMIZERS, PRECISIONS, SCHEDULES, DataSpec, config_header,
                                      config_to_dict, load_config)
from fer_core.training.sizes import SYNTHETIC_FRACTIONS, epoch_images, synthetic_train_counts

st.title("Train")
st.write("Every job runs in its own process: you can leave this page, or restart the dashboard, "
         "and the job goes on. Jobs beyond the limit (half the CPU cores, or $FER_STUDIO_MAX_JOBS) wait in the queue.")

# -- the configuration ------------------------------------------------------------------------
st.subheader("New training job")
left, right = st.columns(2)
with left:
    data_ok = True
    options = state.dataset_options()
    keys = list(options)
    dkey = st.selectbox("Dataset", keys, index=keys.index(state.current_dataset_key()), format_func=options.get,
                        key="train_dataset")
    if dkey == state.SYNTHETIC:
        n_syn = int(st.number_input(f"Synthetic images (generated; {SYNTHETIC_FRACTIONS[0]:.0%} train)", 210, 40000,
                                    3000, step=500, key="train_syn_n"))
        data_path = f"synthetic:n={n_syn}"
        st.caption("Synthetic faces: results show the pipeline works, not how a model does on real faces.")
    else:
        data_path, _, opts = state.dataset_spec(dkey)
        try:
            state.dataset(*state.dataset_spec(dkey))  # loads (cached): the job will too
        except (FERError, OSError) as exc:
            st.error(f"Dataset {dkey!r} cannot be loaded: {exc}. Fix it on the Data page or pick another one.")
            data_ok = False
        if opts != "{}":
            st.warning(f"Loading options {opts} of this registered dataset are not part of a training "
                       "configuration; the job loads it with the defaults.")
    subset = int(st.number_input("At most this many images per split (0 = all)", 0, 1_000_000, 0, step=500,
                                 key="train_subset"))
    names = list_models()
    model = st.selectbox("Model", names, index=names.index("five_layer") if "five_layer" in names else 0,
                         key="train_model")
    info = model_info(model)
    st.caption(f"**{info.paper}** — {info.description} Backbone input {info.input_size[0]}x{info.input_size[1]}"
               f"{', RGB' if info.rgb else ''} (48x48 greyscale faces are adapted inside the model).")
    imbalance = st.selectbox("Class imbalance", IMBALANCE, key="train_imbalance",
                             help="class_weight reweights the loss; oversample/smote/adasyn grow every class of "
                                  "the train split to the largest one (val and test are never touched).")
with right:
    optimizer = st.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index("adam"), key="train_optimizer")
    lr = st.number_input("Learning rate", 1e-6, 1.0, 1e-3, format="%.5f", key="train_lr")
    schedule = st.selectbox("Learning-rate schedule", SCHEDULES, index=SCHEDULES.index("cosine"), key="train_schedule")
    epochs = int(st.number_input("Epochs", 1, 1000, 10, key="train_epochs"))
    batch = int(st.number_input("Batch size", 1, 1024, 64, step=16, key="train_batch"))
    native = native_bfloat16()
    precision = st.selectbox("Precision", PRECISIONS, key="train_precision",
                             help="mixed_bfloat16 computes in bfloat16 (variables and the saved model stay float32): "
                                  "faster only where the CPU has native bfloat16 (1.3-1.4x on an AMD Zen 4), slower "
                                  "elsewhere. This machine: " + {True: "native bfloat16", False: "no native bfloat16",
                                                                 None: "unknown"}[native] + ".")
    st.markdown("**Augmentation** (train split only)")
    aug = st.toggle("Augment", True, key="train_aug")
    a1, a2 = st.columns(2)
    flip = a1.checkbox("Horizontal flips", True, key="train_flip", disabled=not aug)
    rotation = a2.slider("Rotation ± degrees", 0, 45, 10, key="train_rotation", disabled=not aug)
    zoom = a1.slider("Zoom ±", 0.0, 0.5, 0.1, 0.05, key="train_zoom", disabled=not aug)
    shift = a2.slider("Shift ± (fraction)", 0.0, 0.5, 0.1, 0.05, key="train_shift", disabled=not aug)
    corruptions = st.multiselect(
        "Robustness training: corrupt training images with", [*SUBSETS, *CORRUPTIONS], key="train_corruptions",
        disabled=not aug, help="Each training image is corrupted with the probability below by one of the chosen "
                               "corruptions (the ones of the Robustness page), at severity 1-3.")
    corruption_p = st.slider("Share of corrupted training images", 0.0, 1.0, 0.3, 0.05, key="train_corruption_p",
                             disabled=not (aug and corruptions))
with st.expander("Regularisation: the levers of the bundled models' recipes (experiments/fer2013_member_*.toml)"):
    g1, g2, g3 = st.columns(3)
    weight_decay = g1.number_input("Weight decay (decoupled)", 0.0, 0.5, 0.0, 0.005, format="%.3f", key="train_wd",
                                   help="The bundled fer_nets use 0.01 with Adam.")
    smoothing = g2.slider("Label smoothing", 0.0, 0.5, 0.0, 0.05, key="train_smoothing",
                          help="The bundled fer_nets use 0.1.")
    erasing = g3.slider("Random erasing (probability)", 0.0, 1.0, 0.0, 0.1, key="train_erasing", disabled=not aug,
                        help="A rectangle of noise on this share of training images; the bundled fer_nets use 0.5.")
    mixup = g1.slider("Mixup alpha", 0.0, 1.0, 0.0, 0.1, key="train_mixup", disabled=not aug,
                      help="Blend pairs of faces and their labels (Zhang et al. 2018); member N uses 0.2.")
    cutmix = g2.slider("CutMix alpha", 0.0, 1.0, 0.0, 0.1, key="train_cutmix", disabled=not aug,
                       help="Paste a patch of another face, labels by area (Yun et al. 2019); member O used 1.0.")
    ema = g3.select_slider("EMA of the weights", [0.0, 0.99, 0.995, 0.999, 0.9995], 0.0, key="train_ema",
                           help="Validate and keep a moving average of the weights (member H: 0.999); 0 = off.")
    swa_epochs = int(g1.number_input("SWA epochs after the schedule", 0, 500, 0, key="train_swa_epochs",
                                     help="Stochastic weight averaging: this many more epochs at a constant rate, "
                                          "their weights averaged (kept if better on validation); 0 = off."))
    swa_lr = g2.number_input("SWA learning rate", 1e-6, 1.0, 1e-4, format="%.5f", key="train_swa_lr",
                             disabled=not swa_epochs)
run_name = st.text_input("Run name", key="train_name", placeholder=f"{model}_{slug(dkey)}").strip() \
    or f"{model}_{slug(dkey)}"

if dkey == state.SYNTHETIC:
    n_train = epoch_images(synthetic_train_counts(n_syn, DataSpec(subset=subset or None)), imbalance)
else:
    n_train = epoch_images(state.train_counts(dkey, subset or None), imbalance) if data_ok else 0
rate = expected_rate(model, state.store(), precision=precision)
if rate is None:
    st.caption(f"≈ {n_train:,} training images per epoch. Speed of **{model}** unknown: no measurement yet. Its "
               f"first run will measure it, or run `python -m fer_core bench train` (writes `{BENCH_FILE}`).")
else:
    st.info(rate.estimate(n_train, epochs + swa_epochs))

config = {
    "name": run_name, "imbalance": imbalance,
    "data": {"path": data_path, **({"subset": subset} if subset else {})},
    "model": {"name": model},
    "train": {"epochs": epochs, "batch_size": batch, "optimizer": optimizer, "lr": float(lr), "schedule": schedule,
              "weight_decay": float(weight_decay), "label_smoothing": float(smoothing), "ema": float(ema),
              "swa_epochs": swa_epochs, "swa_lr": float(swa_lr), "precision": precision},
    "augment": {"enabled": aug, "flip": flip, "rotation": float(rotation), "zoom": float(zoom), "shift": float(shift),
                "erasing": float(erasing), "mixup": float(mixup), "cutmix": float(cutmix),
                "corruptions": corruptions, "corruption_p": float(corruption_p)},
}
# -- where it runs ----------------------------------------------------------------------------
env_address = os.environ.get(ADDRESS_ENV, "").strip()
w1, w2 = st.columns([1, 2])
where = w1.radio("Where to run", ["Local process", "Ray cluster"], index=1 if env_address else 0, key="train_where",
                 help="A Ray cluster trains on its nodes with the resources below; the run lands here like a local one.")
ray_address = None
if where == "Ray cluster":
    ray_address = w2.text_input("Ray address", env_address, key="train_ray_address",
                                placeholder="127.0.0.1:6379 (the address `ray start --head` prints)").strip()
    r1, r2, r3 = st.columns(3)
    cpus = r1.number_input("CPUs", 0.5, 256.0, 1.0, 0.5, key="train_cpus")
    gpus = r2.number_input("GPUs", 0.0, 16.0, 0.0, 1.0, key="train_gpus", help="TensorFlow trains on them when > 0")
    memory = r3.number_input("Memory (GiB, 0 = no reservation)", 0.0, 4096.0, 0.0, 1.0, key="train_memory")
    config["resources"] = {"cpus": float(cpus), "gpus": float(gpus), **({"memory_gb": float(memory)} if memory else {})}


def _where() -> dict:
    """The job params of the chosen place (ConfigError for a Ray choice without a valid address)."""
    if where != "Ray cluster":
        return {}
    address = resolve_address(ray_address or "")
    if not address:
        raise FERError("give the Ray cluster's address (host:port), or choose Local process.")
    return {"ray_address": address}


if st.button("Submit training job", type="primary", key="train_submit", disabled=not data_ok):
    try:
        load_config(config)
        job = JobManager().submit(config, params=_where())
    except FERError as exc:
        st.error(f"Not submitted: {exc}")
    else:
        st.success(f"Submitted job **{job.id}** for run **{config['name']}** ({job.status})"
                   + (f" on the Ray cluster at {job.ray_address}." if job.ray_address else "."))

with st.expander("Reproduce a setting: submit a configuration of experiments/ as it is"):
    files = sorted((PROJECT_ROOT / "experiments").glob("*.toml"))
    pick = st.selectbox("Configuration", files, format_func=lambda f: f.name, key="recipe_file",
                        help="The papers' settings, the bundled models' recipes and their quick variants "
                             "(README, Results and Bundled models).")
    try:
        recipe = load_config(pick)
    except FERError as exc:
        st.error(f"{pick.name} is not a valid configuration: {exc}")
        recipe = None
    if recipe is not None:
        st.markdown(f"**{recipe.model.name}** · {recipe.train.epochs} epochs"
                    + (f" + {recipe.train.swa_epochs} SWA" if recipe.train.swa_epochs else "")
                    + f" · data `{recipe.data.path}`" + (f" · teacher `{recipe.train.teacher}`" if recipe.train.teacher
                                                         else ""))
        st.code(config_header(pick) or "(no description)", language=None, wrap_lines=True)
        speed = expected_rate(recipe.model.name, state.store(), precision=recipe.train.precision,
                              kwargs=recipe.model.kwargs)
        st.caption(speed.speed() if speed else f"Speed of {model_key(recipe.model.name, recipe.model.kwargs)} in "
                   f"{recipe.train.precision} unknown here: no finished run of it yet.")
        missing = recipe.data_missing()
        data_there = missing is None
        if missing:
            st.warning(f"{missing} Or pick another configuration.")
        if st.button("Submit this configuration", key="recipe_submit", disabled=not data_there):
            try:
                job = JobManager().submit(config_to_dict(recipe), params=_where())
            except FERError as exc:
                st.error(f"Not submitted: {exc}")
            else:
                st.success(f"Submitted job **{job.id}** for run **{recipe.name}** ({job.status}).")

with st.expander("Sweep: train a grid of these settings with Ray Tune"):
    grid_text = st.text_area("Grid: one key=value1,value2 per line", "train.lr=0.01,0.001", key="sweep_grid",
                             help="Any configuration key, e.g. model.name=five_layer,fer_net or train.batch_size=32,64")
    s1, s2 = st.columns(2)
    samples = int(s1.number_input("Samples per grid point (seeds)", 1, 16, 1, key="sweep_samples"))
    scheduler = s2.selectbox("Scheduler", SCHEDULERS, key="sweep_scheduler",
                             help="asha stops weak trials early on the validation accuracy; none runs every trial")
    st.caption("Every trial is a run of its own, tagged with the sweep (see **Compare**). The sweep runs on the Ray "
               "cluster chosen above, or on a private local Ray using all cores.")
    if st.button("Launch sweep", key="sweep_submit", disabled=not data_ok):
        try:
            load_config(config)
            rec, job = submit_sweep(config, [ln for ln in grid_text.splitlines() if ln.strip()], samples=samples,
                                    scheduler=scheduler, ray_address=_where().get("ray_address"))
        except FERError as exc:
            st.error(f"Sweep not launched: {exc}")
        else:
            st.success(f"Launched sweep **{rec['id']}** ({len(rec['trials'])} trials) as job **{job.id}**.")

# -- the jobs -------------------------------------------------------------------------------
st.subheader("Jobs")
jobs_panel()
