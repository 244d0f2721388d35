"""Serving test support: a deterministic fake classifier, API keys, and an app runner (lifespan + httpx).

Imported by module name (pytest puts this directory on `sys.path`); named uniquely so no other test
directory's helper can shadow it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from notecheck.model.classifier import Prediction, as_note, decide
from notecheck.model.disclosure import rate
from notecheck.model.metadata import ModelMetadata
from notecheck.model.schema import Note

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "another-key-0123456789abcdef"


def fake_p(text: str) -> float:
    """The fake's P(commercial): a fixed function of the text, so each answer identifies its note."""
    return (zlib.crc32(text.encode("utf-8")) % 10_000) / 10_000


class FakeClassifier:
    """Same `predict`/`metadata` shape as `Classifier`; records every batch it is given.

    `gate`: each predict call waits for it (to hold the worker busy). `delay`: seconds per call.
    `fail`: raise instead of predicting. `warm_up_calls` of the recorded batches are the server's warm-up.
    """

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.metadata = ModelMetadata(version="fake-1", base_model="fake-base", max_length=64, temperature=1.5)
        self.delay = delay
        self.gate = gate
        self.fail = fail
        self.batches: list[list[str | None]] = []
        self.texts: list[str] = []
        self.busy = threading.Event()  # set when a predict call has started
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.metadata.version

    def predict(self, notes: Sequence[Note | str]) -> list[Prediction]:
        items = [as_note(n) for n in notes]
        with self._lock:
            self.batches.append([n.id for n in items])
            self.texts.extend(n.text for n in items)
        self.busy.set()
        if self.gate is not None:
            assert self.gate.wait(timeout=10), "test gate never opened"
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("boom")
        out = []
        for n in items:
            p = fake_p(n.text)
            disclosure = rate(n.text, n.title)
            verdict, action = decide(p, disclosure, self.metadata.thresholds)
            out.append(Prediction(n.id, p, verdict, action, disclosure, False, len(n.text)))
        return out

    def served_batches(self) -> list[list[str | None]]:
        """Batches other than the warm-up."""
        return [b for b in self.batches if b != ["warm-up"]]


@asynccontextmanager
async def running(app: FastAPI, ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an httpx client on it; by default wait until /readyz says 200."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if ready:
                await wait_ready(client)
            yield client


async def wait_ready(client: httpx.AsyncClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "app never became ready"
        await asyncio.sleep(0.01)


def body(prefix: str, n: int) -> dict[str, list[dict[str, str]]]:
    """A predict request of `n` distinct notes with ids `<prefix>-<i>`."""
    return {"notes": [{"id": f"{prefix}-{i}", "text": f"{prefix} 笔记 number {i}, 今天天气不错"} for i in range(n)]}


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `condition()` without blocking the event loop (fakes run in worker threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.002)


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (0.0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
