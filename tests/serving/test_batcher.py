"""The batcher: coalescing, budgets, one reply per item, bounded queue, dropped work, failures, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from serving_support import FakeClassifier, fake_p

from notecheck.model.schema import Note
from notecheck.serving.batcher import (
    Batcher,
    BatcherClosed,
    BatcherConfig,
    BatchStats,
    PredictionFailed,
    QueueFull,
    estimate_tokens,
)

pytestmark = pytest.mark.anyio


def config(**changes: Any) -> BatcherConfig:
    base: dict[str, Any] = {
        "max_tokens": 10_000,
        "max_wait_s": 0.02,
        "max_notes": 64,
        "queue_max_notes": 1024,
        "token_cap": 64,
        "coalesce": True,
    }
    return BatcherConfig(**{**base, **changes})


def notes(prefix: str, n: int) -> list[Note]:
    return [Note(text=f"{prefix} note number {i}", id=f"{prefix}-{i}") for i in range(n)]


@asynccontextmanager
async def started(fake: FakeClassifier, **changes: Any) -> AsyncIterator[tuple[Batcher, list[BatchStats]]]:
    stats: list[BatchStats] = []
    batcher = Batcher(fake.predict, config(**changes), observer=stats.append)
    await batcher.start()
    try:
        yield batcher, stats
    finally:
        await batcher.stop()


async def until(condition: Any, timeout: float = 5.0) -> None:
    """Poll `condition()` without blocking the loop (the fake runs in the batcher's thread)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition never became true"
        await asyncio.sleep(0.002)


async def test_concurrent_requests_coalesce_and_each_gets_its_own_answers() -> None:
    fake = FakeClassifier(delay=0.01)
    async with started(fake) as (batcher, stats):
        requests = [notes(f"r{i}", 1 + i % 3) for i in range(30)]
        results = await asyncio.gather(*(batcher.submit(r) for r in requests))
    for request, result in zip(requests, results, strict=True):
        assert [p.id for p in result] == [n.id for n in request]
        assert [p.p_commercial for p in result] == [fake_p(n.text) for n in request]
    assert max(s.n_requests for s in stats) > 1  # batches really mixed requests
    assert sum(s.n_notes for s in stats) == sum(len(r) for r in requests) == batcher.scored
    assert len(fake.batches) < len(requests)


async def test_token_budget_and_note_count_cut_batches() -> None:
    fake = FakeClassifier()
    long_notes = [Note(text="广告" * 100, id=f"long-{i}") for i in range(4)]  # 64 tokens each (the cap)
    assert all(estimate_tokens(n, 64) == 64 for n in long_notes)
    async with started(fake, max_tokens=130, max_wait_s=0.05) as (batcher, stats):
        await batcher.submit(long_notes)
    assert [s.n_notes for s in stats] == [2, 2]
    assert all(s.est_tokens <= 130 for s in stats)

    fake = FakeClassifier()
    async with started(fake, max_notes=3, max_wait_s=0.05) as (batcher, stats):
        await batcher.submit(notes("x", 7))
    assert [s.n_notes for s in stats] == [3, 3, 1]


async def test_a_note_over_the_budget_still_runs_alone() -> None:
    fake = FakeClassifier()
    async with started(fake, max_tokens=16, token_cap=64) as (batcher, _):
        out = await batcher.submit([Note(text="很长的一篇笔记" * 20, id="big"), Note(text="hi", id="small")])
    assert [p.id for p in out] == ["big", "small"]
    assert fake.batches == [["big"], ["small"]]


async def test_batching_off_runs_each_request_alone() -> None:
    fake = FakeClassifier(delay=0.01)
    async with started(fake, coalesce=False, max_wait_s=0.05) as (batcher, stats):
        requests = [notes(f"r{i}", 3) for i in range(6)]
        await asyncio.gather(*(batcher.submit(r) for r in requests))
    assert sorted(fake.batches) == sorted([n.id for n in r] for r in requests)
    assert all(s.n_requests == 1 for s in stats)


async def test_wait_lets_a_later_request_join_the_batch() -> None:
    fake = FakeClassifier()
    async with started(fake, max_wait_s=0.5) as (batcher, _):
        first = asyncio.ensure_future(batcher.submit(notes("a", 1)))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, batcher.submit(notes("b", 1)))
    assert fake.batches == [["a-0", "b-0"]]


