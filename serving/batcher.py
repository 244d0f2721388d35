"""A dynamic batcher between HTTP and the model (after infinity and text-embeddings-inference).

Each note is one queue item with its own future (its reply channel). One worker task takes items until the
batch holds `max_notes` notes or `max_tokens` estimated tokens, or `max_wait_s` has passed since the first
was queued, then runs `predict(notes)` in a single worker thread, so the event loop keeps accepting requests while the
model works, and hands each item its own `Prediction`. Requests that arrive while a batch runs wait in the
queue and form the next batch together: under load, batches grow by themselves.

The queue is bounded: a request whose notes do not all fit raises `QueueFull` (HTTP 429 with Retry-After).
A client that leaves cancels its futures; its items are dropped when reached and never scored.
Once the queue has stayed empty for `idle_s` after some work, `on_idle` runs once in the worker thread
(`notecheck serve` gives freed memory back to the system there: `serving.memory.trim_heap`).
Tokens are only *estimated* here (from character counts); tokenization happens only inside `predict`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from notecheck.model.classifier import Prediction
from notecheck.model.errors import NotecheckError
from notecheck.model.schema import Note

log = logging.getLogger(__name__)

PredictFn = Callable[[list[Note]], Sequence[Prediction]]
_WIDE = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")  # CJK: about one token each


class QueueFull(NotecheckError):
    """The queue cannot take a request's notes now; retry after `retry_after` seconds (HTTP 429)."""

    def __init__(self, depth: int, limit: int, retry_after: int) -> None:
        self.depth = depth
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"server busy: {depth} notes queued (limit {limit}); retry in {retry_after}s")


class BatcherClosed(NotecheckError):
    """The batcher is stopped (shutting down) or was never started (HTTP 503)."""


class PredictionFailed(RuntimeError):
    """`predict` raised or broke its contract for a batch (HTTP 500); the cause is chained and logged."""


@dataclass(frozen=True)
class BatcherConfig:
    """How batches are cut. Built from `Settings` (the one home of the defaults) by `from_settings`."""

    max_tokens: int  # estimated tokens per batch; a single note over budget still runs alone
    max_wait_s: float  # how long the first item of a batch waits for company; 0: take what is queued
    max_notes: int  # notes per batch
    queue_max_notes: int  # queued notes beyond which requests are refused
    token_cap: int  # a note counts at most this many tokens (the model truncates at max_length)
    coalesce: bool = True  # False: a batch is exactly one request's notes (batching off, for benchmarks)
    idle_s: float = 0.05  # how long the queue stays empty after some work before `on_idle` runs


@dataclass(frozen=True)
class BatchStats:
    """What one batch did, for metrics."""

    n_notes: int
    n_requests: int
    est_tokens: int
    seconds: float


@dataclass(eq=False)
class _Item:
    note: Note
    tokens: int
    group: int  # which request it came from
    future: asyncio.Future[Prediction]
    queued_at: float  # loop time: a batch waits at most `max_wait_s` after its first item was queued


def estimate_tokens(note: Note, cap: int) -> int:
    """A cheap token count: one per CJK character, one per four other characters, plus [CLS]/[SEP].

    Only the first `4 * cap` characters are looked at: beyond `cap` the model truncates anyway.

    >>> estimate_tokens(Note(text="今天去了咖啡店", title="hello"), cap=256)
    11
    """
    head = (note.title + "\n" + note.text if note.title else note.text)[: 4 * cap]
    wide = len(_WIDE.findall(head))
    return min(cap, 2 + wide + math.ceil((len(head) - wide) / 4))


