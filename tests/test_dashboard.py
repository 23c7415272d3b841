"""The Streamlit dashboard, headless (AppTest): every page renders with no data and with trained
runs, and the main interactions change what is shown.

Each test points ``FER_STUDIO_HOME`` at its own folder before the AppTest is created; the two tiny
runs are trained once per module. Background jobs a test starts are cancelled and stopped before
it ends.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer_core.data import write_fer2013_csv
from fer_core.data.synthetic import make_synthetic
from fer_core.evaluation import TTA_HELP
from fer_core.jobs import JobManager
from fer_core.runs import RunStore
from fer_core.paths import PROJECT_ROOT as ROOT
from fer_core.training.config import config_to_dict, load_config

pytestmark = pytest.mark.slow  # trains runs, starts training jobs
ROUTER = Path(__file__).resolve().parent.parent / "dashboard" / "Home.py"
TIMEOUT = 180  # seconds per script run: the first run of a page may import TensorFlow on a busy machine
PAGES = {
    "views/home.py": "FER Studio", "views/data.py": "Data", "views/train.py": "Train",
    "views/compare.py": "Compare", "views/explain.py": "Explain", "views/robustness.py": "Robustness",
    "views/predict.py": "Predict",
}
MODEL_PAGES = ["views/compare.py", "views/explain.py", "views/robustness.py", "views/predict.py"]


# -- helpers ------------------------------------------------------------------------------------
def open_page(page: str | None = None) -> AppTest:
    """Run the router, then switch to ``page`` (a path relative to dashboard/)."""
    at = AppTest.from_file(str(ROUTER), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    if page is not None and page != "views/home.py":
        at.switch_page(page).run()
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest, *kinds: str) -> str:
    """Every value of the given element kinds (default: all text-like ones), joined."""
    kinds = kinds or ("markdown", "info", "success", "warning", "error", "caption", "title", "subheader")
    return "\n".join(str(e.value) for k in kinds for e in at.get(k))


def frame(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table shown whose columns include ``columns`` (AppTest exposes no dataframe keys)."""
    for df in at.dataframe:
        value = df.value
        if set(columns) <= set(map(str, value.columns)):
            return value
    raise AssertionError(f"no table with columns {columns}; tables: {[list(d.value.columns) for d in at.dataframe]}")


def png(image: np.ndarray, scale: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.kron(image, np.ones((scale, scale), np.uint8))).save(buf, format="PNG")
    return buf.getvalue()


