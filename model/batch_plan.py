"""How a set of notes is cut into model batches: the fewest padded tokens, counting each batch's own cost.

A batch costs about one token's work per padded token, plus a fixed cost per forward pass (kernel launches,
the framework's per-layer bookkeeping, small matrices that use the cores less well). Sorting notes by
length and cutting every `batch_size` notes (`scorer.length_batches`) is close to optimal for thousands
of notes, but a server batch of a few dozen notes spans every length: cut by count, its short notes are
padded to its long ones. `plan_batches` picks the cuts of the sorted notes that minimise padded tokens
plus `overhead_tokens` per batch, exactly (dynamic programming over the sorted lengths, O(n * batch_size)).
"""

from __future__ import annotations

from collections.abc import Sequence

#: The fixed cost of one forward pass, in tokens' worth of work: measured on a 2-core CPU for e5-small
#: (OpenVINO bf16 and torch bf16 alike: 50 to 80 tokens), see benchmarks/inference_profile.py.
OVERHEAD_TOKENS = 64


def plan_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int, overhead_tokens: int = OVERHEAD_TOKENS
) -> list[list[int]]:
    """Index lists, longest notes first, each batch at most `batch_size` notes and `max_tokens` padded
    tokens (a note longer than the budget runs alone), minimising padded tokens + `overhead_tokens` per batch.

    >>> plan_batches([5, 50, 6, 49], batch_size=8, max_tokens=1000)  # one batch would pad 5 and 6 to 50
    [[1, 3], [2, 0]]
    >>> plan_batches([50, 49, 48], batch_size=8, max_tokens=1000)
    [[0, 1, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    widths = [lengths[i] for i in order]
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest plan for the first j sorted notes
    cut = [0] * (n + 1)  # cut[j]: where the last batch of that plan starts
    for j in range(1, n + 1):
        for i in range(j - 1, max(0, j - batch_size) - 1, -1):
            size = j - i
            if size > 1 and size * widths[i] > max_tokens:
                break  # a longer batch starting earlier is wider still
            cost = best[i] + size * widths[i] + overhead_tokens
            if cost < best[j]:
                best[j], cut[j] = cost, i
    batches: list[list[int]] = []
    j = n
    while j > 0:
        batches.append(order[cut[j] : j])
        j = cut[j]
    return batches[::-1]
