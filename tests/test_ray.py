"""Jobs and sweeps on Ray (fer_core.remote, fer_core.sweeps).

The first half is pure logic (addresses, resource checks, error wording, file shipping, grids,
sweep tables and figures) and starts no Ray. The second half (marked ``slow``) starts a real
local Ray head with ``ray start --head --block`` (a short temporary folder, 2 CPUs, no
dashboard, its own ports and process group), submits jobs and a sweep to it through its address,
and stops it by ending that process group. ``FER_STUDIO_PROGRESS_DELAY`` slows the remote
trainers down so a job can be cancelled or its worker killed mid-training.
"""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from fer_core.errors import ClusterError, ConfigError
from fer_core.remote.connect import (ADDRESS_ENV, check_fits, check_reachable, cluster_error, parse_address,
                                     resolve_address)
from fer_core.remote.files import SHIPPED, FolderWatch, pack, write_back
from fer_core.runs import RunStore
from tests.waiting import free_port, poll
from fer_core.sweeps import (best_trial, create_sweep, expand, list_sweeps, parse_grid, read_sweep, setting_columns,
                             sweep_table, trial_configs)

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 420.0  # generous: 2 busy cores, TensorFlow start-up in the local worker and in every Ray worker


def _cfg(name: str, epochs: int = 2, n: int = 300, **train) -> dict:
    return {"name": name, "data": {"path": f"synthetic:n={n}"}, "model": {"name": "five_layer"},
            "train": {"epochs": epochs, "batch_size": 32, **train}}


_poll = functools.partial(poll, timeout=TIMEOUT, every=0.2)


# ---------------------------------------------------------------------------------- addresses
def test_addresses_are_parsed_and_resolved(monkeypatch):
    assert parse_address("127.0.0.1:6380") == ("127.0.0.1", 6380, False)
    assert parse_address("head") == ("head", 6379, False)
    assert parse_address("ray://head.lan") == ("head.lan", 10001, True)
    assert parse_address("[::1]:7000") == ("::1", 7000, False)
    for bad in ("auto", "http://x:1", "host:port", "a b:1", "h:70000", ""):
        with pytest.raises(ConfigError, match="host:port|outside"):
            parse_address(bad)
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    assert resolve_address(None) is None and resolve_address("") is None
    monkeypatch.setenv(ADDRESS_ENV, "10.1.2.3:6379")
    assert resolve_address(None) == "10.1.2.3:6379"  # $RAY_ADDRESS is the default
    assert resolve_address("127.0.0.1:1") == "127.0.0.1:1"  # an explicit one wins
    assert resolve_address(None, local=True) is None  # --local ignores it


def test_unreachable_address_fails_fast_with_what_to_do(monkeypatch):
    import socket

    from fer_core.remote.connect import PROBE_TIMEOUT

    port = free_port()  # nothing listens there once the probe socket is closed
    with pytest.raises(ClusterError) as err:
        check_reachable(f"127.0.0.1:{port}")
    msg = str(err.value)
    asked = {}

    def silent(address, timeout=None):  # a host that never answers: the probe gives up after its timeout
        asked["timeout"] = timeout
        raise socket.timeout("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(ClusterError, match=r"\(timed out\)"):
        check_reachable("10.255.255.1:6379")
    assert asked["timeout"] == PROBE_TIMEOUT and PROBE_TIMEOUT <= 10
    assert f"Cannot reach a Ray cluster at 127.0.0.1:{port}" in msg and "ray start --head" in msg
    assert "\n" not in msg


def test_a_slow_local_ray_start_is_tried_again_then_reported(monkeypatch):
    """Ray gives its raylet a fixed 30 s to register: on a busy machine the local Ray of a sweep is
    started again (each attempt's folder removed); any other failure is one clear error at once."""
    import ray

    import fer_core.remote.connect as connect_mod

    folders, errors = [], []

    def init(**kw):
        folders.append(Path(kw["_temp_dir"]))
        if errors:
            raise errors.pop(0)

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    slow = Exception("The current node timed out during startup. This could happen because ...")
    errors[:] = [slow, slow]
    temp = connect_mod.start_local(1)
    assert Path(temp) == folders[-1] and len(folders) == 3 and Path(temp).is_dir()
    assert not any(f.exists() for f in folders[:-1])
    Path(temp).rmdir()
    folders.clear()
    errors[:] = [slow] * connect_mod.LOCAL_START_ATTEMPTS
    with pytest.raises(ClusterError, match=r"^A local Ray could not start \(The current node timed out.*attempt 3 of 3"):
        connect_mod.start_local(1)
    folders.clear()
    errors[:] = [RuntimeError("no space left on device")]
    with pytest.raises(ClusterError, match="no space left on device, attempt 1 of 3"):
        connect_mod.start_local(1)
    assert len(folders) == 1 and not folders[0].exists()


def test_the_token_is_sent_when_there_is_one_and_no_mode_was_chosen(tmp_path, monkeypatch):
    import fer_core.remote.connect as connect_mod

    calls = []
    monkeypatch.setattr(connect_mod, "_token_mode", lambda: calls.append(1))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "auth_token"))
    connect_mod.use_token_if_available()
    assert calls == []  # no token: nothing changes
    (tmp_path / "auth_token").write_text("t" * 32)
    connect_mod.use_token_if_available()
    assert calls == [1]
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's choice wins
    connect_mod.use_token_if_available()
    assert calls == [1]


