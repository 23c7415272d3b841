"""Connecting to a Ray cluster without hanging, and the clear errors when it cannot be used."""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import ClusterError, ConfigError

#: The environment variable Ray itself reads; the studio's default address when set.
ADDRESS_ENV = "RAY_ADDRESS"
#: Seconds ``ray.init`` may take before the connection counts as failed ($FER_STUDIO_RAY_TIMEOUT).
CONNECT_TIMEOUT = 60.0
#: Seconds the first TCP check of the head's port may take.
PROBE_TIMEOUT = 3.0
#: Ray namespace of every actor the studio creates.
NAMESPACE = "fer_studio"
#: Default ports: the head's GCS (``ray start --head``) and Ray Client (``ray://``).
GCS_PORT, CLIENT_PORT = 6379, 10001
_PACKAGE = Path(__file__).resolve().parent.parent
_SETUP = "see the README section 'Running on a Ray cluster'"


def resolve_address(value: str | None = None, *, local: bool = False) -> str | None:
    """The Ray address a job should use: ``value``, else ``$RAY_ADDRESS``, else None (run locally).

    ``local=True`` (``--local``) forces None. An empty string means local too.
    """
    if local:
        return None
    address = value if value is not None else os.environ.get(ADDRESS_ENV)
    address = (address or "").strip()
    if not address:
        return None
    parse_address(address)
    return address


def parse_address(address: str) -> tuple[str, int, bool]:
    """``(host, port, is_client)`` of ``"host:port"`` (a node of the cluster: the head's GCS port)
    or ``"ray://host:port"`` (Ray Client, from a machine outside the cluster); the port defaults
    to 6379 and 10001. Raises ConfigError for anything else."""
    text = str(address).strip()
    client = text.startswith("ray://")
    rest = text[len("ray://"):] if client else text
    m = re.fullmatch(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.\-]+))(?::(\d{1,5}))?", rest)
    if not m or rest in ("auto", "local"):
        raise ConfigError(f"Ray address {text!r} is not host:port or ray://host:port (e.g. 127.0.0.1:6379, the "
                          f"address `ray start --head` prints); leave it empty to train locally.")
    port = int(m.group(3)) if m.group(3) else (CLIENT_PORT if client else GCS_PORT)
    if not 0 < port < 65536:
        raise ConfigError(f"Ray address {text!r}: port {port} is outside 1..65535.")
    return m.group(1) or m.group(2), port, client


def check_reachable(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """A short TCP connect to the head's port; ClusterError when nothing answers (no hang)."""
    host, port, _ = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        raise ClusterError(
            f"Cannot reach a Ray cluster at {address} ({reason}). Start one with `ray start --head` and give the "
            f"address it prints, check the host, port and firewall, or leave the address empty (and unset "
            f"{ADDRESS_ENV}) to train locally; {_SETUP}.") from None


def code_env() -> dict[str, Any]:
    """The runtime environment that ships this checkout's ``fer_core`` to every worker of the job."""
    env = {"py_modules": [str(_PACKAGE)], "excludes": ["__pycache__", "*.pyc", "pretrained"],
           "env_vars": {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}}
    from ..jobs.worker import DELAY_ENV

    if os.environ.get(DELAY_ENV):  # the tests' slow-down reaches the remote trainer too
        env["env_vars"][DELAY_ENV] = os.environ[DELAY_ENV]
    return env


def _init_bounded(timeout: float, **kwargs: Any) -> None:
    """``ray.init(**kwargs)`` in a thread, waiting at most ``timeout`` seconds."""
    import ray

    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    t = threading.Thread(target=target, name="ray-init", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]


def release(actor: Any, started_here: bool) -> None:
    """End a driver's work on Ray: kill its ``actor`` (if any) and, if this call's caller started Ray
    in this process, shut Ray down. Never raises: it runs in ``finally`` blocks."""
    import contextlib

    import ray

    if actor is not None:
        with contextlib.suppress(Exception):
            ray.kill(actor)
    if started_here:
        with contextlib.suppress(Exception):
            ray.shutdown()


def connect(address: str, *, timeout: float | None = None) -> None:
    """Connect this process to the Ray cluster at ``address`` as a driver, or raise ClusterError.

    Checks the port first (seconds, not minutes, for a wrong address), then runs ``ray.init`` for
    at most ``timeout`` seconds (default ``$FER_STUDIO_RAY_TIMEOUT`` or 60) and rephrases Ray's
    version-mismatch error.
    """
    import ray

    if ray.is_initialized():
        return
    check_reachable(address)
    use_token_if_available()
    timeout = float(os.environ.get("FER_STUDIO_RAY_TIMEOUT") or CONNECT_TIMEOUT) if timeout is None else timeout
    kwargs = dict(address=address, namespace=NAMESPACE, log_to_driver=False, runtime_env=code_env())
    try:
        try:
            _init_bounded(timeout, **kwargs)
        except ConnectionError as exc:  # Ray Client: a server that just started may refuse the first session
            if not parse_address(address)[2] or "Initialization failure" not in str(exc):
                raise
            time.sleep(2.0)
            _init_bounded(timeout, **kwargs)
    except TimeoutError:
        raise ClusterError(f"No answer from a Ray cluster at {address} within {timeout:.0f} s: the port is open but "
                           f"no Ray head of this version answers there. Check the address (`ray status` on the head "
                           f"prints it) or raise FER_STUDIO_RAY_TIMEOUT; {_SETUP}.") from None
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line
        raise cluster_error(exc, address) from None


def use_token_if_available() -> None:
    """Send Ray's authentication token when there is one and ``$RAY_AUTH_MODE`` is unset.

    ``ray start --head`` turns token authentication on by itself once ``~/.ray/auth_token``
    exists (a plain ``ray.init()`` writes it), but a driver connecting to it does not send the
    token unless told to; a cluster without authentication accepts a driver that sends one.
    """
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or _token_path().is_file():
        _token_mode()


def _token_path() -> Path:
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def _token_mode() -> None:
    """``RAY_AUTH_MODE=token`` for this process and its children."""
    os.environ["RAY_AUTH_MODE"] = "token"
    try:  # refresh the configuration Ray cached at import, as Ray does when it turns the mode on
        from ray._raylet import Config

        Config.initialize("")
    except Exception:  # noqa: BLE001 - an older or newer Ray reads the variable itself
        pass


def start_local(num_cpus: int | None = None) -> str:
    """Start a private local Ray (no dashboard, a short temporary folder) for this process; returns
    its temporary folder, to remove after :func:`ray.shutdown`."""
    import secrets

    import ray

    if os.environ.get("RAY_AUTH_MODE") is None:  # token authentication, without writing ~/.ray/auth_token
        if not (os.environ.get("RAY_AUTH_TOKEN") or _token_path().is_file()):
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
        _token_mode()
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        temp = tempfile.mkdtemp(prefix="fray", dir="/tmp" if Path("/tmp").is_dir() else None)
        try:
            # In this thread, not a helper one: Ray's processes get a parent-death signal tied to the
            # thread that starts them, so a finished helper thread would take the new cluster with it.
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, namespace=NAMESPACE,
                     log_to_driver=False, runtime_env=code_env(), _temp_dir=temp)
            return temp
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for a slow start
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
            # Ray gives its raylet a fixed 30 s to register; a busy 2-core machine can take longer
            if "timed out during startup" not in str(exc) or attempt == LOCAL_START_ATTEMPTS:
                raise ClusterError(f"A local Ray could not start ({_first_line(str(exc))}, attempt {attempt} of "
                                   f"{LOCAL_START_ATTEMPTS}); if the machine is busy, try again when it is "
                                   "less so, or give the sweep a cluster with --ray ADDRESS.") from None
    raise AssertionError("unreachable")


