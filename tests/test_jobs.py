"""Runs on disk (RunStore) and background jobs in real worker processes (JobManager).

The training tests start real ``python -m fer_core.jobs worker`` processes that train the
five-layer CNN on 300 synthetic images; ``FER_STUDIO_PROGRESS_DELAY`` makes each worker pause a
little after every progress event, so the tests can watch, cancel and kill it mid-training on a
fast machine too. Waits poll with short sleeps and generous timeouts; nothing asserts durations.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fer_core.errors import ConfigError, DataError
from fer_core.jobs import DIED_REASON, JobManager
from fer_core.jobs.liveness import _boot_id, _proc_stat
from fer_core.runs import RunStore, UnknownRunError
from tests.waiting import poll

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300.0  # generous: 2 busy cores, TensorFlow start-up in every worker


def _cfg(name: str, epochs: int = 3) -> dict:
    return {"name": name, "data": {"path": "synthetic:n=300"}, "model": {"name": "five_layer"},
            "train": {"epochs": epochs, "batch_size": 32}}


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp" in p.name]


_poll = functools.partial(poll, timeout=TIMEOUT)


# ---------------------------------------------------------------------------------- RunStore
def test_runstore_create_list_get_update(tmp_path):
    store = RunStore(tmp_path)
    a = store.create(_cfg("first"))
    b = store.create(_cfg("second"), name="custom")
    assert (tmp_path / "index.sqlite").is_file()
    assert a.id.split("-")[2] == "five_layer" and len(a.id.split("-")[3]) == 4
    assert (a.model, a.dataset, a.status, a.name, b.name) == ("five_layer", "synthetic:n=300", "created",
                                                              "first", "custom")
    assert a.path == tmp_path.resolve() / "runs" / a.id and a.path.is_dir()
    assert a.config()["train"]["epochs"] == 3
    assert {r.id for r in store.list()} == {a.id, b.id}
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    store.update(a.id, status="done", test_accuracy=0.5, macro_f1=0.25)
    got = store.get(a.id)
    assert (got.status, got.test_accuracy, got.macro_f1) == ("done", 0.5, 0.25)
    assert json.loads((a.path / "run.json").read_text())["status"] == "done"  # folder and index agree
    assert [r.id for r in store.list(status="done")] == [a.id]
    assert [r.id for r in store.list(status="created")] == [b.id]

    with pytest.raises(UnknownRunError, match=a.id):  # a near miss lists the close id
        store.get(a.id[:-1] + ("0" if a.id[-1] != "0" else "1"))
    with pytest.raises(ConfigError, match="unknown field"):
        store.update(a.id, colour="red")
    with pytest.raises(ConfigError, match="status must be one of"):
        store.update(a.id, status="finished")
    with pytest.raises(ConfigError, match="expects the training configuration as a dict"):
        store.create("not a dict")

    (a.path / "metrics.json").write_text(json.dumps({"accuracy": 0.75, "macro_f1": 0.5}))
    assert store.refresh(a.id).test_accuracy == 0.75
    store.delete(b.id)
    assert not b.path.exists() and [r.id for r in store.list()] == [a.id]
    assert not _temp_files(tmp_path)


def test_rebuild_index_from_folders(tmp_path):
    store = RunStore(tmp_path)
    runs = [store.create(_cfg(f"r{i}")) for i in range(3)]
    store.update(runs[0].id, status="done", test_accuracy=0.9)
    before = [(r.id, r.status, r.test_accuracy) for r in store.list()]
    # a folder the engine wrote on its own (no run.json) is picked up too
    lone = tmp_path / "runs" / "20260101-000000-five_layer-beef"
    lone.mkdir()
    (lone / "config.toml").write_text('name = "lone"\n[model]\nname = "five_layer"\n[data]\npath = "synthetic"\n')
    (lone / "metrics.json").write_text(json.dumps({"accuracy": 0.4, "macro_f1": 0.3}))

    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp_path / "index.sqlite") + suffix).unlink(missing_ok=True)
    fresh = RunStore(tmp_path)
    after = {(r.id, r.status, r.test_accuracy) for r in fresh.list()}
    assert set(before) <= after
    got = fresh.get(lone.name)
    assert (got.name, got.model, got.dataset, got.test_accuracy) == ("lone", "five_layer", "synthetic", 0.4)
    assert fresh.rebuild_index() == 4


def test_corrupt_index_is_moved_aside_and_rebuilt(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(_cfg("survivor"))
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_path / "index.sqlite") + suffix).unlink(missing_ok=True)
    (tmp_path / "index.sqlite").write_bytes(b"this is not a database" * 100)
    fresh = RunStore(tmp_path)
    assert [r.id for r in fresh.list()] == [run.id]
    assert list(tmp_path.glob("index.sqlite.corrupt-*"))
    assert "moved aside" in (tmp_path / "index.log").read_text()


def test_failed_write_leaves_old_files_and_no_temp_files(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    run = store.create(_cfg("atomic"))
    before = (run.path / "run.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        store.update(run.id, status="done")
    monkeypatch.undo()
    assert (run.path / "run.json").read_text() == before
    assert store.get(run.id).status == "created"  # the index was not touched either
    assert not _temp_files(tmp_path)


def test_import_model_registers_a_keras_file(tmp_path):
    import keras

    src = tmp_path / "elsewhere"
    src.mkdir()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="tiny_net")
    model.save(src / "tiny.keras")
    (src / "metrics.json").write_text(json.dumps({"accuracy": 0.6, "macro_f1": 0.4}))
    store = RunStore(tmp_path / "home")
    run = store.import_model(src / "tiny.keras")
    assert (run.status, run.model, run.test_accuracy) == ("done", "tiny_net", 0.6)
    assert run.model_path.is_file() and run.metrics()["macro_f1"] == 0.4
    with pytest.raises(DataError, match="no such model file"):
        store.import_model(src / "missing.keras")
    assert not _temp_files(tmp_path)


# ---------------------------------------------------------------------------------- liveness
def _fake_running(jm: JobManager, **fields) -> str:
    run = jm.store.create({"name": "fake", "model": {"name": "none"}, "data": {"path": "none"}})
    job_id = jm._new_job("sleep_steps", run.id, False, {})
    with jm._locked(job_id) as rec:
        rec.update(status="running", **fields)
    (jm.jobs_dir / job_id / "log.txt").write_text("line one\nlast words of the worker\n")
    return job_id


def test_dead_or_reused_pid_marks_job_failed(tmp_path):
    jm = JobManager(tmp_path, max_running=1)
    me = os.getpid()
    my_start = _proc_stat(me)[1]
    alive = _fake_running(jm, pid=me, pid_start=my_start, boot_id=_boot_id())
    reused = _fake_running(jm, pid=me, pid_start=my_start - 1, boot_id=_boot_id())   # host restarted
    rebooted = _fake_running(jm, pid=me, pid_start=my_start, boot_id="another-boot")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    gone = _fake_running(jm, pid=proc.pid, pid_start=None, boot_id=_boot_id())

    assert jm.get(alive).status == "running"
    for job_id in (reused, rebooted, gone):
        job = jm.get(job_id)
        assert (job.status, job.error) == ("failed", DIED_REASON)
        assert "last words of the worker" in job.log_tail
        assert jm.store.get(job.run_id).status == "failed"
    assert {j.id for j in jm.list(status="failed")} == {reused, rebooted, gone}


# ---------------------------------------------------------------------------------- sleep_steps
def test_queue_drains_through_workers_and_cancel_grace_sends_sigterm(tmp_path):
    """Machinery without TensorFlow: the finishing worker starts the queued job; a worker that
    ignores its cancel flag is stopped by SIGTERM once the grace period is over."""
    jm = JobManager(tmp_path, max_running=1, cancel_grace=0.5)
    first = jm.submit({"name": "a"}, kind="sleep_steps", params={"steps": 3, "step_s": 0.05})
    second = jm.submit({"name": "b"}, kind="sleep_steps", params={"steps": 3, "step_s": 0.05})
    assert (first.status, second.status) == ("running", "queued")
    # read the record files only: no JobManager call here may start the queued job
    status = lambda j: json.loads((tmp_path / "jobs" / j.id / "job.json").read_text())["status"]
    _poll(lambda: status(second) == "done", what="the queued job to be run by the first worker")
    assert jm.store.get(second.run_id).test_accuracy == 1.0

    stubborn = jm.submit({"name": "c"}, kind="sleep_steps",
                         params={"steps": 10_000, "step_s": 0.05, "ignore_cancel": True})
    _poll(lambda: jm.progress(stubborn.id).get("epoch"), what="progress of the stubborn job")
    assert jm.cancel(stubborn.id).status == "running"
    job = jm.wait(stubborn.id, timeout=TIMEOUT, poll=0.1)
    assert (job.status, job.error) == ("cancelled", "cancelled (stopped by SIGTERM)")
    assert job.resumable  # it saved steps; a resumed job continues from them
    with pytest.raises(ConfigError, match="Only failed or cancelled"):
        jm.resume(second.id)


def test_failing_job_records_last_traceback_line_and_resumes(tmp_path):
    jm = JobManager(tmp_path, max_running=1)
    job = jm.wait(jm.submit({"name": "f"}, kind="sleep_steps",
                            params={"steps": 4, "step_s": 0.01, "fail_at": 3}).id, timeout=TIMEOUT, poll=0.1)
    assert (job.status, job.error) == ("failed", "RuntimeError: boom at step 3")
    assert "Traceback" in job.log_tail and jm.store.get(job.run_id).status == "failed"
    assert job.resumable and jm.progress(job.id)["epoch"] == 2
    with pytest.raises(ConfigError, match="Unknown job kind 'nope'"):
        jm.submit({"name": "x"}, kind="nope")


# ---------------------------------------------------------------------------------- training
@pytest.fixture()
def trainer(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_STUDIO_PROGRESS_DELAY", "0.15")
    jm = JobManager(tmp_path, max_running=1, cancel_grace=120.0)
    yield jm
    for job in jm.list():  # never leave a worker behind
        if job.status == "running" and job.pid:
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _training_progress(jm: JobManager, job_id: str):
    p = jm.progress(job_id)
    return (p["epoch"], p["batch"]) if p.get("phase") == "training" else None


def test_training_job_queue_kill_and_resume(trainer):
    jm = trainer
    job = jm.submit(_cfg("killed"))
    assert job.status == "running" and job.pid
    queued = jm.submit(_cfg("waiting"))
    assert queued.status == "queued"  # K = 1
    cancelled = jm.cancel(queued.id)
    assert (cancelled.status, jm.store.get(queued.run_id).status) == ("cancelled", "cancelled")
    assert not (queued.path / "log.txt").exists()  # it never started

    seen = []
    def epoch_two_started():
        if jm.get(job.id).status != "running":
            raise AssertionError(f"job ended early: {jm.get(job.id)}\n{jm.log_tail(job.id)}")
        step = _training_progress(jm, job.id)
        if step and (not seen or step != seen[-1]):
            seen.append(step)
        return step is not None and step[0] >= 2
    _poll(epoch_two_started, what="epoch 2 of the training job")
    assert len(seen) >= 2 and seen == sorted(seen), seen  # epoch/batch advanced over the polls
    assert jm.get(job.id).heartbeat_age is not None

    os.kill(job.pid, signal.SIGKILL)
    dead = _poll(lambda: (j := jm.get(job.id)).status != "running" and j, what="the kill to be noticed")
    run = jm.store.get(job.run_id)
    saved = json.loads((run.path / "state.json").read_text())["epoch"]
    assert (dead.status, dead.error) == ("failed", DIED_REASON)
    assert "starting worker" in dead.log_tail and dead.resumable
    assert jm.store.get(job.run_id).status == "failed"
    assert 1 <= saved < 3

    again = jm.resume(job.id)
    assert again.run_id == job.run_id and again.resume and again.status == "running"
    assert not jm.get(job.id).resumable  # superseded by the new job
    done = jm.wait(again.id, timeout=TIMEOUT, poll=0.2)
    assert done.status == "done", jm.log_tail(again.id)
    assert jm.progress(again.id)["first_epoch"] == saved + 1  # continued, not restarted
    run = jm.store.get(job.run_id)
    assert [h["epoch"] for h in run.history()] == [1, 2, 3]
    assert run.status == "done" and run.test_accuracy == pytest.approx(run.metrics()["accuracy"])
    assert run.model_path.is_file() and run.predictions()["probs"].shape[1] == 7
    assert not _temp_files(jm.root)


def test_cancel_running_training_job(trainer):
    jm = trainer
    job = jm.submit(_cfg("cancelled"))
    _poll(lambda: (_training_progress(jm, job.id) or (0,))[0] >= 2 or jm.get(job.id).status != "running",
          what="epoch 2 of the training job")
    asked = jm.cancel(job.id)
    assert asked.status == "running" and asked.cancel_requested and (job.path / "cancel").is_file()
    done = jm.wait(job.id, timeout=TIMEOUT, poll=0.2)
    assert (done.status, done.error) == ("cancelled", None), jm.log_tail(job.id)
    run = jm.store.get(job.run_id)
    assert run.status == "cancelled"
    for name in ("config.toml", "checkpoint.keras", "state.json", "history.json", "model.keras", "metrics.json"):
        assert (run.path / name).is_file(), name
    assert 1 <= len(run.history()) < 3 and done.resumable
    assert run.test_accuracy == pytest.approx(run.metrics()["accuracy"])  # the best model was evaluated
    assert not _temp_files(jm.root)


def test_stop_at_epoch_end_keeps_the_epoch_under_way_and_resumes_after_it(trainer, tmp_path_factory):
    jm = trainer
    job = jm.submit(_cfg("stopped", epochs=4))
    queued = jm.submit(_cfg("waiting"))
    gone = jm.cancel(queued.id, at_epoch_end=True)
    assert gone.status == gone.status_text == "cancelled" and not gone.paused  # nothing under way: cancelled now
    _poll(lambda: (_training_progress(jm, job.id) or (0,))[0] >= 2 or jm.get(job.id).status != "running",
          what="epoch 2 of the training job")
    under_way = jm.progress(job.id)["epoch"]
    asked = jm.cancel(job.id, at_epoch_end=True)
    assert asked.status == "running" and asked.stop_requested and not asked.cancel_requested
    assert (job.path / "stop_after_epoch").is_file() and not (job.path / "cancel").exists()
    done = jm.wait(job.id, timeout=TIMEOUT, poll=0.2)
    assert (done.status, done.error) == ("cancelled", None), jm.log_tail(job.id)
    run = jm.store.get(job.run_id)
    saved = json.loads((run.path / "state.json").read_text())["epoch"]
    assert under_way <= len(run.history()) == saved < 4  # the epoch under way was finished and saved
    assert done.resumable and run.status == "cancelled"
    assert done.paused and done.status_text == "paused" and done.to_dict()["paused"] is True
    # a pause is not the end: the test split is not looked at until the run finishes
    assert run.test_accuracy is None and run.metrics() == {} and not (run.path / "predictions.npz").exists()
    assert "paused after epoch" in jm.progress(job.id)["message"]
    # carried to another machine (`runs pack`, `runs unpack`): no job there, `jobs resume RUN_ID` goes on
    carried = tmp_path_factory.mktemp("carried")
    pack, other_home = jm.store.pack(run.id, carried / "pack"), carried / "other-home"
    RunStore(other_home).unpack(pack)
    there = JobManager(other_home, max_running=1, cancel_grace=120.0)
    resumed = run_cli(["jobs", "resume", run.id, "--json"], other_home)
    again = there.wait(resumed["id"], timeout=TIMEOUT, poll=0.2)
    assert again.status == "done" and there.progress(again.id)["first_epoch"] == saved + 1, there.log_tail(again.id)
    assert [h["epoch"] for h in there.store.get(job.run_id).history()] == [1, 2, 3, 4]
    finished = there.store.get(job.run_id)
    assert finished.test_accuracy == pytest.approx(finished.metrics()["accuracy"])
    with pytest.raises(ConfigError, match="finished"):  # nothing left to resume
        there.resume_run(run.id)
    with pytest.raises(UnknownRunError, match="job or run"):
        run_cli(["jobs", "resume", run.id + "x"], other_home)
    other = jm.submit({"name": "s"}, kind="sleep_steps", params={"steps": 400, "step_s": 0.05})
    _poll(lambda: jm.get(other.id).status == "running", what="the sleep job to start")
    with pytest.raises(ConfigError, match="only local training jobs stop at an epoch's end"):
        jm.cancel(other.id, at_epoch_end=True)
    stopped = jm.cancel(other.id, wait=30)
    assert stopped.status == "cancelled" and not stopped.paused


# ---------------------------------------------------------------------------------- CLI
def run_cli(argv: list[str], home: Path) -> dict:
    """``python -m fer_core ARGV`` in-process with ``$FER_STUDIO_HOME=home``: its --json output."""
    import contextlib
    import io

    from fer_core.cli import build_parser

    args = build_parser().parse_args(argv)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("FER_STUDIO_HOME", str(home))
        assert args.handler(args) == 0
    return json.loads(out.getvalue())


def test_cli_lists_runs_and_jobs_as_json(tmp_path, monkeypatch, capsys):
    from fer_core.cli import runs as runs_cli, train as train_cli

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path))
    jm = JobManager(tmp_path, max_running=1)
    job = jm.submit({"name": "cli"}, kind="sleep_steps", params={"steps": 2, "step_s": 0.01})
    jm.wait(job.id, timeout=TIMEOUT, poll=0.1)

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    runs_cli.register(sub)
    train_cli.register(sub)
    for argv in (["runs", "--json"], ["jobs", "--json"], ["jobs", "show", job.id, "--json"]):
        args = parser.parse_args(argv)
        assert args.handler(args) == 0
        out = json.loads(capsys.readouterr().out)
        if argv[0] == "runs":
            assert [r["id"] for r in out] == [job.run_id] and out[0]["status"] == "done"
        elif argv[1] == "show":
            assert out["status"] == "done" and "log_tail" in out
        else:
            assert [j["id"] for j in out] == [job.id]
    args = parser.parse_args(["runs"])
    assert args.handler(args) == 0 and job.run_id in capsys.readouterr().out
    args = parser.parse_args(["jobs", "cancel", job.id])
    assert args.handler(args) == 0 and "done" in capsys.readouterr().out
    proc = subprocess.run([sys.executable, "-m", "fer_core", "runs", "show", "nope-1234"],
                          cwd=ROOT, env={**os.environ, "FER_STUDIO_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "No run with id 'nope-1234'" in proc.stderr


def test_queued_jobs_are_capped(tmp_path, monkeypatch):
    from fer_core.jobs import QueueFullError

    jm = JobManager(tmp_path, max_running=1, max_queued=2, cancel_grace=0.5)
    jobs = [jm.submit({"name": f"j{i}"}, kind="sleep_steps", params={"steps": 400, "step_s": 0.05})
            for i in range(3)]
    assert [j.status for j in jobs] == ["running", "queued", "queued"]
    with pytest.raises(QueueFullError, match="2 jobs are already waiting.*limit is 2.*FER_STUDIO_MAX_QUEUED"):
        jm.submit({"name": "one too many"}, kind="sleep_steps", params={"steps": 1})
    assert len(jm.list()) == 3  # the refused job left no record and no run
    assert len(jm.store.list()) == 3
    jm.cancel(jobs[2].id)
    assert jm.submit({"name": "room again"}, kind="sleep_steps", params={"steps": 1}).status == "queued"
    for j in jm.list():
        jm.cancel(j.id, wait=30)
    monkeypatch.setenv("FER_STUDIO_MAX_QUEUED", "none")
    with pytest.raises(ConfigError, match="FER_STUDIO_MAX_QUEUED must be a whole number"):
        JobManager(tmp_path)


def test_a_training_job_whose_data_is_not_here_is_refused_at_submit(tmp_path):
    jm = JobManager(tmp_path)
    gone = tmp_path / "no_fer2013_here"
    with pytest.raises(DataError, match=f"data.path '{gone}' is not on this machine.*shared/data/README.md"):
        jm.submit({**_cfg("elsewhere"), "data": {"path": str(gone)}})
    assert jm.list() == [] and jm.store.list() == []  # no job, no run left behind
    gone.mkdir()  # the same configuration once the folder is there passes this check
    from fer_core.training.config import load_config
    assert load_config({**_cfg("elsewhere"), "data": {"path": str(gone)}}).data_missing() is None
    assert load_config(_cfg("synthetic")).data_missing() is None


def test_index_reconciles_with_records_after_a_crash_between_the_two_writes(tmp_path):
    """job.json / run.json are written first, then the SQLite row: a crash in between must not leave a
    job or run shown as running forever."""
    from fer_core.io import atomic_write_json

    jm = JobManager(tmp_path, max_running=1)
    job_id = _fake_running(jm, pid=os.getpid(), pid_start=_proc_stat(os.getpid())[1], boot_id=_boot_id())
    run_id = jm.get(job_id).run_id
    jm.store.update(run_id, status="running")
    # the worker finished: its records say so, but it died before updating the index
    rec = json.loads((jm.jobs_dir / job_id / "job.json").read_text())
    atomic_write_json(jm.jobs_dir / job_id / "job.json", {**rec, "status": "done", "updated": "later"})
    run_rec = json.loads((jm.store.runs_dir / run_id / "run.json").read_text())
    atomic_write_json(jm.store.runs_dir / run_id / "run.json", {**run_rec, "status": "done", "updated": "later"})
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        assert con.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0] == "running"
    assert jm.get(job_id).status == "done"  # the pid is alive (this process): only reconciling fixes it
    assert [j.status for j in jm.list()] == ["done"]
    assert jm.store.get(run_id).status == "done" and [r.status for r in jm.store.list(bundled=False)] == ["done"]
    # a job whose folder vanished is failed, not running forever
    other = _fake_running(jm, pid=os.getpid(), pid_start=_proc_stat(os.getpid())[1], boot_id=_boot_id())
    import shutil

    shutil.rmtree(jm.jobs_dir / other)
    jm.schedule()
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        status, error = con.execute("SELECT status, error FROM jobs WHERE id=?", (other,)).fetchone()
    assert status == "failed" and "is gone" in error


def test_a_resumed_worker_removes_temporary_files_of_a_killed_one(tmp_path):
    from fer_core.io import remove_stale_temps

    (tmp_path / ".history.json.abc123.tmp").write_text("half")
    (tmp_path / ".checkpoint.keras.x1.tmp.keras").write_bytes(b"PK")
    (tmp_path / "history.json").write_text("[]")
    (tmp_path / ".lock").write_text("")
    assert sorted(remove_stale_temps(tmp_path)) == [".checkpoint.keras.x1.tmp.keras", ".history.json.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "history.json"]


def test_jobs_list_progress_line_shows_what_loading_is_doing():
    from fer_core.jobs.progress import job_progress_text

    loading = {"phase": "loading", "epoch": 0, "epochs": 120, "message": "teacher t: 10 of 30 training images"}
    assert job_progress_text(loading, "running", detail=True) == "loading · teacher t: 10 of 30 training images"
    training = {"phase": "training", "epoch": 3, "epochs": 10, "batch": 7, "batches": 9, "loss": 1.5,
                "accuracy": 0.5, "eta_s": 12.0, "images_per_s": 400.0, "event": "epoch_end", "message": "epoch 3/10 done"}
    assert job_progress_text(training, "running", detail=True) == \
        "epoch 3/10 · batch 7/9 · loss 1.5000 · acc 0.5000 · 400 img/s · ETA 12 s"
    assert job_progress_text(training, "running") == "epoch 3/10 · batch 7/9 · 400 img/s · ETA 12 s"
    evaluating = {**training, "phase": "evaluating"}
    assert job_progress_text(evaluating, "running") == "evaluating · epoch 3/10 · 400 img/s · ETA 12 s"
    assert job_progress_text({}, "done") == "-" and job_progress_text({}, "running") == "starting"
