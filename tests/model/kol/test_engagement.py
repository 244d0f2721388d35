"""Engagement authenticity signals: comment normalisation, duplicate comments, reference thresholds."""

from __future__ import annotations

import math

import pytest

from notecheck.model.errors import ConfigError
from notecheck.model.kol.comments import char_ngrams, duplicate_flags, duplicate_share, jaccard, normalise_comment
from notecheck.model.kol.engagement import (
    ALL_METRICS,
    DUPLICATE_METRIC,
    FIXED_DEFAULTS,
    METRICS,
    ReferenceDistribution,
    author_medians,
    engagement_signals,
)
from notecheck.model.schema import Note

FARM = [
    "好用！已入手",
    "求链接",
    "姐妹冲！！",
    "好用！已入手👍",
    "求链接!!!",
    "Love this!! 😍",
    "love this",
    "Need this!!",
    "Need this!! 🔥",
    "姐妹冲！！！",
]
NATURAL = [
    "The den day is always the winner in our house too",
    "Didn't know the library did craft sessions, which branch?",
    "£7.60 chippy tea for 3?? where is this I need to know",
    "Saving this for February half term x",
    "这家店我也去过，排队太久了",
    "求问是哪个分店？",
    "我家猫也是这样，一到晚上就疯",
    "Heat + gels only killed my stomach too. Try boiled potatoes with salt!",
]


def note(i: int, author: str = "a1", **metadata: object) -> Note:
    return Note(text=f"note {i}", id=f"{author}-{i}", author_id=author, metadata=dict(metadata))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Need this!! 🔥", "needthis"),
        ("  LOVE   this 😍😍 ", "lovethis"),
        ("好用！已入手👍", "好用已入手"),
        ("Ｗｈｅｒｅ　ｃａｎ　Ｉ　ｂｕｙ？？", "wherecanibuy"),  # full-width folded by NFKC
        ("😍😍🔥", ""),
        ("¥199 买的", "199买的"),
    ],
)
def test_normalise_strips_emoji_punctuation_and_whitespace_and_lowercases(raw: str, expected: str) -> None:
    assert normalise_comment(raw) == expected


def test_char_ngrams_and_jaccard() -> None:
    assert char_ngrams("abcd") == {"abc", "bcd"}
    assert char_ngrams("ab") == {"ab"}  # shorter than 3: one gram, so short comments can still match
    assert jaccard(char_ngrams("abcd"), char_ngrams("abcd")) == 1.0
    assert jaccard(char_ngrams("abcd"), char_ngrams("wxyz")) == 0.0


def test_near_duplicates_are_decided_by_the_jaccard_threshold() -> None:
    base = "abcdefghij"  # 8 trigrams
    assert jaccard(char_ngrams(base), char_ngrams(base + "k")) == pytest.approx(8 / 9)  # >= 0.8
    assert jaccard(char_ngrams(base), char_ngrams("abcdefghik")) == pytest.approx(7 / 9)  # < 0.8
    assert duplicate_flags([base, base + "k"]) == [True, True]
    assert duplicate_flags([base, "abcdefghik"]) == [False, False]
    assert duplicate_flags([base, "abcdefghik"], threshold=0.75) == [True, True]


def test_identical_after_normalisation_counts_even_for_short_and_emoji_only_comments() -> None:
    assert duplicate_flags(["求链接", "求链接!!!", "Wow", "😍", "🔥🔥"]) == [True, True, False, True, True]


def test_a_comment_farm_has_a_high_duplicate_share_and_natural_comments_none() -> None:
    farm = duplicate_share(FARM)
    natural = duplicate_share(NATURAL)
    assert farm == 1.0  # every farm line has a copy with an extra emoji or "!!"
    assert natural == 0.0
    mixed = duplicate_share(NATURAL + FARM[:2] + ["好用！已入手!!"])
    assert mixed == pytest.approx(2 / 11)  # only the two copies of 好用已入手; 求链接 appears once
    assert duplicate_share([]) is None


def test_duplicates_are_found_across_notes_of_an_author() -> None:
    notes = [note(1, comment_texts=["Need this!!", "Nice hike"]), note(2, comment_texts=["need this 🔥"])]
    medians = author_medians(notes, followers=None)
    assert medians["duplicate_comment_share"] == pytest.approx(2 / 3)


def test_medians_skip_notes_missing_a_field_or_with_a_zero_denominator() -> None:
    notes = [
        note(1, exposure=1000, likes=50, collects=40, comments=5),
        note(2, exposure=2000, likes=60, collects=30, comments=6),
        note(3, exposure=0, likes=0, collects=0, comments=0),  # nothing measurable but collects per follower
        note(4, likes=10),  # no exposure
    ]
    m = author_medians(notes, followers=500)
    assert m["likes_per_exposure"] == pytest.approx((0.05 + 0.03) / 2)
    assert m["collects_per_like"] == pytest.approx((0.8 + 0.5) / 2)
    assert m["likes_per_follower"] == pytest.approx(0.06)  # median of 0.1, 0.12, 0 and 0.02
    assert m["collects_per_follower"] == pytest.approx(0.06)  # note 4 has no collects
    assert author_medians(notes, followers=None)["likes_per_follower"] is None


