"""The offline benchmark's core runs end to end on the tiny model: figures for both contenders.

Not a timing test: it checks that both contenders score every note, alternately, with positive rates,
and that they agree on the labels (same model, same fp32 weights, same text, same truncation), so the
comparison is between equals.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` is scripts beside the package, not installed
    sys.path.insert(0, str(ROOT))


@pytest.mark.filterwarnings("ignore")
def test_offline_benchmark_quick_run_gives_positive_figures_for_both_contenders(tiny_model_dir: Path) -> None:
    from benchmarks.offline_throughput import OfflineConfig, compare

    config = OfflineConfig(tiny_model_dir, notes=40, rounds=2, threads=1, runtime="fp32", isolate=False)
    result = compare(config)

    assert result["order"] == ["notecheck-fp32", "pipeline-fp32-bs32"] * 2
    for side in ("notecheck", "pipeline"):
        summary = result[side]
        assert summary["rounds"] == 2
        assert summary["notes_per_s"] > 0
        assert summary["notes_per_cpu_s"] > 0
        assert summary["peak_rss_mb"] > 0
        assert all(r["notes"] == 40 for r in result["rounds"][side])
    assert result["ratio"] > 0 and result["paired_ratio"] > 0 and result["paired_cpu_ratio"] > 0
    assert result["notes"] == {"count": 40, "distinct": 40, "source": "data/notes/*.jsonl"}
    assert result["notecheck"]["commercial"] == result["pipeline"]["commercial"]
