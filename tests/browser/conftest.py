"""Browser-test infrastructure: the real app under `reflex run --env prod`, driven by Chromium.

Playwright's **sync** API is used (plain `def test_…`, no asyncio). Fixtures and helpers:

    app_server      (session) AppServer(url, backend_url, database_url, log_path): the app,
                    `reflex run --env prod` on one free loopback port (in prod, Reflex 0.10.1
                    serves the built frontend from the backend: one port, url == backend_url;
                    it refuses two different ports). Started once per session against the
                    session's migrated Postgres database (tests/conftest.py `pg_url`), so a
                    test may also arrange or check data directly through the domain
                    (`utool_chat.domain.*`): the test process's engine points at it too.
                    Do not combine with the `db` fixture in a browser test (it TRUNCATEs).
    browser         (session) Chromium: /usr/bin/chromium with toolchain.md's flags, else
                    Playwright's own Chromium. If neither launches the test FAILS (never skips).
    new_page        factory: new_page(width=1280, height=800) -> Page in a fresh browser context
                    (its own localStorage: one context per simulated user). Closed after the test.
    signed_in       factory: signed_in(user, width=1280, height=800) -> a new_page logged in as `user`.
    page_at         the same on any app: page_at(base_url, width=1280, height=800) -> Page.
    register_in_browser(page, base_url, username, password=PASSWORD, display_name=None)
    login_in_browser(page, base_url, username, password=PASSWORD)
                    drive the real forms; return when the app has navigated away from the form.
    unique_username(prefix) a fresh valid username (the database lives for the whole session).
    screenshot(page, name)  saves test-artifacts/screenshots/<name>.png (gitignored), returns the path.
    wait_for_app(page)      waits until the page is hydrated and its socket is connected.
    running_app_server(project_dir, env, log_path) context manager: `reflex run --env prod`
                    of the project in `project_dir` (the repository, or a copy of it: see
                    copy_project) with `env` added, yielding its AppServer once it answers and
                    stopping its whole process group afterwards.
    copy_project(source, target) a private copy of the project to build and run a second app
                    process from (the frontend bakes its backend URL in at build time).
    dev_app_server  (session) the same app under the DEV server (`reflex run` without
                    --env prod, what `./scripts/run.sh --dev` starts): hot reload, React's
                    StrictMode, pages on one port and the backend on another. Runs from a
                    private copy of the project (its own `.web/`), so it never fights the
                    prod server's build. Slow to compile here: only the critical flows use it
                    (tests/browser/test_live_modes.py, parametrised over both servers).

Mark browser tests with `@pytest.mark.browser`.

`reflex run` compiles into the shared `.web/`; the server holds an exclusive flock on
/tmp/utool-reflex-web.lock while it runs, so two test sessions (or a manual run, started as
`flock /tmp/utool-reflex-web.lock reflex run …`) never compile at the same time. A session
waits for the lock (up to BROWSER_LOCK_TIMEOUT seconds, default 900) and says so. Copies
made by copy_project build in their own `.web/` and need no lock.
Server output goes to test-artifacts/reflex-server.log; its tail is shown when start-up fails.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
SERVER_LOG = ARTIFACTS / "reflex-server.log"
WEB_LOCK = Path(os.environ.get("BROWSER_WEB_LOCK", "/tmp/utool-reflex-web.lock"))
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT = float(os.environ.get("BROWSER_APP_START_TIMEOUT", "600"))
LOCK_TIMEOUT = float(os.environ.get("BROWSER_LOCK_TIMEOUT", "900"))
PASSWORD = "correct horse battery"
UI_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class AppServer:
    url: str  # the pages, e.g. http://127.0.0.1:41234
    backend_url: str  # Reflex backend: /_event socket, /api/v1 HTTP API, /chat Socket.IO (same port)
    database_url: str
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status < 500
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(log_path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _take_web_lock():
    """Exclusive lock on the shared .web build directory (see the module docstring)."""
    handle = open(WEB_LOCK, "a+")  # noqa: SIM115 - held for the whole session
    deadline = time.monotonic() + LOCK_TIMEOUT
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                pytest.fail(f"{WEB_LOCK} stayed locked for {LOCK_TIMEOUT:.0f}s (another reflex run?)")
            if not announced:
                print(f"\nbrowser tests: waiting for {WEB_LOCK} (another app build/run holds it)…", flush=True)
                announced = True
            time.sleep(1)


def _stop(process: subprocess.Popen) -> None:
    """Stop the whole process group (reflex spawns bun and the backend workers)."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# What a copy of the project leaves out: history, the venv and bun (used from ROOT by
# absolute path), test output, caches and the per-run state folder.
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "test-artifacts", "__pycache__", ".pytest_cache", ".states", "uploaded_files"
)


def copy_project(source: Path, target: Path) -> Path:
    """Copy the project (with `.web/` and its installed node_modules when present, so the
    copy's first `reflex run` skips the package install) to `target`; returns `target`."""
    shutil.copytree(source, target, symlinks=True, ignore=COPY_IGNORE)
    return target