def test_requests_no_node_can_meet_are_refused():
    res = lambda cpus=1.0, gpus=0.0, memory_gb=None: SimpleNamespace(cpus=cpus, gpus=gpus, memory_gb=memory_gb)
    cpu_node = {"Alive": True, "Resources": {"CPU": 2.0, "memory": 8 * 2 ** 30}}
    dead_gpu = {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 1.0}}
    check_fits(res(2), [cpu_node], "h:1")
    with pytest.raises(ClusterError, match=r"asks for 1 GPU.*no node .* has a GPU.*resources.gpus = 0.*--num-gpus"):
        check_fits(res(gpus=1), [cpu_node, dead_gpu], "h:1")
    with pytest.raises(ClusterError, match=r"No node .*\(4 CPU / 0 GPU on one node.*2 CPU / 0 GPU / 8.0 GiB"):
        check_fits(res(4), [cpu_node], "h:1")
    with pytest.raises(ClusterError, match="16 GiB"):
        check_fits(res(1, memory_gb=16), [cpu_node], "h:1")
    check_fits(res(1, 0.5), [cpu_node, {"Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}}], "h:1")


def test_version_mismatch_is_rephrased():
    text = ("Version mismatch: The cluster was started with:\n    Ray: 2.59.0\n    Python: 3.11.7\n"
            "This process on node 10.0.0.1 was started with:\n    Ray: 2.60.0\n    Python: 3.11.7\n")
    msg = str(cluster_error(RuntimeError(text), "h:6379"))
    assert msg.startswith("Version mismatch: the Ray cluster at h:6379 runs Ray 2.59.0 on Python 3.11.7, this studio "
                          "has Ray 2.60.0 on Python 3.11.7") and "ray==2.60.0" in msg and "\n" not in msg
    other = str(cluster_error(ConnectionError("boom\nmore"), "h:1"))
    assert "Could not connect to the Ray cluster at h:1: ConnectionError: boom" in other and "\n" not in other


def test_resources_section_is_validated_and_may_change_on_resume():
    from fer_core.training.config import apply_overrides, load_config
    from fer_core.training.engine import _config_diff

    cfg = load_config(_cfg("r"))
    assert (cfg.resources.cpus, cfg.resources.gpus, cfg.resources.memory_gb) == (1.0, 0.0, None)
    cfg2 = apply_overrides(cfg, ["resources.gpus=1", "resources.cpus=4", "resources.memory_gb=2.5"])
    assert (cfg2.resources.cpus, cfg2.resources.gpus, cfg2.resources.memory_gb) == (4.0, 1.0, 2.5)
    assert _config_diff(cfg, cfg2) == []  # another cluster may resume a run
    for bad, pattern in ((["resources.cpus=0"], r"resources.cpus must be a number in \(0.0"),
                         (["resources.gpus=-1"], "resources.gpus must be a number in"),
                         (["resources.memory_gb=lots"], "resources.memory_gb must be"),
                         (["resources.cores=2"], "unknown key resources.'cores'")):
        with pytest.raises(ConfigError, match=pattern):
            apply_overrides(cfg, bad)


# ---------------------------------------------------------------------------------- files
def test_changed_files_travel_and_are_written_back_in_order(tmp_path, monkeypatch):
    node, local = tmp_path / "node", tmp_path / "local"
    node.mkdir()
    watch = FolderWatch(node)
    (node / "state.json").write_text('{"epoch": 1}')
    (node / "checkpoint.keras").write_bytes(b"ckpt1")
    (node / "scratch.bin").write_bytes(b"not shipped")
    first = watch.changed()
    assert first == {"checkpoint.keras": b"ckpt1", "state.json": b'{"epoch": 1}'}
    assert watch.changed() == {}  # nothing changed since
    (node / "state.json").write_text('{"epoch": 2}')
    assert watch.changed() == {"state.json": b'{"epoch": 2}'}

    order = []
    import fer_core.remote.files as files_mod

    real = files_mod.atomic_write_bytes
    monkeypatch.setattr(files_mod, "atomic_write_bytes", lambda p, d: (order.append(Path(p).name), real(p, d)))
    payload = {"metrics.json": b"{}", "state.json": b"{}", "checkpoint.keras": b"c", "model.keras": b"m"}
    assert write_back(local, payload) == ["model.keras", "checkpoint.keras", "state.json", "metrics.json"]
    assert order == ["model.keras", "checkpoint.keras", "state.json", "metrics.json"]  # state after its checkpoint
    assert pack(local) == {"model.keras": b"m", "checkpoint.keras": b"c", "state.json": b"{}"}
    with pytest.raises(ClusterError, match="unexpected files"):
        write_back(local, {"../../etc/passwd": b"x"})
    assert SHIPPED[-1] == "metrics.json" and not list(local.glob(".*tmp*"))


def test_scratch_folders_of_dead_trainers_are_removed(tmp_path, monkeypatch):
    from fer_core.remote.files import scratch_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead, mine = tmp_path / f"fer_x_{proc.pid}_abc", tmp_path / f"fer_x_{os.getpid()}_def"
    for d in (dead, mine):
        d.mkdir()
        (d / "checkpoint.keras").write_bytes(b"x")
    new = scratch_folder("fer_x_")
    assert new.is_dir() and new.name.startswith(f"fer_x_{os.getpid()}_")
    assert not dead.exists() and mine.exists()


# ---------------------------------------------------------------------------------- sweeps
def test_grid_parsing_and_expansion():
    grid = parse_grid(["train.lr=0.1,0.01", "model.name=five_layer,fer_net", "augment.flip=true"])
    assert grid == {"train.lr": [0.1, 0.01], "model.name": ["five_layer", "fer_net"], "augment.flip": [True]}
    combos = expand(grid)
    assert len(combos) == 4 and combos[0] == {"train.lr": 0.1, "model.name": "five_layer", "augment.flip": True}
    assert [c["train.seed"] for c in expand({"train.lr": [0.1]}, samples=3, seed=5)] == [5, 6, 7]
    for bad, pattern in ((["train.lr"], "key=value1,value2"), (["train.lr="], "key=value1,value2"),
                         (["train.lr=1", "train.lr=2"], "twice"), ([], "needs a grid")):
        with pytest.raises(ConfigError, match=pattern):
            parse_grid(bad)
    with pytest.raises(ConfigError, match="--samples must be"):
        expand(grid, samples=0)
    with pytest.raises(ConfigError, match="more than the limit"):
        expand({"train.seed": list(range(65))})
    with pytest.raises(ConfigError, match=r"sweep setting \{'train.lr': -1\}: train.lr must be"):
        trial_configs(_cfg("g"), {"train.lr": [0.1, -1]})
    with pytest.raises(ConfigError, match="did you mean"):
        trial_configs(_cfg("g"), {"train.lrr": [0.1]})
    (_, first), (_, second) = trial_configs(_cfg("base"), {"train.lr": [0.1, 0.01]})
    assert (first.name, first.train.lr, second.train.lr) == ("base lr=0.1", 0.1, 0.01)


def _fake_sweep(root: Path) -> tuple[dict, RunStore]:
    """A finished 3-trial sweep written by hand: one done, one stopped by ASHA, one failed."""
    store = RunStore(root)
    rec = create_sweep(_cfg("fake", epochs=3), ["train.lr=0.1,0.01", "model.name=five_layer"], samples=1,
                       scheduler="asha", root=root)
    outcomes = [("done", None, [0.3, 0.5, 0.6]), ("cancelled", "asha", [0.2]), ("failed", None, [])]
    from fer_core.sweeps import update_sweep

    extra = {"index": 2, "settings": {"train.lr": 0.001, "model.name": "fer_net"}, "name": "x", "epochs": 3,
             "run_id": None, "status": "created", "epochs_done": 0, "best_val_accuracy": None, "stopped": None,
             "error": None}

    def change(r):
        r["trials"].append(extra)
        for t, (status, stopped, vals) in zip(r["trials"], outcomes):
            run = store.create(_cfg(t["name"]), sweep=r["id"])
            (run.path / "history.json").write_text(json.dumps([{"epoch": i + 1, "val_accuracy": v}
                                                               for i, v in enumerate(vals)]))
            store.update(run.id, status=status, test_accuracy=0.55 if status == "done" else None)
            t.update(run_id=run.id, status=status, stopped=stopped)
    rec = update_sweep(rec["id"], change, root)
    return rec, store


def test_sweep_records_table_and_best_trial(tmp_path):
    rec, store = _fake_sweep(tmp_path)
    assert [s["id"] for s in list_sweeps(tmp_path)] == [rec["id"]] and read_sweep(rec["id"], tmp_path)["name"] == "fake"
    with pytest.raises(Exception, match="No sweep with id"):
        read_sweep("nope", tmp_path)
    tab = sweep_table(rec, store)
    assert list(tab.columns) == ["trial", "train.lr", "model.name", "outcome", "epochs", "best val_accuracy",
                                 "test accuracy", "run"]
    assert tab["outcome"].tolist() == ["done", "stopped early (ASHA)", "failed"]
    assert tab["epochs"].tolist() == ["3/3", "1/3", "0/3"]
    assert tab["best val_accuracy"].tolist()[:2] == [0.6, 0.2]
    best = best_trial(tab)
    assert (best["trial"], best["run"], best["test accuracy"]) == (0, rec["trials"][0]["run_id"], 0.55)
    # the runs carry the sweep tag in run.json and in the index
    assert {r.id for r in store.list(sweep=rec["id"])} == {t["run_id"] for t in rec["trials"]}
    assert json.loads((store.get(rec["trials"][0]["run_id"]).path / "run.json").read_text())["sweep"] == rec["id"]
    assert setting_columns({"grid": {"train.lr": [1]}, "samples": 2}) == ["train.lr", "train.seed"]


def test_a_sweep_whose_job_ended_without_it_is_closed(tmp_path):
    from fer_core.jobs import JobManager
    from fer_core.jobs.liveness import _boot_id, _proc_stat
    from fer_core.sweeps import submit_sweep

    jm = JobManager(tmp_path, max_running=1)
    busy = jm._new_job("sleep_steps", None, False, {})  # the one slot, taken by this (live) process
    with jm._locked(busy) as rec:
        rec.update(status="running", pid=os.getpid(), pid_start=_proc_stat(os.getpid())[1], boot_id=_boot_id())
    rec, job = submit_sweep(_cfg("later"), ["train.lr=0.1,0.01"], jm=jm)
    assert job.status == "queued" and job.run_id is None and rec["job_id"] == job.id
    jm.cancel(job.id)  # cancelled while queued: its worker never ran
    [closed] = list_sweeps(tmp_path)
    assert closed["status"] == "cancelled" and {t["status"] for t in closed["trials"]} == {"cancelled"}
    with jm._locked(busy) as rec:
        rec.update(status="done")


def test_sweep_figure_has_one_axis_per_setting(tmp_path):
    from dashboard.charts import sweep_parallel

    rec, store = _fake_sweep(tmp_path)
    tab = sweep_table(rec, store)
    fig = sweep_parallel(tab, setting_columns(rec))
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["train.lr", "model.name", "best val_accuracy"]
    assert list(dims[1].ticktext) == ["five_layer"] and len(dims[0].values) == 2  # the failed fer_net trial is out
    assert "2 of 3 trials" in fig.layout.title.text


def test_old_index_without_the_sweep_column_is_rebuilt(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(_cfg("tagged"), sweep="20260101-000000-sweep-abcd")
    with sqlite3.connect(tmp_path / "index.sqlite") as con:  # make it look like a version 1 index
        con.execute("PRAGMA user_version=1")
    fresh = RunStore(tmp_path)
    assert fresh.get(run.id).sweep == "20260101-000000-sweep-abcd"
    assert [r.id for r in fresh.list(sweep="20260101-000000-sweep-abcd")] == [run.id]
    with sqlite3.connect(tmp_path / "index.sqlite") as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2


def test_sweep_jobs_have_no_run_and_cannot_be_resumed(tmp_path):
    from fer_core.jobs import JobManager

    jm = JobManager(tmp_path, max_running=1)
    job_id = jm._new_job("sweep", None, False, {"sweep_id": "s1"})
    with jm._locked(job_id) as rec:
        rec.update(status="failed", error="x")
    job = jm.get(job_id)
    assert (job.run_id, job.sweep_id, job.resumable) == (None, "s1", False)
    with pytest.raises(ConfigError, match="sweep job, which cannot be resumed"):
        jm.resume(job_id)


def test_nothing_imports_ray_without_an_address():
    code = ("import sys; from fer_core.cli import build_parser; build_parser(); import fer_core.remote, fer_core.sweeps;"
            "from fer_core.jobs import JobManager; from fer_core.remote import resolve_address;"
            "assert resolve_address(None) is None; assert 'ray' not in sys.modules, 'ray imported'; print('ok')")
    env = {k: v for k, v in os.environ.items() if k != ADDRESS_ENV}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_cli_bad_sweep_and_address_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    from fer_core.cli import main

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "c"\n[data]\npath = "synthetic:n=300"\n[train]\nepochs = 1\n')
    away = tmp_path / "away.toml"
    away.write_text(cfg.read_text().replace("synthetic:n=300", "gone"))
    for argv, pattern in ((["sweep", str(cfg), "--grid", "train.lr"], "key=value1,value2"),
                          (["sweep", str(cfg), "--grid", "train.lr=0.1,-2"], r"sweep setting .*train.lr must be"),
                          (["sweep", str(cfg), "--grid", "train.lr=0.1", "--ray", "auto"], "not host:port"),
                          (["jobs", "submit", str(cfg), "--ray", "h:99999"], "outside 1..65535"),
                          (["sweeps", "show", "nope"], "No sweep with id"),
                          (["sweep", str(cfg), "--grid", f"data.path=synthetic:n=300,{tmp_path / 'gone'}"],
                           "data.path .*gone' is not on this machine"),
                          (["jobs", "submit", str(away)], "data.path .*gone' is not on this machine")):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), err
        assert re.search(pattern, err[0]), err[0]
    assert not list((tmp_path / "home").glob("jobs/*")) and not list((tmp_path / "home").glob("sweeps/*"))


# ---------------------------------------------------------------------------------- a real Ray head
@pytest.fixture(scope="module")
def ray_head():
    """``ray start --head --block`` on free ports, 2 CPUs, no dashboard, a short temporary folder;
    yields its address and stops it (SIGTERM: Ray drains and ends its processes) at the end."""
    import ray  # noqa: F401  (pinned in requirements.txt: a broken install fails, it does not skip)
    port, client = free_port(), free_port()
    temp = tempfile.mkdtemp(prefix="frt", dir="/tmp")  # short: Ray's unix socket paths have a length limit
    log_path = Path(temp) / "head.log"
    env = {k: v for k, v in os.environ.items() if k != ADDRESS_ENV}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}", "--num-cpus=2",
           "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={temp}", f"--ray-client-server-port={client}",
           "--disable-usage-stats", "--block"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    try:
        _poll(lambda: proc.poll() is not None or "Ray runtime started" in log_path.read_text(errors="replace"),
              timeout=180, every=0.5, what="the Ray head to start")
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        import shutil

        if not os.environ.get("FER_STUDIO_KEEP_RAY_TEMP"):  # keep the head's logs to look into a failure
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture()
def ray_home(tmp_path, monkeypatch):
    """A fresh studio home for these jobs; two jobs may run at once (the head has 2 CPUs)."""
    from fer_core.jobs import JobManager

    home = tmp_path / "home"
    monkeypatch.setenv("FER_STUDIO_HOME", str(home))
    monkeypatch.setenv("FER_STUDIO_MAX_JOBS", "2")
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    jm = JobManager(home, max_running=2, cancel_grace=120.0)
    yield jm
    for job in jm.list():  # never leave a local worker behind
        if job.status == "running" and job.pid:
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _assert_complete_run(store: RunStore, run_id: str, epochs: int) -> None:
    from fer_core.choices import finished_runs

    run = store.get(run_id)
    assert run.status == "done"
    for name in ("config.toml", "checkpoint.keras", "state.json", "history.json", "model.keras", "metrics.json",
                 "predictions.npz", "run.json"):
        assert (run.path / name).is_file(), name
    assert [h["epoch"] for h in run.history()] == list(range(1, epochs + 1))
    assert run.test_accuracy == pytest.approx(run.metrics()["accuracy"])
    assert run.predictions()["probs"].shape[1] == 7
    assert run_id in {r.id for r in finished_runs(store)}  # opens on Compare like a local run
    assert not [p for p in run.path.iterdir() if ".tmp" in p.name]


@pytest.mark.slow
def test_jobs_from_the_train_page_and_the_cli_run_on_ray_and_land_here(ray_head, ray_home, tmp_path, capsys):
    from streamlit.testing.v1 import AppTest

    from fer_core.cli import main

    jm = ray_home
    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=240).run()
    at.switch_page("views/train.py").run()
    at.number_input(key="train_syn_n").set_value(300)
    at.number_input(key="train_epochs").set_value(2)
    at.text_input(key="train_name").input("from_the_page")
    at.radio(key="train_where").set_value("Ray cluster").run()
    at.text_input(key="train_ray_address").input(ray_head)
    at.number_input(key="train_cpus").set_value(1.0)
    at.button(key="train_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [page_job] = jm.list()
    assert page_job.ray_address == ray_head and page_job.id in "\n".join(str(s.value) for s in at.success)
    assert jm.store.get(page_job.run_id).config()["resources"]["cpus"] == 1.0

    cfg = tmp_path / "cli.toml"
    cfg.write_text('name = "from_the_cli"\n[data]\npath = "synthetic:n=300"\n[train]\nepochs = 2\nbatch_size = 32\n')
    capsys.readouterr()
    assert main(["jobs", "submit", str(cfg), "--ray", ray_head, "--wait"]) == 0
    out = capsys.readouterr().out
    assert f"on the Ray cluster at {ray_head}" in out and re.search(r"epoch [12]/2 · batch", out), out
    cli_job = next(j for j in jm.list() if j.id != page_job.id)
    assert (cli_job.status, cli_job.ray_address) == ("done", ray_head), jm.log_tail(cli_job.id)
    prog = jm.progress(cli_job.id)
    assert prog["phase"] == "done" and prog["node"]["pid"] != cli_job.pid and prog["ray_address"] == ray_head
    _assert_complete_run(jm.store, cli_job.run_id, 2)

    done = jm.wait(page_job.id, timeout=TIMEOUT, poll=0.5)
    assert done.status == "done", jm.log_tail(page_job.id)
    _assert_complete_run(jm.store, page_job.run_id, 2)
    assert "on the Ray cluster at" in jm.log_tail(page_job.id, 200)
    capsys.readouterr()
    assert main(["jobs", "--json"]) == 0
    assert {j["ray_address"] for j in json.loads(capsys.readouterr().out)} == {ray_head}


@pytest.mark.slow
def test_cancel_and_a_killed_ray_worker(ray_head, ray_home, monkeypatch):
    """One job is cancelled mid-training; the Ray worker of another is killed: failed with the reason,
    then resumed from the last epoch that came back."""
    from fer_core.jobs import JobManager

    monkeypatch.setenv("FER_STUDIO_PROGRESS_DELAY", "1.0")  # about 4 s per epoch on the node
    jm = ray_home
    cancelled = jm.submit(_cfg("cancelled", epochs=3), params={"ray_address": ray_head})
    killed = jm.submit(_cfg("killed", epochs=3), params={"ray_address": ray_head})
    assert (cancelled.status, killed.status) == ("running", "running")

    def epoch_saved(job) -> int:
        state = jm.store.runs_dir / job.run_id / "state.json"
        return json.loads(state.read_text())["epoch"] if state.is_file() else 0

    _poll(lambda: epoch_saved(cancelled) >= 1 or jm.get(cancelled.id).status != "running", what="epoch 1 to come back")
    jm.cancel(cancelled.id)
    _poll(lambda: epoch_saved(killed) >= 1 or jm.get(killed.id).status != "running", what="epoch 1 to come back")
    node_pid = jm.progress(killed.id)["node"]["pid"]
    os.kill(node_pid, signal.SIGKILL)  # the Ray worker process, not the local supervisor

    done = jm.wait(cancelled.id, timeout=TIMEOUT, poll=0.5)
    assert (done.status, done.error) == ("cancelled", None), jm.log_tail(cancelled.id, 60)
    run = jm.store.get(cancelled.run_id)
    assert run.status == "cancelled" and 1 <= len(run.history()) < 3 and done.resumable
    assert (run.path / "metrics.json").is_file()  # the best model so far was evaluated on the node

    dead = jm.wait(killed.id, timeout=TIMEOUT, poll=0.5)
    assert dead.status == "failed", jm.log_tail(killed.id, 60)
    assert dead.error.startswith(f"The Ray worker training this job on {ray_head} was lost"), dead.error
    assert "\n" not in dead.error and dead.resumable
    saved = epoch_saved(killed)
    assert 1 <= saved < 3
    again = JobManager(jm.root, max_running=2).resume(killed.id)
    assert again.ray_address == ray_head and again.resume
    finished = jm.wait(again.id, timeout=TIMEOUT, poll=0.5)
    assert finished.status == "done", jm.log_tail(again.id, 60)
    assert jm.progress(again.id)["first_epoch"] == saved + 1  # continued on the cluster, not restarted
    _assert_complete_run(jm.store, killed.run_id, 3)


@pytest.mark.slow
def test_bad_cluster_input_fails_the_job_with_one_clear_message(ray_head, ray_home):
    jm = ray_home
    closed = free_port()
    unreachable = jm.submit(_cfg("nowhere"), params={"ray_address": f"127.0.0.1:{closed}"})
    gpu = jm.submit({**_cfg("needs_a_gpu"), "resources": {"gpus": 1}}, params={"ray_address": ray_head})
    job = jm.wait(unreachable.id, timeout=TIMEOUT, poll=0.5)
    assert job.status == "failed" and job.error.startswith(f"Cannot reach a Ray cluster at 127.0.0.1:{closed}")
    job = jm.wait(gpu.id, timeout=TIMEOUT, poll=0.5)
    assert job.status == "failed", jm.log_tail(gpu.id)
    assert job.error.startswith("The job asks for 1 GPU(s) (resources.gpus) but no node of the Ray cluster at")
    for j in (unreachable, gpu):
        assert jm.store.get(j.run_id).status == "failed" and "\n" not in jm.get(j.id).error

    # a client whose Ray version differs from the cluster's (the version Ray reports is patched)
    code = ("import sys, platform, ray._private.utils as u\n"
            "u.compute_version_info = lambda: ('2.0.0', platform.python_version())\n"
            "from fer_core.remote.connect import connect\nfrom fer_core.errors import ClusterError\n"
            f"try:\n    connect({ray_head!r})\nexcept ClusterError as e:\n    print(e)\n    sys.exit(2)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2, out.stderr[-3000:]
    line = out.stdout.strip()
    assert line.startswith(f"Version mismatch: the Ray cluster at {ray_head} runs Ray ") and "this studio has Ray 2.0.0" in line


@pytest.mark.slow
def test_sweep_on_ray_with_asha_lands_in_the_run_store(ray_head, ray_home, tmp_path, capsys):
    """4 trials through the CLI on the head: every trial ends as a complete run, or as a run ASHA
    stopped after epoch 1 (cancelled, with its files and the reason). On data this small the
    validation accuracy after one epoch is close to chance, so which trials ASHA stops (and
    whether it stops one) varies; what it did must be consistent with the rung values."""
    from streamlit.testing.v1 import AppTest

    from fer_core.cli import main

    jm = ray_home
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('name = "sw"\n[data]\npath = "synthetic:n=300"\n[train]\nepochs = 2\nbatch_size = 32\n')
    capsys.readouterr()
    code = main(["sweep", str(cfg), "--grid", "train.lr=0.001,10.0", "--samples", "2", "--ray", ray_head, "--wait"])
    out = capsys.readouterr().out
    [rec] = list_sweeps(jm.root)
    assert code == 0, out + jm.log_tail(rec["job_id"], 80)
    assert rec["status"] == "done" and len(rec["trials"]) == 4
    assert [t["settings"] for t in rec["trials"]] == [{"train.lr": lr, "train.seed": s} for lr in (0.001, 10.0)
                                                      for s in (0, 1)]
    stopped = [t for t in rec["trials"] if t["stopped"] == "asha"]
    finished = [t for t in rec["trials"] if t["status"] == "done"]
    assert len(stopped) + len(finished) == 4 and finished, rec["trials"]
    first_epoch = {t["index"]: jm.store.get(t["run_id"]).history()[0]["val_accuracy"] for t in rec["trials"]}
    for t in stopped:
        run = jm.store.get(t["run_id"])
        assert run.status == "cancelled" and t["error"] == "stopped early by ASHA after 1 epoch(s)"
        assert (run.path / "checkpoint.keras").is_file() and len(run.history()) == 1
        assert not (run.path / "metrics.json").is_file()
        # ASHA stops a trial below the median of the ones recorded before it: below the best of the others
        assert first_epoch[t["index"]] < max(v for i, v in first_epoch.items() if i != t["index"]), first_epoch
    for t in finished:
        _assert_complete_run(jm.store, t["run_id"], 2)
    print(f"ASHA stopped {len(stopped)} of 4 trials; val_accuracy after epoch 1: {first_epoch}", file=sys.stderr)
    assert {r.id for r in jm.store.list(sweep=rec["id"])} == {t["run_id"] for t in rec["trials"]}
    best = best_trial(sweep_table(rec, jm.store))
    assert best["run"] in {t["run_id"] for t in finished} and f"best trial {best['trial']}" in out
    job = jm.get(rec["job_id"])
    assert (job.kind, job.status, job.run_id, job.sweep_id) == ("sweep", "done", None, rec["id"])

    # Compare shows the sweep, and opens its best trial like any run
    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=240).run()
    at.switch_page("views/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="cmp_sweep").value == rec["id"]
    assert any(df.value.shape[0] == 4 and "best val_accuracy" in df.value.columns for df in at.dataframe)
    at.button(key="cmp_sweep_best").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="cmp_pick").value[0] == f"run:{best['run']}"


@pytest.mark.slow
def test_a_sweep_without_address_starts_a_local_ray_and_can_be_cancelled(ray_home, monkeypatch):
    """No address: the sweep job starts its own Ray (and ends it); cancelling it stops every trial."""
    from fer_core.sweeps import submit_sweep

    monkeypatch.setenv("FER_STUDIO_PROGRESS_DELAY", "0.5")
    jm = ray_home
    rec, job = submit_sweep(_cfg("local_sweep", epochs=4), ["train.lr=0.01"], scheduler="none", jm=jm)
    assert job.ray_address is None and job.status == "running"
    _poll(lambda: any(t["epochs_done"] >= 1 for t in read_sweep(rec["id"], jm.root)["trials"])
          or jm.get(job.id).status != "running", what="a first trial result")
    jm.cancel(job.id)
    done = jm.wait(job.id, timeout=TIMEOUT, poll=0.5)
    assert done.status == "cancelled", jm.log_tail(job.id, 80)
    rec = read_sweep(rec["id"], jm.root)
    assert rec["status"] == "cancelled"
    for t in rec["trials"]:
        run = jm.store.get(t["run_id"])
        assert (t["status"], t["stopped"], run.status) == ("cancelled", "cancelled", "cancelled"), t
        assert run.history() and len(run.history()) < 4 and (run.path / "checkpoint.keras").is_file()
    assert not list(Path("/tmp").glob(f"fer_tune_*/{rec['id']}"))  # Tune's own folder is removed
