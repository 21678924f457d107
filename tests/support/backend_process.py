"""Run the real backend (HTTP API + Socket.IO, the whole Reflex app) in a child process on
127.0.0.1 — for the realtime tests and bench/socket_latency.py.

It serves `utool_chat.utool_chat:app` with gunicorn and the app's uvicorn worker (utool_chat/
serving.py), the way `reflex run --env prod --backend-only` does, minus the CLI's start-up checks:
  - REFLEX_SKIP_COMPILE: the backend only evaluates pages, it never builds the frontend;
  - REFLEX_WEB_WORKDIR points at a private temporary folder, so a backend started here
    never writes into the project's .web/ (where someone may be compiling the UI).
Start-up takes a few seconds (importing Reflex and the app).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from utool_chat.serving import GUNICORN_WORKER

ROOT = Path(__file__).resolve().parents[2]  # the project (tests/support/ is two levels down)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BackendProcess:
    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _wait_until_up(backend: BackendProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backend.process.poll() is not None:
            raise RuntimeError(f"backend exited with {backend.process.returncode}:\n{backend.log_tail()}")
        try:
            with urllib.request.urlopen(f"{backend.url}/ping", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"backend did not answer within {timeout} s:\n{backend.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    # gunicorn runs its worker as a child: signal the whole group this launcher created.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def running_backend(
    database_url: str,
    *,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    startup_timeout: float = 60,
) -> Iterator[BackendProcess]:
    """Start the app on 127.0.0.1:<port> against `database_url` (already migrated), yield it
    once /ping answers, stop it afterwards. Without `redis_url` the process uses its
    in-process event bus, whatever the parent's environment says."""
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="utool_backend_"))
    log_path = workdir / "backend.log"
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REFLEX_ENV_MODE": "prod",
        "__REFLEX_SKIP_COMPILE": "true",  # Reflex prefixes its internal variables with "__"
        "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
        "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    child_env.pop("REDIS_URL", None)
    if redis_url:
        child_env["REDIS_URL"] = redis_url
    # Reflex's run_uvicorn_backend_prod, with GUNICORN_CMD_ARGS as rxconfig.py sets it.
    command = [
        sys.executable, "-m", "gunicorn", "--preload", "--worker-class", GUNICORN_WORKER,
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning",
        "utool_chat.utool_chat:app()",
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    backend = BackendProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_up(backend, startup_timeout)
        yield backend
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
