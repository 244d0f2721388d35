"""Keeping a long-running server's memory bounded: the C allocator's settings and giving freed pages back.

A server that scores notes of every length sees a new batch shape at almost every batch. glibc's malloc
serves each shape's tensors from its heaps and keeps what is freed for reuse; with shapes that never repeat
exactly, the free space fragments and the resident size creeps up for hours (benchmarks/soak.py measures
it). Three things keep it bounded:

- fewer arenas (`mallopt(M_ARENA_MAX)`): each thread that allocates may otherwise get a heap of its own,
  each fragmenting on its own. It must be set before torch starts its threads: `notecheck serve` calls
  `configure_allocator` first thing;
- a bounded cache of oneDNN kernels (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`): every new shape compiles and caches
  one, with its buffers; read by oneDNN once, so it is set in the environment before torch loads;
- `trim_heap()` (`malloc_trim(0)`) once the batcher's queue goes idle: freed pages go back to the system.

Everything here is a no-op where the C library is not glibc (macOS, musl): the server runs as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter number (glibc's malloc.h)
#: environment defaults set before torch loads; a value already in the environment wins
ALLOCATOR_ENV = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "256"}


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has `malloc_trim` and `mallopt`), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def trim_heap() -> bool:
    """Give free heap pages back to the system (`malloc_trim(0)`); True when something was released.

    Costs a walk over the heap (about a millisecond): call it when there is no work waiting, not per batch.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def configure_allocator(arena_max: int, environ: MutableMapping[str, str] | None = None) -> bool:
    """Limit malloc to `arena_max` arenas (0: glibc's default, 8 per core) and set `ALLOCATOR_ENV` defaults in
    `environ` (default `os.environ`). Call before torch is imported. True when the arena limit was applied."""
    env = os.environ if environ is None else environ
    for key, value in ALLOCATOR_ENV.items():
        env.setdefault(key, value)
    libc = _glibc()
    if arena_max <= 0 or libc is None:
        return False
    env.setdefault("MALLOC_ARENA_MAX", str(arena_max))  # worker processes (`--workers N`) read it at start
    applied = bool(libc.mallopt(M_ARENA_MAX, arena_max))
    log.debug("malloc arenas limited to %d: %s", arena_max, applied)
    return applied
