"""Kill a command line process mid-way, as a user's Ctrl-\\ or an OOM killer would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest


def sigkill_when(
    proc: subprocess.Popen, ready: Callable[[], bool], what: str, seconds: float
) -> None:
    """Poll ``ready()`` until it is true, then SIGKILL ``proc`` and wait for it.  Fails if
    ``proc`` ends first (with its standard error) or ``ready`` is not true within ``seconds``
    (``what`` says what was awaited).  ``proc`` is killed and its stderr closed in every case."""
    deadline = time.monotonic() + seconds
    try:
        while not ready():
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else b""
                text = err.decode() if isinstance(err, bytes) else err
                pytest.fail(f"the command ended (rc={proc.returncode}) before it could be "
                            f"killed: {text[-2000:]}")  # fmt: skip
            assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