async def test_a_backlog_does_not_wait_again() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    async with started(fake, max_wait_s=0.4, max_notes=2) as (batcher, _):
        first = asyncio.ensure_future(batcher.submit(notes("first", 2)))  # a full batch: runs at once
        await until(fake.busy.is_set)
        backlog = asyncio.ensure_future(batcher.submit(notes("backlog", 1)))
        await asyncio.sleep(0.45)  # it has waited its max_wait in the queue while the model was busy
        gate.set()
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.gather(first, backlog)
        elapsed = loop.time() - began
    assert fake.batches == [["first-0", "first-1"], ["backlog-0"]]
    assert elapsed < 0.3  # no second wait of 0.4 s once the model is free


async def test_full_queue_refuses_a_whole_request() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    async with started(fake, queue_max_notes=5) as (batcher, _):
        running = asyncio.ensure_future(batcher.submit(notes("busy", 1)))
        await until(fake.busy.is_set)  # the worker holds "busy" and waits on the gate
        queued = asyncio.ensure_future(batcher.submit(notes("q", 4)))
        await until(lambda: batcher.depth == 4)
        with pytest.raises(QueueFull) as info:
            await batcher.submit(notes("refused", 2))  # 4 + 2 > 5: none of the two is queued
        assert info.value.retry_after >= 1
        assert batcher.depth == 4
        gate.set()
        await asyncio.gather(running, queued)
    assert "refused-0" not in fake.texts and not any("refused" in t for t in fake.texts)


async def test_work_of_a_cancelled_client_is_dropped_unscored() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    async with started(fake) as (batcher, _):
        running = asyncio.ensure_future(batcher.submit(notes("busy", 1)))
        await until(fake.busy.is_set)
        gone = asyncio.ensure_future(batcher.submit(notes("gone", 3)))
        kept = asyncio.ensure_future(batcher.submit(notes("kept", 2)))
        await until(lambda: batcher.depth == 5)
        gone.cancel()
        gate.set()
        await asyncio.gather(running, kept)
        with pytest.raises(asyncio.CancelledError):
            await gone
    assert not any("gone" in t for t in fake.texts)
    assert [b for b in fake.batches if b != ["busy-0"]] == [["kept-0", "kept-1"]]
    assert batcher.dropped == 3


async def test_a_client_that_leaves_while_its_batch_fills_is_dropped() -> None:
    fake = FakeClassifier()
    async with started(fake, max_wait_s=0.3) as (batcher, _):
        gone = asyncio.ensure_future(batcher.submit(notes("gone", 1)))
        await asyncio.sleep(0)  # let it queue its note
        await until(lambda: batcher.depth == 0)  # taken: it opens the next batch and waits for company
        gone.cancel()
        assert [p.id for p in await batcher.submit(notes("kept", 1))] == ["kept-0"]
    assert fake.batches == [["kept-0"]]
    assert batcher.dropped == 1


async def test_predict_failure_reaches_every_waiter_and_the_worker_survives() -> None:
    fake = FakeClassifier(fail=True)
    async with started(fake) as (batcher, _):
        results = await asyncio.gather(*(batcher.submit(notes(f"r{i}", 2)) for i in range(3)), return_exceptions=True)
        assert all(isinstance(r, PredictionFailed) for r in results)
        fake.fail = False
        assert [p.id for p in await batcher.submit(notes("after", 1))] == ["after-0"]


async def test_a_note_that_breaks_its_batch_fails_alone_and_the_others_are_answered() -> None:
    calls: list[list[str | None]] = []

    def fragile(batch: list[Note]) -> list[Any]:
        calls.append([n.id for n in batch])
        if any("POISON" in n.text for n in batch):
            raise ValueError("tokenizer cannot encode this text")
        return FakeClassifier().predict(batch)

    batcher = Batcher(fragile, config(max_wait_s=0.05))
    await batcher.start()
    good = [Note(text=f"fine {i}", id=f"g{i}") for i in range(3)]
    bad = Note(text="POISON", id="bad")
    results = await asyncio.gather(
        batcher.submit(good[:1]), batcher.submit([bad]), batcher.submit(good[1:]), return_exceptions=True
    )
    await batcher.stop()
    assert [p.id for p in results[0]] == ["g0"] and [p.id for p in results[2]] == ["g1", "g2"]
    assert isinstance(results[1], PredictionFailed) and "this note" in str(results[1])
    assert len(calls[0]) == 4 and sorted(calls[1:]) == [["bad"], ["g0"], ["g1"], ["g2"]]  # one batch, then alone