def population(n_normal: int = 10, n_bought: int = 3) -> list[Note]:
    """Normal authors with like rates 3-7% of views; bought ones at 50%, few collects, many comments."""
    notes = []
    for a in range(n_normal):
        rate = 0.03 + 0.04 * a / max(n_normal - 1, 1)
        for i in range(4):
            exposure = 1000 + 100 * i
            likes = round(exposure * rate)
            natural = [NATURAL[(a + i) % len(NATURAL)]]  # four different comments per author
            notes.append(
                note(
                    i,
                    f"n{a}",
                    exposure=exposure,
                    likes=likes,
                    collects=likes,
                    comments=likes // 10,
                    comment_texts=natural,
                )
            )
    for a in range(n_bought):
        for i in range(4):
            notes.append(note(i, f"b{a}", exposure=1000, likes=500, collects=20, comments=300, comment_texts=FARM[:4]))
    return notes


def test_reference_fences_are_log_scale_iqr_fences_of_authors_medians() -> None:
    ref = ReferenceDistribution.from_notes(population(), source="test population")
    assert ref.n_authors == 13
    q = ref.quantiles["likes_per_exposure"]
    metric = next(m for m in METRICS if m.name == "likes_per_exposure")
    low, high, how = ref.thresholds(metric)  # type: ignore[misc]
    assert high == pytest.approx(q.p75 * (q.p75 / q.p25) ** 3)
    assert low == pytest.approx(q.p25 / (q.p75 / q.p25) ** 3)
    assert how == "Q3 x (Q3/Q1)^3 of 13 authors' medians in test population"
    assert 0.07 < high < 0.5  # above every normal author, below the bought ones


def test_percentile_method_uses_the_99th_percentile() -> None:
    ref = ReferenceDistribution.from_notes(population(), method="percentile")
    metric = next(m for m in METRICS if m.name == "likes_per_exposure")
    low, high, how = ref.thresholds(metric)  # type: ignore[misc]
    assert high == ref.quantiles["likes_per_exposure"].p99
    assert how.startswith("99th percentile")
    with pytest.raises(ConfigError, match="method"):
        ReferenceDistribution.from_notes(population(), method="mean")  # type: ignore[arg-type]


def test_the_duplicate_share_fence_never_drops_below_its_floor() -> None:
    ref = ReferenceDistribution.from_notes(population())
    low, high, how = ref.thresholds(DUPLICATE_METRIC)  # type: ignore[misc]
    assert ref.quantiles["duplicate_comment_share"].p75 == 0.0  # most authors have no comments copied
    assert high == 0.5 and "fixed floor" in how


def test_too_few_authors_give_no_reference() -> None:
    with pytest.raises(ConfigError, match="3 authors"):
        ReferenceDistribution.from_notes(population(n_normal=2, n_bought=1))


def test_bought_engagement_is_flagged_and_a_normal_author_is_not() -> None:
    notes = population()
    ref = ReferenceDistribution.from_notes(notes)
    bought = engagement_signals([n for n in notes if n.author_id == "b0"], 2000, ref)
    normal = engagement_signals([n for n in notes if n.author_id == "n5"], 2000, ref)
    flagged = {s.name for s in bought if s.flagged}
    assert {"likes_per_exposure", "comments_per_exposure", "collects_per_like", "comments_per_like"} <= flagged
    assert "duplicate_comment_share" in flagged
    assert not [s.name for s in normal if s.flagged]
    assert [s.name for s in bought] == [m.name for m in ALL_METRICS]
    low_side = next(s for s in bought if s.name == "collects_per_like")
    assert low_side.value == pytest.approx(0.04) and low_side.value < low_side.low  # type: ignore[operator]
    assert "below" in low_side.detail


def test_without_a_reference_the_fixed_defaults_are_used_and_named() -> None:
    signals = engagement_signals([n for n in population() if n.author_id == "b0"], None, None)
    by_name = {s.name: s for s in signals}
    assert by_name["likes_per_exposure"].high == FIXED_DEFAULTS["likes_per_exposure"][1] == 0.15
    assert by_name["likes_per_exposure"].flagged
    assert all(s.threshold_source == "fixed default (no reference distribution)" for s in signals)
    follower = by_name["likes_per_follower"]
    assert follower.value is None and not follower.flagged and follower.detail == "not measured: followers unknown"
    assert follower.status == "not_measured" and follower.to_dict()["status"] == "not_measured"  # never "ok"
    assert by_name["likes_per_exposure"].status == "flagged"


def test_signal_dicts_are_rounded_and_name_one_side() -> None:
    signal = engagement_signals([n for n in population() if n.author_id == "b0"], None, None)[0]
    d = signal.to_dict()
    assert d["threshold_low"] is None and d["threshold_high"] == 0.15
    assert d["value"] == 0.5 and not math.isnan(d["value"])
