"""Run ``lit-gans`` in a subprocess the way users start it, for integration tests.

A multi-process run that hangs must fail its test, not the suite: every command runs in a new
process session, and on a timeout the whole session (the launcher and every rank it started) is
killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "lit_gans.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment, with this checkout importable and one torch thread per rank."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


def run(
    command: Sequence[str], cwd: Path, timeout: int = 300, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """``command`` in ``cwd``; a run past ``timeout`` seconds is killed with all its processes and
    returned with return code -9 and ``TIMEOUT`` appended to stderr."""
    process = subprocess.Popen(
        list(command), cwd=cwd, env=env or cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return subprocess.CompletedProcess(process.args, -9, stdout, stderr + f"\nTIMEOUT after {timeout} s")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def lit_gans(*args: str, cwd: Path, timeout: int = 300, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
    """``lit-gans ARGS`` in ``cwd``."""
    return run([*CLI, *args], cwd=cwd, timeout=timeout, env=env)