@contextmanager
def running_app_server(
    project_dir: Path, env: dict[str, str], log_path: Path, dev: bool = False
) -> Iterator[AppServer]:
    """`reflex run --env prod` in `project_dir` on a free loopback port (pages and backend on
    one port), with `env` on top of this process's environment (DATABASE_URL at least).
    `dev`: the dev server instead (`reflex run`: pages and backend on two free ports).
    Yields once /ping and /login answer; fails the test with the log's tail otherwise."""
    port = _free_port()
    frontend_port = _free_port() if dev else port
    backend_url = f"http://127.0.0.1:{port}"
    child_env = {
        **os.environ,
        "API_URL": backend_url,
        "PATH": f"{ROOT / '.tools/node_modules/.bin'}:{ROOT / '.venv/bin'}:{os.environ.get('PATH', '')}",
        "REFLEX_USE_SYSTEM_BUN": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": f"{project_dir}:{os.environ.get('PYTHONPATH', '')}".rstrip(":"),
        **env,
    }
    command = [
        str(ROOT / ".venv/bin/reflex"), "run", *([] if dev else ["--env", "prod"]),
        "--frontend-port", str(frontend_port),
        "--backend-port", str(port),
        "--backend-host", "127.0.0.1",
        "--loglevel", "info",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=project_dir, env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = AppServer(
        url=f"http://127.0.0.1:{frontend_port}", backend_url=backend_url, database_url=env["DATABASE_URL"],
        log_path=log_path,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (_answers(f"{backend_url}/ping") and _answers(f"{server.url}/login")):
            if process.poll() is not None:
                pytest.fail(f"reflex run in {project_dir} exited with {process.returncode}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the app in {project_dir} did not answer within {START_TIMEOUT:.0f}s:\n{_log_tail(log_path)}"
                )
            time.sleep(0.5)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def app_server(pg_url: str) -> Iterator[AppServer]:
    lock = _take_web_lock()  # this server compiles into the shared ROOT/.web
    try:
        with running_app_server(ROOT, {"DATABASE_URL": pg_url}, SERVER_LOG) as server:
            yield server
    finally:
        lock.close()  # releases the flock


@pytest.fixture(scope="session")
def dev_app_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    project = copy_project(ROOT, tmp_path_factory.mktemp("dev-app") / "project")
    with running_app_server(project, {"DATABASE_URL": pg_url}, ARTIFACTS / "reflex-dev-server.log", dev=True) as server:
        # The dev server compiles a page when it is first asked for: do it before any test's timeout.
        for path in ("/login", "/chat", "/friends"):
            _answers(f"{server.url}{path}")
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    attempts: list[dict[str, Any]] = []
    if SYSTEM_CHROMIUM.exists():
        attempts.append({"executable_path": str(SYSTEM_CHROMIUM)})
    attempts.append({})  # Playwright's own Chromium (`python -m playwright install chromium`)
    errors = []
    chromium = None
    for extra in attempts:
        try:
            chromium = playwright.chromium.launch(args=CHROMIUM_ARGS, **extra)
            break
        except PlaywrightError as err:
            errors.append(f"{extra or 'playwright chromium'}: {err}")
    if chromium is None:
        playwright.stop()
        pytest.fail("Chromium could not be launched (browser tests never skip):\n" + "\n".join(errors))
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture()
def page_at(browser) -> Iterator[Callable[..., object]]:
    """page_at(base_url, width=1280, height=800) -> a Page in its own context (its own user)
    on the app at `base_url`. Closed after the test."""
    contexts = []

    def _page_at(base_url: str, width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _page_at
    for context in contexts:
        context.close()


@pytest.fixture()
def new_page(page_at, app_server: AppServer) -> Callable[..., object]:
    """new_page(width=1280, height=800) -> a Page in its own context (its own user)."""
    return lambda width=1280, height=800: page_at(app_server.url, width, height)


@pytest.fixture()
def signed_in(new_page, app_server: AppServer) -> Callable[..., object]:
    """signed_in(user, width=1280, height=800) -> a Page in its own context, logged in as
    `user` (a domain user dict) through the real form, hydrated and connected."""

    def _signed_in(user: dict, width: int = 1280, height: int = 800):
        page = new_page(width=width, height=height)
        login_in_browser(page, app_server.url, user["username"])
        wait_for_app(page)
        return page

    return _signed_in


def unique_username(prefix: str = "user") -> str:
    return f"{prefix[:20]}_{uuid.uuid4().hex[:8]}".lower()


def wait_for_app(page) -> None:
    """Wait until the page is hydrated: React owns the DOM and the socket is live.

    Typing into a server-rendered input before hydration would be lost. Every page shows
    an invisible `[data-testid=app-hydrated]` once Reflex's hydrate event has come back
    (utool_chat/components/layout.py `hydration_marker`)."""
    page.locator("[data-testid=app-hydrated]").first.wait_for(state="attached", timeout=UI_TIMEOUT_MS)


def register_in_browser(
    page, base_url: str, username: str, password: str = PASSWORD, display_name: str | None = None
) -> None:
    page.goto(f"{base_url}/register")
    wait_for_app(page)
    form = page.get_by_test_id("register-form")
    form.locator("input[name=username]").fill(username)
    if display_name:
        form.locator("input[name=display_name]").fill(display_name)
    form.locator("input[name=password]").fill(password)
    form.get_by_test_id("submit").click()
    page.wait_for_url(lambda url: "/register" not in url, timeout=UI_TIMEOUT_MS)


def login_in_browser(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    wait_for_app(page)
    form = page.get_by_test_id("login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.get_by_test_id("submit").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=UI_TIMEOUT_MS)


def screenshot(page, name: str, *, show_toasts: bool = False) -> Path:
    """Full-page PNG in test-artifacts/screenshots/; toasts hidden unless asked for (they
    would be caught mid-animation, covering the page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    hide = "" if show_toasts else "[data-sonner-toaster] { display: none !important; }"
    page.screenshot(path=str(path), full_page=True, style=hide, animations="disabled")
    return path
