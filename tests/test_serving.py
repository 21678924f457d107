"""utool_chat/serving.py: how the worker sets up the garbage collector before it serves."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from utool_chat import serving


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tuning_freezes_what_is_loaded_and_raises_the_thresholds(restored_gc) -> None:
    class Loaded:  # instances are tracked by the collector
        pass

    loaded = Loaded()  # exists before serving
    gc.unfreeze()
    serving.tune_gc_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == serving.GC_THRESHOLDS
    assert serving.GC_THRESHOLDS[0] > 700  # CPython's default young threshold: what the tuning is for
    assert not any(o is loaded for o in gc.get_objects())  # frozen: out of every collection's walk
    made_after = Loaded()
    assert any(o is made_after for o in gc.get_objects())  # what comes after stays collectable


def test_the_worker_tunes_the_collector_once_before_it_serves(monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(serving, "tune_gc_for_serving", lambda: calls.append("tune"))

    class StartedServer:
        started = True

        def __init__(self, config: Any) -> None:
            calls.append("server")

        async def serve(self, sockets: Any) -> None:
            calls.append("serve")

    monkeypatch.setattr(serving, "DrainingServer", StartedServer)
    worker = object.__new__(serving.Worker)
    worker.config = type("Config", (), {})()
    worker.wsgi = object()
    worker.sockets = []
    monkeypatch.setattr(worker, "_install_sigquit_handler", lambda: None)
    asyncio.run(worker._serve())
    assert calls == ["tune", "server", "serve"]
