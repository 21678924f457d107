"""The deployed topology: nginx (deploy/nginx.conf.template via deploy/run_nginx.sh) terminates
TLS with a certificate this test makes, redirects HTTP to HTTPS, sets HSTS and the security
headers, and proxies HTTP and websockets to TWO app processes on Postgres + Redis. Two browser
contexts go through it over HTTPS/WSS, click through the app and exchange messages live, and the
pages load without a single Content-Security-Policy violation."""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import conversation_row, friends_in_direct_chat, log_in, open_chat_list, send
from tests.browser.conftest import ARTIFACTS, ROOT, UI_TIMEOUT_MS, copy_project, running_app_server
from tests.support.backend_process import free_port

pytestmark = pytest.mark.browser

REDIS_URL = "redis://127.0.0.1:6379/7"
# Collects CSP violations from the page's first script on (a listener added later would miss
# those of the initial load).
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


@pytest.fixture(scope="module")
def through_nginx(pg_url: str) -> Iterator[tuple[str, int]]:
    https_port, http_port = free_port(), free_port()
    # Not "localhost": for that name Reflex's frontend swaps in the page's host and, on https,
    # drops the port (it assumes a proxy on 443), so the websocket would miss nginx.
    public = f"https://127.0.0.1:{https_port}"
    env = {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL,
           "REDIS_EVENTS_CHANNEL": f"utool_browser_test:{uuid.uuid4().hex}",
           # The frontend's backend and its own address are the public one (wss through nginx); both
           # builds are then byte-identical, so a page from one process loads its assets from either.
           "API_URL": public, "DEPLOY_URL": public,
           "TRUSTED_PROXIES": "127.0.0.1"}
    with tempfile.TemporaryDirectory(prefix="utool_nginx_", ignore_cleanup_errors=True) as tmp:
        first = copy_project(ROOT, Path(tmp) / "app1")
        with running_app_server(first, env, ARTIFACTS / "reflex-server-nginx-1.log") as one:
            second = copy_project(first, Path(tmp) / "app2")
            with running_app_server(second, env, ARTIFACTS / "reflex-server-nginx-2.log") as two:
                upstreams = [one.backend_url.removeprefix("http://"), two.backend_url.removeprefix("http://")]
                log = open(ARTIFACTS / "nginx.log", "w")  # noqa: SIM115  # open while nginx runs
                nginx = subprocess.Popen(
                    ["bash", str(ROOT / "deploy/run_nginx.sh"), str(Path(tmp) / "nginx"), str(https_port),
                     str(http_port), *upstreams], stdout=log, stderr=subprocess.STDOUT,
                )
                try:
                    deadline = time.monotonic() + 30
                    while True:
                        try:
                            if httpx.get(f"{public}/ping", verify=False, timeout=2).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        assert nginx.poll() is None, (ARTIFACTS / "nginx.log").read_text()
                        assert time.monotonic() < deadline, "nginx did not answer"
                        time.sleep(0.2)
                    yield public, http_port
                finally:
                    nginx.terminate()
                    nginx.wait(10)
                    log.close()


def test_http_redirects_to_https_and_every_answer_has_the_security_headers(through_nginx) -> None:
    public, http_port = through_nginx
    redirect = httpx.get(f"http://127.0.0.1:{http_port}/login?x=1", follow_redirects=False, timeout=10)
    assert redirect.status_code == 301 and redirect.headers["location"] == f"{public}/login?x=1"
    for path in ("/login", "/api/v1/auth/me", "/ping"):
        r = httpx.get(f"{public}{path}", verify=False, timeout=10)
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert httpx.get(f"{public}/api/v1/auth/me", verify=False, timeout=10).status_code == 401


def test_two_browsers_chat_live_over_https_and_wss_through_nginx(through_nginx, browser) -> None:
    public, _ = through_nginx
    alice, bob, conversation = friends_in_direct_chat()
    contexts, pages = [], []
    for _ in range(2):
        context = browser.new_context(ignore_https_errors=True, base_url=public)  # the test's own certificate
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.add_init_script(CSP_PROBE)
        contexts.append(context)
        pages.append(context.new_page())
    page_a, page_b = pages
    sockets: list[str] = []
    console: list[str] = []
    page_a.on("websocket", lambda ws: sockets.append(ws.url))
    for page in pages:
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.on("response", lambda r: console.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        for page, person in ((page_a, alice), (page_b, bob)):
            log_in(page, public, person)
            open_chat_list(page, public)
            conversation_row(page, conversation["_id"]).click()  # list -> chat, as a person does
            page.get_by_test_id("message-input").wait_for()

        send(page_a, "Hello over TLS")
        arrived = page_b.get_by_test_id("message").filter(has_text="Hello over TLS")
        expect(arrived).to_be_visible()
        send(page_b, "And back, through the other process maybe")
        expect(page_a.get_by_test_id("message").filter(has_text="And back, through")).to_be_visible()

        wss = public.replace("https://", "wss://") + "/"
        assert sockets and all(url.startswith(wss) for url in sockets), sockets
        for page in pages:
            assert page.evaluate("() => window.__cspViolations") == [], "the page broke its CSP"
    except Exception as exc:
        raise AssertionError(f"{exc}\nbrowser console:\n" + "\n".join(console[-30:])) from exc
    finally:
        for context in contexts:
            context.close()
