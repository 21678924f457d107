"""Concurrent uploads against one real backend process: time, and the backend's memory.

    .venv/bin/python bench/uploads.py [--uploads 20] [--mb 10] [--store local|s3] [--clamd]

Starts the real backend (gunicorn + uvicorn, like the realtime tests) on a temporary Postgres database
and a temporary MEDIA_ROOT (or, with --store s3, a private SeaweedFS `weed mini` with signed
requests), registers one user per upload, then sends all uploads at once (multipart, each
client streaming its file from disk) and prints:
  - total wall time and the aggregate rate;
  - the backend's resident memory (RSS of gunicorn and its worker, sampled every 10 ms)
    before, at its peak, and the growth, next to the bytes in flight. Streaming means the
    growth stays far below the bytes in flight; buffering whole bodies would make it exceed
    them.
Files are random bytes (no image decoding), so the figure is the cost of the transport and
storage path. Everything is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.conftest import migrate, temporary_pg_database  # noqa: E402

MIB = 2**20


def point_this_process_at(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    from utool_chat import config
    from utool_chat.db import engine

    config.reload_settings()
    engine.init_engine(url)


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class PeakSampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def upload(client: httpx.AsyncClient, token: str, path: Path) -> float:
    started = time.perf_counter()
    with open(path, "rb") as handle:  # noqa: ASYNC230 (httpx streams it in small blocks)
        r = await client.post("/api/v1/chat/uploads", headers={"Authorization": f"Bearer {token}"},
                              files={"files": (path.name, handle, "application/octet-stream")})
    if r.status_code != 201:
        raise RuntimeError(f"upload failed: {r.status_code} {r.text[:300]}")
    return time.perf_counter() - started


async def run(args: argparse.Namespace, backend_url: str, pid: int, tokens: list[str], files: list[Path]) -> None:
    limits = httpx.Limits(max_connections=args.uploads + 5)
    async with httpx.AsyncClient(base_url=backend_url, timeout=300, limits=limits) as client:
        # Warm up (imports, first connection, Pillow/libmagic) so the baseline is steady.
        await upload(client, tokens[0], files[0])
        await asyncio.sleep(1)
        before = tree_rss(pid)
        with PeakSampler(pid) as sampler:
            started = time.perf_counter()
            durations = await asyncio.gather(*(upload(client, t, f) for t, f in zip(tokens, files, strict=True)))
            elapsed = time.perf_counter() - started
        after = tree_rss(pid)
    in_flight = args.uploads * args.mb * MIB
    print(f"store: {args.store}{' + clamd' if args.clamd else ''}")
    print(f"{args.uploads} concurrent uploads of {args.mb} MB: {elapsed:.2f} s total, "
          f"{in_flight / MIB / elapsed:.0f} MiB/s, per upload p50 {sorted(durations)[len(durations) // 2]:.2f} s, "
          f"max {max(durations):.2f} s")
    print(f"backend RSS: before {before / MIB:.0f} MiB, peak {sampler.peak / MIB:.0f} MiB, "
          f"after {after / MIB:.0f} MiB; growth at peak {(sampler.peak - before) / MIB:.0f} MiB "
          f"for {in_flight / MIB:.0f} MiB in flight ({(sampler.peak - before) / in_flight:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--mb", type=int, default=10)
    parser.add_argument("--store", choices=("local", "s3"), default="local")
    parser.add_argument("--clamd", action="store_true", help="scan every upload with a clamd started for the run")
    args = parser.parse_args()

    from tests.files_support import s3_env, start_clamd, start_weed, stop
    from tests.support.backend_process import running_backend
    from utool_chat.domain import accounts

    work = Path(tempfile.mkdtemp(prefix="utool_bench_uploads_"))
    helpers = []
    try:
        env = {"MEDIA_ROOT": str(work / "media"), "RATE_LIMIT_UPLOAD": "10000/minute"}
        if args.store == "s3":
            weed, server = start_weed(work / "weed")
            helpers.append(weed)
            server.client().create_bucket(Bucket="bench")
            env.update(s3_env(server, "bench"))
        if args.clamd:
            clamd_process, sock = start_clamd(work / "clamd")
            helpers.append(clamd_process)
            env["CLAMD_ADDRESS"] = sock
        files = []
        for i in range(args.uploads):
            path = work / f"file{i}.bin"
            with open(path, "wb") as out:
                for _ in range(args.mb):
                    out.write(os.urandom(MIB))
            files.append(path)
        with temporary_pg_database("utool_bench") as url:
            migrate(url)
            point_this_process_at(url)
            tokens = [accounts.register(f"bench{i}_{os.getpid()}", "correct horse")["token"]
                      for i in range(args.uploads)]
            with running_backend(url, env=env) as backend:
                asyncio.run(run(args, backend.url, backend.process.pid, tokens, files))
    finally:
        for process in helpers:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