class Batcher:
    """Coalesces notes from concurrent requests into model batches. `start()` before `submit()`.

    `observer`, if given, is called on the event loop with a `BatchStats` after every batch. `on_idle`, if
    given, runs in the worker thread (never beside a batch) once per idle spell: after `config.idle_s` with
    nothing queued, following at least one batch.
    """

    def __init__(
        self,
        predict: PredictFn,
        config: BatcherConfig,
        observer: Callable[[BatchStats], None] | None = None,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self._predict = predict
        self.config = config
        self._observer = observer
        self._on_idle = on_idle
        self._worked = False  # a batch ran since `on_idle` last did
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=config.queue_max_notes)
        self._carry: _Item | None = None  # taken from the queue but over the last batch's budget
        self._groups = itertools.count()
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._sec_per_note = 0.01  # running estimate, for Retry-After
        self.batches = 0
        self.scored = 0
        self.dropped = 0
        self.idle_calls = 0

    @property
    def depth(self) -> int:
        """Notes waiting for a batch (cancelled ones included until the worker reaches them)."""
        return self._queue.qsize() + (self._carry is not None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notecheck-predict")
        self._task = asyncio.create_task(self._run(), name="notecheck-batcher")

    async def stop(self) -> None:
        """Stop the worker; notes still queued fail with `BatcherClosed`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        pending = [self._carry] if self._carry else []
        self._carry = None
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for item in pending:
            if not item.future.done():
                item.future.set_exception(BatcherClosed("server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def submit(self, notes: Sequence[Note]) -> list[Prediction]:
        """Queue one request's notes and wait for their predictions, in order.

        All of a request's notes are queued or none are (`QueueFull`). Cancelling the caller (a client
        that left) cancels its items, which the worker then skips.
        """
        if not self.running:
            raise BatcherClosed("the model is not serving (not started or shutting down)")
        if not notes:
            return []
        if self.depth + len(notes) > self.config.queue_max_notes:
            raise QueueFull(self.depth, self.config.queue_max_notes, self.retry_after())
        loop = asyncio.get_running_loop()
        group = next(self._groups)
        now = loop.time()
        cap = self.config.token_cap
        items = [_Item(n, estimate_tokens(n, cap), group, loop.create_future(), now) for n in notes]
        for item in items:  # no await in between: the capacity check above still holds
            self._queue.put_nowait(item)
        try:
            return list(await asyncio.gather(*(item.future for item in items)))
        except Exception:
            for item in items:  # the rest of this request is no longer wanted
                item.future.cancel()
            raise

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (1 to 60), from the recent time per note."""
        return max(1, min(60, math.ceil(self.depth * self._sec_per_note)))

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            live = [item for item in batch if not item.future.cancelled()]
            self.dropped += len(batch) - len(live)
            if live:
                try:
                    await self._execute(live)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the worker must outlive any one batch
                    log.exception("batcher: unexpected error")

    async def _next(self, deadline: float) -> _Item | None:
        """The next queued item that is still wanted, or None once the loop time `deadline` has passed."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    return None
            if not item.future.cancelled():
                return item
            self.dropped += 1

    async def _first(self) -> _Item:
        """Wait as long as it takes for a wanted item: the start of the next batch. The first time the
        wait lasts `idle_s` after some work, run `on_idle`."""
        while True:
            if self._on_idle is not None and self._worked and self._queue.empty():
                try:
                    item = await asyncio.wait_for(self._queue.get(), self.config.idle_s)
                except TimeoutError:
                    await self._idle()
                    continue
            else:
                item = await self._queue.get()
            if not item.future.cancelled():
                return item
            self.dropped += 1

    async def _idle(self) -> None:
        """Run `on_idle` in the worker thread; a failure is logged, never raised."""
        self._worked = False
        if self._on_idle is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._on_idle)
        except Exception:  # noqa: BLE001 - housekeeping must never stop serving
            log.exception("batcher: idle hook failed")
        self.idle_calls += 1

    async def _collect(self) -> list[_Item]:
        """Cut the next batch: by token budget, note count and wait time (or by request, if not coalescing)."""
        first, self._carry = self._carry or await self._first(), None
        batch, tokens = [first], first.tokens
        cfg = self.config
        # Measured from when the first item was queued: under load it has waited through the previous
        # batch already, so the backlog goes at once; when idle, a lone note waits `max_wait_s` for company.
        deadline = first.queued_at + cfg.max_wait_s
        while cfg.coalesce and len(batch) < cfg.max_notes:
            item = await self._next(deadline)
            if item is None:
                break
            if tokens + item.tokens > cfg.max_tokens:
                self._carry = item
                break
            batch.append(item)
            tokens += item.tokens
        while not cfg.coalesce:  # the rest of the first item's request, already queued together
            item = await self._next(deadline=0)
            if item is None:
                break
            if item.group != first.group:
                self._carry = item
                break
            batch.append(item)
        return batch

    async def _one_by_one(self, items: list[_Item]) -> None:
        """Predict each note of a failed batch alone: the notes that fail again get `PredictionFailed`."""
        loop = asyncio.get_running_loop()
        for item in items:
            if item.future.done():  # its client left
                continue
            try:
                (prediction,) = await loop.run_in_executor(self._executor, self._predict, [item.note])
            except Exception:  # noqa: BLE001
                log.exception("batcher: predict failed for note %r alone", item.note.id)
                if not item.future.done():  # its request may have failed already on another note
                    item.future.set_exception(PredictionFailed("prediction failed for this note"))
                continue
            if not item.future.done():
                item.future.set_result(prediction)
            self.scored += 1

    async def _execute(self, items: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        self._worked = True
        notes = [item.note for item in items]
        started = time.perf_counter()
        try:
            predictions = await loop.run_in_executor(self._executor, self._predict, notes)
            if len(predictions) != len(items):
                raise PredictionFailed(f"predict returned {len(predictions)} results for {len(items)} notes")
        except Exception as exc:  # noqa: BLE001 - every waiting client must hear about it
            log.exception("batcher: predict failed for a batch of %d notes", len(items))
            if len(items) > 1 and not isinstance(exc, PredictionFailed):
                # one bad note must not fail everyone coalesced with it: retry alone, only the guilty fail
                await self._one_by_one(items)
                return
            reason = str(exc) if isinstance(exc, PredictionFailed) else "prediction failed"
            for item in items:
                if not item.future.done():
                    item.future.set_exception(PredictionFailed(reason))
            return
        seconds = time.perf_counter() - started
        for item, prediction in zip(items, predictions, strict=True):
            if not item.future.done():  # its client may have left while the batch ran
                item.future.set_result(prediction)
        self.batches += 1
        self.scored += len(items)
        self._sec_per_note = 0.8 * self._sec_per_note + 0.2 * seconds / len(items)
        if self._observer is not None:
            stats = BatchStats(len(items), len({i.group for i in items}), sum(i.tokens for i in items), seconds)
            try:
                self._observer(stats)
            except Exception:  # noqa: BLE001 - metrics must never break serving
                log.exception("batcher: observer failed")