def stop_jobs(home: Path) -> None:
    """Cancel every job under ``home`` and make sure its worker process is gone."""
    jm = JobManager(home)
    for job in jm.list():
        if job.status in ("queued", "running"):
            jm.cancel(job.id)
            if job.pid:  # the worker leads its own process group; do not wait out the grace period
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(job.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while any(j.status in ("queued", "running") for j in jm.list()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert all(j.status not in ("queued", "running") for j in jm.list())


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "studio"
    monkeypatch.setenv("FER_STUDIO_HOME", str(home))
    yield home
    if (home / "jobs").is_dir():
        stop_jobs(home)


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory) -> Path:
    """Two tiny five-layer runs (different seeds) on 280 synthetic faces, trained in-process."""
    from fer_core.training.engine import train

    home = tmp_path_factory.mktemp("dashboard_runs")
    store = RunStore(home)
    for seed in (0, 1):
        cfg = load_config({"name": f"tiny{seed}", "data": {"path": "synthetic:n=280"}, "model": {"name": "five_layer"},
                           "train": {"epochs": 2, "batch_size": 32, "seed": seed}})
        run = store.create(config_to_dict(cfg))
        train(cfg, run.path)
        store.refresh(run.id)
        store.update(run.id, status="done")
    return home


@pytest.fixture
def runs_home(trained_home, monkeypatch) -> Path:
    monkeypatch.setenv("FER_STUDIO_HOME", str(trained_home))
    return trained_home


@pytest.fixture
def runs_home_copy(trained_home, tmp_path, monkeypatch) -> Path:
    """A private copy of the trained home, for tests that write into it."""
    home = tmp_path / "studio"
    shutil.copytree(trained_home, home)
    monkeypatch.setenv("FER_STUDIO_HOME", str(home))
    return home


# -- empty state ----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_no_run(empty_home, page):
    at = open_page(page)
    assert at.title[0].value == PAGES[page]
    if page in MODEL_PAGES:  # a next step instead of a traceback
        assert "No trained model yet" in texts(at, "info")
    assert not (empty_home / "runs").is_dir() or not any((empty_home / "runs").iterdir())


def test_home_first_model_button_submits_the_quick_config(empty_home):
    at = open_page()
    assert "No model has been trained yet" in texts(at, "info")
    ok(at.button(key="home_first_run").click().run())
    jobs = JobManager(empty_home).list()
    assert len(jobs) == 1 and jobs[0].id in texts(at, "success")
    assert RunStore(empty_home).get(jobs[0].run_id).name == "synthetic_quick"
    stop_jobs(empty_home)
    at = ok(open_page())  # a run exists now: the button is gone
    assert not [b for b in at.button if b.key == "home_first_run"]


def test_train_submits_a_job_that_appears_and_can_be_cancelled(empty_home, monkeypatch):
    monkeypatch.setenv("FER_STUDIO_PROGRESS_DELAY", "2")  # the worker pauses 2 s per event: the cancel arrives first
    at = open_page("views/train.py")
    assert "Speed of **five_layer** unknown" in texts(at, "caption")  # nothing measured yet: no invented speed
    assert "Expected time" not in texts(at, "info")
    at.number_input(key="train_syn_n").set_value(210)
    at.number_input(key="train_epochs").set_value(1)
    at.text_input(key="train_name").input("dash_job")
    at.multiselect(key="train_corruptions").set_value(["lighting"])
    at.slider(key="train_mixup").set_value(0.2)
    at.number_input(key="train_swa_epochs").set_value(2)
    assert "bfloat16" in at.selectbox(key="train_precision").help
    at.selectbox(key="train_precision").set_value("mixed_bfloat16")
    ok(at.button(key="train_submit").click().run())
    jobs = JobManager(empty_home).list()
    assert len(jobs) == 1
    job = jobs[0]
    assert job.id in texts(at, "success") and job.id in texts(at, "markdown")  # the job row
    cfg = RunStore(empty_home).get(job.run_id).config()
    assert (cfg["name"], cfg["data"]["path"], cfg["train"]["epochs"]) == ("dash_job", "synthetic:n=210", 1)
    assert cfg["augment"]["corruptions"] == ["lighting"] and cfg["augment"]["corruption_p"] == 0.3
    assert cfg["augment"]["mixup"] == 0.2 and cfg["augment"]["erasing"] == 0.0 and cfg["train"]["ema"] == 0.0
    assert (cfg["train"]["swa_epochs"], cfg["train"]["swa_lr"]) == (2, 0.0001)
    assert cfg["train"]["precision"] == "mixed_bfloat16"
    assert job.status in ("queued", "running") and not job.cancel_requested
    deadline = time.monotonic() + 300
    while JobManager(empty_home).get(job.id).status == "queued" and time.monotonic() < deadline:
        time.sleep(0.5)
    ok(at.run())  # running now: it can also stop when its epoch ends
    ok(at.button(key=f"stop_{job.id}").click().run())
    assert JobManager(empty_home).get(job.id).stop_requested and "pausing at the end of this epoch" in texts(
        at, "markdown")
    assert not [b for b in at.button if b.key == f"stop_{job.id}"]  # asked once
    ok(at.button(key=f"cancel_{job.id}").click().run())  # and a cancel can still follow
    done = JobManager(empty_home).wait(job.id, timeout=300, poll=0.5)
    assert done.status == "cancelled", JobManager(empty_home).log_tail(job.id)
    stop_jobs(empty_home)


def test_data_page_registers_a_csv_and_audits_it(empty_home, tmp_path):
    ds = make_synthetic(70, seed=3)
    csv = empty_home / "incoming" / "fer_small.csv"
    csv.parent.mkdir(parents=True)
    write_fer2013_csv(ds, csv)
    at = open_page("views/data.py")
    assert "generated cartoon faces" in texts(at, "info")
    ok(at.text_input(key="data_reg_path").input(str(tmp_path / "nowhere")).run())
    ok(at.button(key="data_reg_button").click().run())
    assert "outside the folders the dashboard may read" in texts(at, "error")  # not any folder the server sees
    ok(at.text_input(key="data_reg_path").input(str(empty_home / "nowhere")).run())
    ok(at.button(key="data_reg_button").click().run())
    assert "no such file or folder" in texts(at, "error")  # a message, not a traceback
    at.text_input(key="data_reg_path").input(str(csv))
    ok(at.text_input(key="data_reg_name").input("small_csv").run())  # the button is enabled once a path is typed
    ok(at.button(key="data_reg_button").click().run())
    assert "Registered **small_csv**" in texts(at, "success")
    assert at.selectbox(key="data_pick").value == "small_csv"
    assert "real images" in texts(at, "caption") and "no split folders" not in texts(at, "caption")  # Usage column
    assert (empty_home / "datasets.json").is_file()
    ok(at.button(key="data_audit_button").click().run())
    labels = [m.label for m in at.metric]
    assert "Exact duplicate groups" in labels and "Leaking groups" in labels
    # a new session (a dashboard restart) still knows the dataset
    again = open_page("views/data.py")
    assert "small_csv" in again.selectbox(key="data_pick").options


def test_data_page_registers_an_uploaded_zip(empty_home):
    ds = make_synthetic(28, seed=4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (img, label) in enumerate(zip(ds.images, ds.labels)):  # class folders only: the loader splits
            zf.writestr(f"mini/{ds.classes[label]}/{i}.png", png(img, scale=1))
    at = open_page("views/data.py")
    ok(at.file_uploader(key="data_reg_zip").set_value(("mini.zip", buf.getvalue(), "application/zip")).run())
    ok(at.text_input(key="data_reg_zip_name").input("mini").run())
    ok(at.button(key="data_reg_zip_button").click().run())
    assert "Registered **mini**" in texts(at, "success") and at.selectbox(key="data_pick").value == "mini"
    assert "28 images 48x48" in texts(at, "caption")
    assert "no split folders: its images were split at random by class" in texts(at, "caption")
    assert not list((empty_home / "uploads").glob("*"))  # the upload is removed once unpacked
    (unpacked,) = list((empty_home / "datasets").iterdir())
    assert any("used by mini" in m.value for m in at.markdown)
    ok(at.button(key=f"data_rm_{unpacked.name}").click().run())
    assert f"Removed `{unpacked.name}` and unregistered mini" in texts(at, "success")
    assert not unpacked.exists() and at.selectbox(key="data_pick").value == "synthetic"


def test_train_shows_a_failed_job_with_its_log_and_resumes_it(empty_home):
    jm = JobManager(empty_home)
    job = jm.submit({"name": "flaky"}, kind="sleep_steps", params={"steps": 3, "step_s": 0.05, "fail_at": 2})
    assert jm.wait(job.id, timeout=120).status == "failed"
    at = open_page("views/train.py")
    assert "boom at step 2" in texts(at, "error")
    assert any("boom at step 2" in c.value for c in at.code)  # the log tail
    ok(at.button(key=f"resume_{job.id}").click().run())
    jobs = JobManager(empty_home).list()
    assert len(jobs) == 2 and jobs[0].run_id == job.run_id and jobs[0].resume


def test_train_offers_to_resume_a_run_that_has_a_checkpoint_and_no_job(empty_home):
    """A run unpacked from another machine (`runs unpack`) has no job here: the page lists it with a
    Resume button that starts a job on it."""
    store = RunStore(empty_home)
    run = store.create({"name": "carried", "data": {"path": "synthetic:n=210"}, "model": {"name": "five_layer"},
                        "train": {"epochs": 3}}, status="cancelled")
    (run.path / "checkpoint.keras").write_bytes(b"not read by the page")
    (run.path / "state.json").write_text('{"epoch": 1}')
    (run.path / "history.json").write_text('[{"epoch": 1, "accuracy": 0.2}]')
    store.create({"name": "fresh", "model": {"name": "five_layer"}}, status="cancelled")  # no checkpoint: not listed
    at = open_page("views/train.py")
    assert any("**carried**" in m.value and "1/3 epochs saved" in m.value for m in at.markdown)
    assert not any("**fresh**" in m.value for m in at.markdown)
    ok(at.button(key=f"resume_run_{run.id}").click().run())
    (job,) = JobManager(empty_home).list()
    stop_jobs(empty_home)
    assert job.run_id == run.id and job.resume and not JobManager(empty_home).runs_without_job()


def test_train_holds_a_jobs_curves_against_another_run(empty_home):
    """A job's learning curves can be held against another run's at the same epochs: the caption is
    fer_core.curves' comparison, and the chart draws both runs."""
    from fer_core.curves import curve_gap

    jm = JobManager(empty_home)
    job = jm.submit({"name": "newer"}, kind="sleep_steps", params={"steps": 1, "step_s": 0.01})
    assert jm.wait(job.id, timeout=120).status == "done"
    store = RunStore(empty_home)
    older = store.create({"name": "older", "model": {"name": "five_layer"}}, status="done")
    hists = {job.run_id: [{"epoch": e, "accuracy": 0.5, "val_accuracy": 0.40 + 0.02 * e} for e in range(1, 5)],
             older.id: [{"epoch": e, "accuracy": 0.5, "val_accuracy": 0.41 + 0.01 * e} for e in range(1, 9)]}
    for run_id, hist in hists.items():
        (store.get(run_id).path / "history.json").write_text(json.dumps(hist))
    at = open_page("views/train.py")
    box = at.selectbox(key=f"train_ref_{job.id}")
    assert box.value is None and len(box.options) == 2  # nothing picked; the job's own run is not offered
    ok(box.set_value(older.id).run())
    want = curve_gap(hists[job.run_id], hists[older.id]).text
    assert want.startswith("epochs 1-4: validation accuracy 45.0% vs 43.5% (+1.5 points)") and want in texts(at, "caption")
    (chart,) = [c for c in at.get("plotly_chart") if "Learning curves" in c.proto.spec]
    names = {t["name"] for t in json.loads(chart.proto.spec)["data"]}
    assert {f"{older.id}: val_accuracy", f"{store.get(job.run_id).name}: val_accuracy"} <= names


# -- with trained runs ---------------------------------------------------------------------------
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_runs(runs_home, page):
    at = open_page(page)
    assert at.title[0].value == PAGES[page]
    assert "No trained model yet" not in texts(at, "info")
    if page == "views/home.py":
        board = frame(at, "accuracy (95% CI)")
        assert len(board) == 2 and board["accuracy (95% CI)"].str.contains("%").all()
        for run in RunStore(runs_home).list(status="done", bundled=False):  # each figure from the run's predictions
            saved = np.load(run.path / "predictions.npz")
            acc = float((saved["probs"].argmax(1) == saved["labels"]).mean())
            (shown,) = board[board["run"].str.endswith(run.id[-4:])]["accuracy (95% CI)"]
            assert shown.startswith(f"{100 * acc:.1f}% (")
    if page == "views/train.py":  # the speed estimate now comes from the runs measured here
        assert "2 finished run(s) of five_layer" in texts(at, "info")
    if page in ("views/explain.py", "views/robustness.py"):
        assert at.get("image") and at.get("plotly_chart")
        assert "synthetic" in texts(at, "caption")


def test_compare_two_runs_side_by_side(runs_home):
    at = open_page("views/compare.py")
    assert len(at.multiselect(key="cmp_pick").value) == 2
    assert len(frame(at, "accuracy (95% CI)", "ECE")) == 2 and len(at.metric) == 2
    assert "shared images" in texts(at, "markdown")  # the paired bootstrap verdict
    keys = at.multiselect(key="cmp_pick").value
    ok(at.multiselect(key="cmp_pick").set_value(keys[:1]).run())
    assert len(frame(at, "accuracy (95% CI)", "ECE")) == 1 and len(at.metric) == 1


def test_ensemble_builder_saves_and_evaluates(runs_home_copy):
    at = open_page("views/compare.py")
    first, second = at.multiselect(key="ens_members").value
    ok(at.multiselect(key="ens_members").set_value([second, first]).run())  # the weights follow this order
    at.number_input(key=f"ens_w_{second}").set_value(3.0)
    assert all(line in at.multiselect(key="ens_tta").help for line in TTA_HELP.values() if line != TTA_HELP["none"])
    at.multiselect(key="ens_tta").set_value(["flip"])
    at.text_input(key="ens_name").input("pair")
    ok(at.button(key="ens_save").click().run())
    assert "Saved **pair**" in texts(at, "success")
    saved = json.loads((runs_home_copy / "ensembles" / "pair.json").read_text())
    weight = {m["ref"]: m["weight"] for m in saved["members"]}
    assert weight[second.split(":")[-1]] == pytest.approx(0.75) and weight[first.split(":")[-1]] == pytest.approx(0.25)
    at = open_page("views/compare.py")
    assert any(o.startswith("ensemble pair (2 models)") for o in at.multiselect(key="cmp_pick").options)


def _probs(at: AppTest) -> pd.DataFrame:
    return frame(at, "predicted", "happy")


def test_robustness_slider_changes_probabilities_and_sweep_runs(runs_home):
    at = open_page("views/robustness.py")
    before = _probs(at)
    assert len(before) == 2  # both runs
    ok(at.slider(key="rob_brightness").set_value(-0.8).run())
    ok(at.slider(key="rob_blur").set_value(2.0).run())
    after = _probs(at)
    cols = [c for c in before.columns if c != "predicted"]
    assert not np.allclose(before[cols].to_numpy(float), after[cols].to_numpy(float))
    np.testing.assert_allclose(after[cols].to_numpy(float).sum(axis=1), 1.0, atol=1e-3)
    assert "What-if updated in" in texts(at, "caption") and at.session_state["rob_whatif_ms"] > 0
    ok(at.selectbox(key="rob_occlusion").set_value("patch").run())
    ok(at.slider(key="rob_occ_size").set_value(0.6).run())
    assert not np.allclose(after[cols].to_numpy(float), _probs(at)[cols].to_numpy(float))
    at.multiselect(key="rob_families").set_value(["blur"])
    at.multiselect(key="rob_severities").set_value([1, 5])
    ok(at.button(key="rob_sweep").click().run())
    summary = frame(at, "mCA", "clean")
    assert len(summary) == 2 and summary["clean"].between(0, 1).all()


def test_pages_score_with_the_tta_of_the_reported_accuracy(runs_home_copy):
    """Explain, Robustness, Live and Video use the TTA a model's figure was measured with, as Predict does."""
    import json

    from dashboard import state
    from fer_core.evaluation import predict_probs

    run = RunStore(runs_home_copy).list(status="done")[0]
    metrics = json.loads((run.path / "metrics.json").read_text())
    (run.path / "metrics.json").write_text(json.dumps({**metrics, "tta": "flip"}))
    choice = next(c for c in state.model_choices() if c.run_id == run.id)
    faces = make_synthetic(7, seed=2, size=48).images
    model = state.load_model(choice)
    flip, plain = predict_probs(model, faces, tta="flip"), predict_probs(model, faces)
    assert not np.allclose(flip, plain)  # the test can tell them apart
    np.testing.assert_allclose(state.predict_fn(choice)(faces), flip, rtol=1e-5, atol=1e-6)
    assert state.predictor(choice).tta == "flip" and "**flip** (the face and its mirror)" in state.tta_caption(choice)
    at = open_page("views/robustness.py")
    assert f"{run.name} (five_layer, {run.id[-4:]}) flip" in texts(at, "caption")
    # an ensemble carries its own TTA, and the pages say which
    from fer_core.evaluation import save_ensemble

    runs = RunStore(runs_home_copy).list(status="done")
    save_ensemble(state.ensembles_dir() / "pair.json", [r.id for r in runs], tta=["flip", "shift"], name="pair")
    ens = next(c for c in state.model_choices() if c.kind != "run")
    assert state.tta_name(ens) == "flip+shift" and "**flip+shift**" in state.tta_caption(ens)
    several = state.tta_caption([choice, ens])
    assert f"{state.short_label(choice)} flip, {state.short_label(ens)} flip+shift." in several


def test_predict_upload_shows_result_and_csv(runs_home):
    face = make_synthetic(7, seed=5).images[0]
    noise = np.random.default_rng(0).integers(0, 256, (120, 160), dtype=np.uint8)  # no face in there
    at = open_page("views/predict.py")
    assert "Upload one or more photos" in texts(at, "info")
    files = [("face.png", png(face), "image/png"), ("noise.png", png(noise, scale=1), "image/png"),
             ("n.jpg", b"hello, I am text", "image/jpeg")]
    ok(at.file_uploader(key="pred_files").set_value(files).run())
    # a bad file gets the same one line as on the command line (tests/test_bad_input.py, photo-not-an-image)
    assert texts(at, "error").startswith("n.jpg: not an image, or an unsupported format")
    ok(at.file_uploader(key="pred_files").set_value(files[:2]).run())
    assert "**noise.png** — no face found" in texts(at, "markdown") and "**face.png** — " in texts(at, "markdown")
    assert at.download_button(key="pred_csv").label == "Download all predictions (CSV)"
    table = frame(at, "source", "status")
    assert set(table["source"]) == {"face.png", "noise.png"}
    assert table.loc[table["source"] == "noise.png", "status"].tolist() == ["no face found"]
    # with the whole-image fallback every photo gets a label and probabilities summing to 1
    ok(at.toggle(key="pred_fallback").set_value(True).run())
    table = frame(at, "source", "status")
    assert table.loc[table["source"] == "noise.png", "status"].tolist() == ["whole image"]
    assert table["label"].notna().all()
    np.testing.assert_allclose(table.filter(like="p_").sum(axis=1), 1.0, atol=1e-3)
    assert len(at.get("plotly_chart")) == len(table)  # one probability chart per face
    # the model exported to TFLite (on first use) gives the same labels and, within 1e-5, probabilities
    ok(at.selectbox(key="pred_runtime").set_value("tflite").run())
    exported = frame(at, "source", "status")
    assert exported["label"].tolist() == table["label"].tolist()
    np.testing.assert_allclose(exported.filter(like="p_").to_numpy(float), table.filter(like="p_").to_numpy(float),
                               atol=1e-4)


def test_explain_an_uploaded_face(runs_home):
    at = open_page("views/explain.py")
    ok(at.radio(key="exp_source").set_value("Upload a face").run())
    assert "Upload a photo of a face" in texts(at, "info")
    face = make_synthetic(7, seed=6).images[3]
    ok(at.file_uploader(key="exp_upload").set_value(("me.png", png(face), "image/png")).run())
    assert "uploaded me.png" in texts(at, "caption")
    assert any("gradcam for" in c for im in at.get("image") for c in im.captions)


def test_explain_methods_and_classes(runs_home):
    at = open_page("views/explain.py")
    n_images = len(at.get("image"))
    ok(at.selectbox(key="exp_method").set_value("occlusion").run())
    ok(at.selectbox(key="exp_class").set_value("happy").run())
    assert "occlusion for 'happy'" in " ".join(c for im in at.get("image") for c in im.captions)
    assert len(at.get("image")) == n_images


# -- the real FER2013 folders (skipped without ../shared/data) ---------------------------------------
def test_every_page_on_real_fer2013(empty_home, fer2013_root):
    """Register the shared FER2013 folders, check balance and audit, train a small run, open every page."""
    from fer_core.training.config import config_to_dict, load_config
    from fer_core.training.engine import train

    at = open_page("views/data.py")
    at.text_input(key="data_reg_path").input(str(fer2013_root))
    ok(at.text_input(key="data_reg_name").input("fer2013").run())  # the button is enabled once a path is typed
    ok(at.button(key="data_reg_button").click().run())
    assert "Registered **fer2013**" in texts(at, "success")
    counts = frame(at, "train", "test")
    assert (int(counts["train"].sum()), int(counts["test"].sum())) == (28709, 3589)
    assert int(counts.loc["disgust", "train"]) == 436 and "real images" in texts(at, "caption")
    ok(at.button(key="data_audit_button").click().run())
    metrics = {m.label: str(m.value) for m in at.metric}
    assert metrics["Exact duplicate groups"] == "1273" and metrics["Near-blank images"] == "13"

    store = RunStore(empty_home)
    cfg = load_config({"name": "fer_small", "data": {"path": str(fer2013_root), "subset": 1500},
                       "model": {"name": "five_layer"}, "train": {"epochs": 1, "batch_size": 64}})
    run = store.create(config_to_dict(cfg))
    train(cfg, run.path)
    store.refresh(run.id)
    store.update(run.id, status="done")
    for page in ["views/home.py", *MODEL_PAGES]:
        at = open_page(page)
        assert at.title[0].value == PAGES[page] and "No trained model yet" not in texts(at, "info")
        if page in ("views/explain.py", "views/robustness.py"):
            assert at.get("image") and "fer2013" in texts(at, "caption")
            assert "synthetic" not in texts(at, "caption")
    at = open_page("views/robustness.py")
    ok(at.slider(key="rob_index").set_value(17).run())
    assert "test/" in texts(at, "caption")  # a real file of the test split is shown


def test_train_submits_an_experiments_configuration_as_it_is(empty_home, monkeypatch):
    monkeypatch.setenv("FER_STUDIO_PROGRESS_DELAY", "2")
    at = open_page("views/train.py")
    at.selectbox(key="recipe_file").set_value(ROOT / "experiments" / "synthetic_quick.toml")
    ok(at.run())
    assert any("synthetic" in str(c.value) for c in at.code)  # its header, as written
    assert "Speed of five_layer in float32 unknown here" in texts(at, "caption")  # nothing measured: none invented
    ok(at.button(key="recipe_submit").click().run())
    (job,) = JobManager(empty_home).list()
    assert job.id in texts(at, "success")
    cfg = RunStore(empty_home).get(job.run_id).config()
    want = config_to_dict(load_config(ROOT / "experiments" / "synthetic_quick.toml"))
    assert cfg["name"] == "synthetic_quick" and cfg["train"] == want["train"] and cfg["model"] == want["model"]
    JobManager(empty_home).cancel(job.id)
    stop_jobs(empty_home)
