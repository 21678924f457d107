"""What an idle Socket.IO websocket costs each ASGI server stack, on a bare python-socketio app.

    .venv/bin/python bench/server_memory.py [--sockets 1000] [--stacks NAME,...] [--python PATH]
        [--tracemalloc]

Each stack serves bench/bare_sio_app.py (python-socketio, websocket transport, a /chat
namespace that joins a room on connect: no Reflex, no domain) in a process group of its own on
127.0.0.1; its clients (bench/common.py) offer permessage-deflate, as browsers do. The script
connects 10 sockets (what is allocated once is not counted), reads the server's resident
memory from /proc once it settles, connects `--sockets` more, reads it again, and prints the
difference per socket, with the asyncio tasks each socket keeps (the app's /stats).
The uvicorn stacks run without permessage-deflate, as the backend does (utool_chat/
serving.py), except `uvicorn-wsproto-deflate`; hypercorn runs with its defaults (it takes it).

A venv for the stacks the project does not install:
    python3.11 -m venv /tmp/stacks && /tmp/stacks/bin/pip install python-socketio==5.18.1 \
        granian==2.8.9 uvicorn==0.54.0 wsproto websockets httptools uvloop hypercorn

With --tracemalloc the server also traces Python's allocations and the Python-heap share per
socket is printed (tracing itself inflates the resident figure).

`--python` is the interpreter that runs the servers (a venv with the stacks installed; the
stacks missing from it are reported and skipped). `--stacks list` prints the stack names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import SocketClient, http_session, load_average, rss_kb

from tests.support.backend_process import free_port

BENCH = Path(__file__).resolve().parent
APP = "bare_sio_app:app"


def granian(*extra: str) -> list[str]:
    return ["-m", "granian", "--interface", "asgi", "--workers", "1", "--log-level", "warning",
            "--host", "127.0.0.1", "--port", "{port}", *extra, APP]


def uvicorn(*extra: str, deflate: bool = False) -> list[str]:
    # No permessage-deflate, as utool_chat/serving.py runs it (the client offers it, as browsers
    # do). uvicorn's own websocket ping stays (its first comes after 20 s, past a run's window).
    return ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
            "--no-access-log", "--ws-per-message-deflate", str(deflate).lower(), *extra, APP]


# name -> (module that must be importable, arguments to the interpreter)
STACKS: dict[str, tuple[str, list[str]]] = {
    "granian": ("granian", granian()),
    "granian-http1": ("granian", granian("--http", "1")),
    "granian-small-buffer": ("granian", granian("--http", "1", "--http1-buffer-size", "8192")),
    "granian-rust-tasks": ("granian", granian("--task-impl", "rust")),
    "granian-uvloop": ("uvloop", granian("--loop", "uvloop")),
    "uvicorn-websockets": ("uvicorn", uvicorn("--ws", "websockets", "--http", "h11", "--loop", "asyncio")),
    "uvicorn-websockets-sansio": ("uvicorn", uvicorn("--ws", "websockets-sansio", "--http", "h11",
                                                     "--loop", "asyncio")),
    "uvicorn-wsproto": ("wsproto", uvicorn("--ws", "wsproto", "--http", "h11", "--loop", "asyncio")),
    "uvicorn-wsproto-deflate": ("wsproto", uvicorn("--ws", "wsproto", "--http", "h11", "--loop", "asyncio",
                                                   deflate=True)),
    "uvicorn-websockets-uvloop": ("uvloop", uvicorn("--ws", "websockets", "--http", "httptools",
                                                    "--loop", "uvloop")),
    "uvicorn-sansio-uvloop": ("uvloop", uvicorn("--ws", "websockets-sansio", "--http", "httptools",
                                                "--loop", "uvloop")),
    "uvicorn-wsproto-uvloop": ("uvloop", uvicorn("--ws", "wsproto", "--http", "httptools",
                                                 "--loop", "uvloop")),
    "hypercorn": ("hypercorn", ["-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--log-level", "warning",
                                APP]),
}


def has_module(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def stats(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/stats", timeout=5) as response:
        return json.load(response)


def wait_until_up(process: subprocess.Popen, base_url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            stats(base_url)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not answer")


async def measure(base_url: str, pgid: int, sockets: int) -> dict:
    async with http_session() as http:
        warm = [await SocketClient.connect(http, base_url, f"warm{i}") for i in range(10)]
        await asyncio.sleep(2)
        before_rss, before = rss_kb(pgid), stats(base_url)
        idle: list[SocketClient] = []
        for start in range(0, sockets, 100):
            idle += await asyncio.gather(*(SocketClient.connect(http, base_url, f"user{i % 10}")
                                           for i in range(start, min(sockets, start + 100))))
        await asyncio.sleep(3)
        after_rss, after = rss_kb(pgid), stats(base_url)
        for client in [*warm, *idle]:
            await client.close()
    result = {
        "rss_mb": after_rss / 1024,
        "kb_per_socket": (after_rss - before_rss) / sockets,
        "tasks_per_socket": {name: (count - before["tasks"].get(name, 0)) / sockets
                             for name, count in after["tasks"].items()
                             if count - before["tasks"].get(name, 0) >= sockets / 2},
    }
    if after["traced_bytes"] is not None:
        result["heap_kb_per_socket"] = (after["traced_bytes"] - before["traced_bytes"]) / 1024 / sockets
    return result


def run_stack(name: str, python: str, sockets: int, tracemalloc: bool) -> str:
    module, arguments = STACKS[name]
    if not has_module(python, module):
        return f"{name:28} skipped: {module} is not installed for {python}"
    port = free_port()
    command = [python, *(a.replace("{port}", str(port)) for a in arguments)]
    env = {**os.environ, "PYTHONPATH": str(BENCH), "BARE_TRACEMALLOC": "1" if tracemalloc else "0"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=BENCH, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(process, base_url)
            r = asyncio.run(measure(base_url, process.pid, sockets))
        except Exception as error:  # one stack failing should not hide the others
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
            return f"{name:28} failed: {error!r}; server said: {' | '.join(tail)}"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    tasks = r["tasks_per_socket"]
    heap = f", Python heap {r['heap_kb_per_socket']:.1f} KB" if "heap_kb_per_socket" in r else ""
    return (f"{name:28} {r['kb_per_socket']:6.1f} KB per idle socket (resident {r['rss_mb']:.0f} MB), "
            f"{sum(tasks.values()):.1f} asyncio tasks{heap}\n{'':30}tasks: "
            + ", ".join(f"{name} {count:.1f}" for name, count in tasks.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--stacks", default=",".join(STACKS))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    if args.stacks == "list":
        print("\n".join(STACKS))
        return
    print(f"{args.sockets} idle sockets per stack, servers run by {args.python}; {load_average()}")
    for name in args.stacks.split(","):
        print(run_stack(name, args.python, args.sockets, args.tracemalloc), flush=True)
    print(f"-- done; {load_average()}")


if __name__ == "__main__":
    main()