LOCAL_START_ATTEMPTS = 3


def cluster_error(exc: BaseException, address: str) -> ClusterError:
    """One clear ClusterError for an exception raised while connecting to ``address``."""
    text = str(exc)
    if "Version mismatch" in text:
        found = re.findall(r"Ray: (\S+)\s+Python: (\S+)", text)
        if len(found) == 2:
            (cr, cp), (mr, mp) = found
            return ClusterError(
                f"Version mismatch: the Ray cluster at {address} runs Ray {cr} on Python {cp}, this studio has Ray "
                f"{mr} on Python {mp}. Install the same versions on both sides (requirements.txt pins "
                f"ray=={mr}) and restart the cluster with them.")
        return ClusterError(f"Version mismatch with the Ray cluster at {address}: {_first_line(text)}; install the "
                            "same Ray and Python versions on both sides.")
    return ClusterError(f"Could not connect to the Ray cluster at {address}: {type(exc).__name__}: "
                        f"{_first_line(text)}; {_SETUP}.")


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


# -- resources -----------------------------------------------------------------------------
GIB = 2 ** 30


def resource_request(resources: Any) -> dict[str, float]:
    """Ray resource names and amounts of a :class:`~fer_core.training.config.ResourceSpec`."""
    need = {"CPU": float(resources.cpus), "GPU": float(resources.gpus)}
    if resources.memory_gb:
        need["memory"] = float(resources.memory_gb) * GIB
    return {k: v for k, v in need.items() if v > 0}


def check_fits(resources: Any, nodes: Iterable[Mapping[str, Any]], address: str) -> None:
    """Raise ClusterError unless one alive node of ``nodes`` (``ray.nodes()``) has what ``resources`` asks.

    A request no node can ever meet would wait forever; this says so at once instead.
    """
    need = resource_request(resources)
    alive = [dict(n.get("Resources") or {}) for n in nodes if n.get("Alive", True)]
    if any(all(node.get(k, 0.0) >= v for k, v in need.items()) for node in alive):
        return
    gpus = max((n.get("GPU", 0.0) for n in alive), default=0.0)
    if need.get("GPU") and gpus == 0:
        raise ClusterError(
            f"The job asks for {need['GPU']:g} GPU(s) (resources.gpus) but no node of the Ray cluster at {address} "
            f"has a GPU. Set resources.gpus = 0 (--set resources.gpus=0) or add a GPU worker "
            f"(`ray start --address {address} --num-gpus 1` on a machine with one).")
    biggest = ", ".join(f"{n.get('CPU', 0):g} CPU / {n.get('GPU', 0):g} GPU / {n.get('memory', 0) / GIB:.1f} GiB"
                        for n in alive[:4]) or "no alive node"
    asked = f"{resources.cpus:g} CPU / {resources.gpus:g} GPU" + (
        f" / {resources.memory_gb:g} GiB" if resources.memory_gb else "")
    raise ClusterError(f"No node of the Ray cluster at {address} has what the job asks ({asked} on one node; "
                       f"nodes: {biggest}). Lower resources.cpus / resources.gpus / resources.memory_gb or add a "
                       f"bigger node.")
