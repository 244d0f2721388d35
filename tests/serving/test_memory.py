"""The allocator set-up of `notecheck serve` and the heap trim the batcher runs when idle (a fake libc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notecheck.serving import memory


class FakeLibc:
    def __init__(self, released: int = 1) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.released = released

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", (pad,)))
        return self.released

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", (param, value)))
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: fake)
    return fake


def test_trim_heap_calls_malloc_trim_zero(libc: FakeLibc) -> None:
    assert memory.trim_heap() is True
    assert libc.calls == [("malloc_trim", (0,))]
    libc.released = 0
    assert memory.trim_heap() is False


def test_without_glibc_nothing_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    env: dict[str, str] = {}
    assert memory.trim_heap() is False
    assert memory.configure_allocator(2, env) is False
    assert "MALLOC_ARENA_MAX" not in env


def test_configure_allocator_limits_arenas_and_keeps_what_the_deployer_set(libc: FakeLibc) -> None:
    env = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"}
    assert memory.configure_allocator(2, env) is True
    assert libc.calls == [("mallopt", (memory.M_ARENA_MAX, 2))]
    assert env == {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64", "MALLOC_ARENA_MAX": "2"}  # inherited by workers
    fresh: dict[str, str] = {}
    assert memory.configure_allocator(0, fresh) is False  # 0: glibc's own arena count
    assert fresh == memory.ALLOCATOR_ENV and len(libc.calls) == 1


def test_the_real_libc_is_found_or_cleanly_absent() -> None:
    memory._glibc.cache_clear()
    found = memory._glibc()
    assert found is None or callable(found.malloc_trim)
    assert isinstance(memory.trim_heap(), bool)


def test_the_served_model_pads_batches_to_the_configured_multiple(tiny_model_dir: Path) -> None:
    from notecheck.serving.model_state import batcher_config, default_loader
    from notecheck.serving.settings import Settings

    settings = Settings(model_dir=tiny_model_dir, pad_multiple=32, malloc_trim_idle_ms=250)
    assert default_loader(settings).scorer.pad_multiple == 32  # type: ignore[attr-defined]
    assert batcher_config(settings, max_length=64).idle_s == 0.25
    assert Settings().pad_multiple > 1 and Settings().malloc_trim  # on unless a deployer turns them off