async def test_wrong_length_from_predict_is_a_failure() -> None:
    def short(batch: list[Note]) -> list[Any]:
        return []

    batcher = Batcher(short, config())
    await batcher.start()
    with pytest.raises(PredictionFailed, match="0 results for 2 notes"):
        await batcher.submit(notes("n", 2))
    await batcher.stop()


async def test_stop_fails_queued_work_and_refuses_new() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    batcher = Batcher(fake.predict, config())
    with pytest.raises(BatcherClosed):
        await batcher.submit(notes("early", 1))  # not started
    await batcher.start()
    running = asyncio.ensure_future(batcher.submit(notes("busy", 1)))
    await until(fake.busy.is_set)
    waiting = asyncio.ensure_future(batcher.submit(notes("waiting", 2)))
    await until(lambda: batcher.depth == 2)
    await batcher.stop()
    gate.set()
    with pytest.raises(BatcherClosed):
        await waiting
    running.cancel()
    with pytest.raises(BatcherClosed):
        await batcher.submit(notes("late", 1))


def test_estimate_tokens() -> None:
    assert estimate_tokens(Note(text="今天去了咖啡店"), cap=256) == 2 + 7
    assert estimate_tokens(Note(text="a" * 40), cap=256) == 2 + 10
    assert estimate_tokens(Note(text="a" * 40, title="标题"), cap=256) == 2 + 2 + 11  # title + newline
    assert estimate_tokens(Note(text="字" * 20_000), cap=256) == 256


async def test_the_idle_hook_runs_once_per_idle_spell_in_the_worker_thread_and_never_before_work() -> None:
    fake = FakeClassifier()
    threads: list[str] = []
    batcher = Batcher(
        fake.predict, config(idle_s=0.01), on_idle=lambda: threads.append(threading.current_thread().name)
    )
    await batcher.start()
    try:
        await asyncio.sleep(0.05)
        assert batcher.idle_calls == 0  # nothing ran yet: nothing to give back
        await batcher.submit(notes("a", 3))
        await until(lambda: batcher.idle_calls == 1)
        await asyncio.sleep(0.05)
        assert batcher.idle_calls == 1  # once per idle spell, not on every timeout
        await batcher.submit(notes("b", 1))
        await until(lambda: batcher.idle_calls == 2)
    finally:
        await batcher.stop()
    assert len(threads) == 2 and all(name.startswith("notecheck-predict") for name in threads)


async def test_the_idle_hook_waits_while_work_is_queued() -> None:
    gate = threading.Event()
    fake = FakeClassifier(gate=gate)
    calls: list[int] = []
    batcher = Batcher(fake.predict, config(idle_s=0.0, max_wait_s=0.0), on_idle=lambda: calls.append(len(fake.batches)))
    await batcher.start()
    try:
        first = asyncio.create_task(batcher.submit(notes("a", 1)))
        await until(fake.busy.is_set)
        second = asyncio.create_task(batcher.submit(notes("b", 1)))  # queued behind the running batch
        await until(lambda: batcher.depth == 1)
        gate.set()
        await asyncio.gather(first, second)
        await until(lambda: batcher.idle_calls == 1)
    finally:
        await batcher.stop()
    assert calls == [2]  # only after both batches: never between them while the second waited


async def test_a_failing_idle_hook_is_logged_and_serving_goes_on() -> None:
    fake = FakeClassifier()

    def broken() -> None:
        raise OSError("no heap to trim")

    batcher = Batcher(fake.predict, config(idle_s=0.0), on_idle=broken)
    await batcher.start()
    try:
        await batcher.submit(notes("a", 1))
        await until(lambda: batcher.idle_calls == 1)
        assert [p.id for p in await batcher.submit(notes("b", 2))] == ["b-0", "b-1"]
    finally:
        await batcher.stop()
