"""Batch plans: every note once, within the limits, and never more padded tokens + overhead than cutting by count."""

from __future__ import annotations

import random

import pytest

from notecheck.model.batch_plan import plan_batches
from notecheck.model.scorer import length_batches


def cost(lengths: list[int], batches: list[list[int]], overhead: int) -> int:
    return sum(max(lengths[i] for i in b) * len(b) + overhead for b in batches)


@pytest.mark.parametrize("seed", range(5))
def test_a_plan_covers_every_note_within_the_limits_and_costs_no_more_than_cutting_by_count(seed: int) -> None:
    rng = random.Random(seed)
    lengths = [rng.choice([rng.randint(3, 40), rng.randint(100, 256)]) for _ in range(rng.randint(1, 150))]
    plan = plan_batches(lengths, batch_size=16, max_tokens=1024, overhead_tokens=64)
    assert sorted(i for b in plan for i in b) == list(range(len(lengths)))
    for batch in plan:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= 16 and (len(batch) == 1 or len(batch) * width <= 1024)
        assert lengths[batch[0]] == width  # longest first, as `collate` and the batch order expect
    greedy = list(length_batches(lengths, batch_size=16, max_tokens=1024))
    assert cost(lengths, plan, 64) <= cost(lengths, greedy, 64)


def test_mixed_lengths_are_split_where_padding_costs_more_than_a_pass() -> None:
    lengths = [256] * 4 + [20] * 4
    assert sorted(map(sorted, plan_batches(lengths, 32, 8192, overhead_tokens=64))) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # a pass costing more than the padding it saves: one batch
    assert len(plan_batches(lengths, 32, 8192, overhead_tokens=10_000)) == 1
    # a note over the token budget runs alone; no notes, no batches
    assert plan_batches([300, 5], 8, 100) == [[0], [1]]
    assert plan_batches([], 8, 100) == []
