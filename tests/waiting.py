"""Waiting helpers the process-level tests share: poll a condition, find a free local port."""
from __future__ import annotations

import socket
import time
from typing import Any, Callable


def poll(fn: Callable[[], Any], what: str = "condition", timeout: float = 300.0, every: float = 0.05) -> Any:
    """Call ``fn`` every ``every`` seconds until it returns something truthy (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
