"""Is a worker still alive? /proc start times and the boot id tell a live pid from a reused one."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: Workers this process started, so finished ones are reaped (no zombies in a long-lived dashboard).
_CHILDREN: dict[int, subprocess.Popen] = {}


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of ``pid`` from /proc, None if absent."""
    try:
        raw = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    rest = raw[raw.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return rest[0], int(rest[19])


def _alive(pid: int | None, pid_start: int | None, boot_id: str | None) -> bool:
    """Whether the worker recorded as (pid, start time, boot id) is still running.

    False when the machine rebooted since, the pid is gone or a zombie, or the pid now belongs to a
    process with another start time (reused after a restart).
    """
    if not pid:
        return False
    _reap()
    current_boot = _boot_id()
    if boot_id and current_boot and boot_id != current_boot:
        return False
    if not Path("/proc/self/stat").exists():  # no procfs: the best we can do is "pid exists"
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return pid_start is None or st[1] == int(pid_start)

