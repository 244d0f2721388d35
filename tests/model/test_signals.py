"""Rule signals: what each kind finds and misses, and that every span indexes the original note."""

from __future__ import annotations

import time

import pytest

from notecheck.model.disclosure import rate
from notecheck.model.schema import Note
from notecheck.model.signals import SIGNAL_KINDS, Signal, find_signals


def found(text: str, title: str = "") -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_signals(Note(text=text, title=title))]


def assert_spans(note: Note, signals: list[Signal]) -> None:
    for s in signals:
        assert getattr(note, s.field)[s.start : s.end] == s.text, s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("私信我拿优惠码，评论区扣1", [("funnel", "私信我拿"), ("funnel", "优惠码"), ("funnel", "评论区扣1")]),
        ("戳主页看链接，淘宝搜同款", [("funnel", "戳主页"), ("funnel", "淘宝搜")]),
        ("主页有链接哦，需要的找我代购", [("funnel", "主页有链接"), ("funnel", "代购")]),
        ("Use my code ANNA15 for 20% off", [("funnel", "Use my code ANNA15"), ("price", "20% off")]),
        ("link in bio! DM me 💌", [("funnel", "link in bio"), ("funnel", "DM me")]),
        ("search it on Taobao, it's cheap", [("funnel", "search it on Taobao")]),
        ("详情见 https://xhslink.com/a1B2 这里", [("funnel", "https://xhslink.com/a1B2")]),
        ("用优惠码：ANNA15下单", [("funnel", "优惠码：ANNA15")]),
        ("原价399现在199元", [("price", "原价399"), ("price", "199元")]),
        ("才199块，还打五折", [("price", "199块"), ("price", "五折")]),
        ("¥199 or $29.99, 29 dollars", [("price", "¥199"), ("price", "$29.99"), ("price", "29 dollars")]),
        ("全场5折", [("price", "5折")]),
        ("新款X200和SK-II神仙水", [("product", "X200"), ("product", "SK-II")]),
        ("the Air 3 vs iPhone 15", [("product", "Air 3"), ("product", "iPhone 15")]),
        ("数量不多冲！赶紧", [("call_to_action", "数量不多"), ("call_to_action", "冲！"), ("call_to_action", "赶紧")]),
        ("限时快去买", [("call_to_action", "限时"), ("call_to_action", "快去买")]),
        (
            "Grab it, don't miss out, limited time",
            [("call_to_action", "Grab it"), ("call_to_action", "don't miss out"), ("call_to_action", "limited time")],
        ),  # noqa: E501
    ],
)
def test_finds_each_kind(text: str, expected: list[tuple[str, str]]) -> None:
    got = found(text)
    for item in expected:
        assert item in got, (item, got)
    assert_spans(Note(text=text), find_signals(Note(text=text)))


@pytest.mark.parametrize(
    "text",
    [
        "早上冲咖啡，晚上冲澡",  # 冲 as brew / shower
        "骨折了，折腾了一天",  # 折 without a number
        "Day 3 of my trip, week 2 coming",  # a capital word and a spaced number is not a model
        "We did a code review at work",
        "今天去了新开的咖啡店，拿铁一般，环境不错。",
    ],
)
def test_ordinary_words_are_not_signals(text: str) -> None:
    assert found(text) == []


def test_code_is_a_funnel_not_a_product() -> None:
    kinds = found("use code ANNA15 now")
    assert ("funnel", "use code ANNA15") in kinds
    assert all(kind != "product" for kind, _ in kinds)


def test_disclosure_markers_come_from_rate_with_the_rating() -> None:
    note = Note(text="超好用！#广告 感谢@小雅护肤", title="【品牌合作】秋冬面霜")
    disclosure = rate(note.text, note.title)
    got = [s for s in find_signals(note) if s.kind == "disclosure"]
    assert [(s.field, s.start, s.end, s.text) for s in got] == [
        (m.field, m.start, m.end, m.text) for m in disclosure.markers
    ]
    assert got[0].field == "title" and "disclosure clear" in got[0].detail and got[0].detail.startswith("strong")
    assert any(s.detail.startswith("weak") for s in got)


def test_spans_index_the_original_title_and_text_with_emoji_and_mixed_scripts() -> None:
    note = Note(
        title="👩‍👩‍👧 油皮救星 X200！！",
        text="用了21天😭👍🏻 原价399现在活动价199，link in bio👇 code ANNA15，私信我，冲鸭！",
    )
    signals = find_signals(note)
    assert_spans(note, signals)
    assert {s.field for s in signals} == {"title", "text"}
    assert signals[0].field == "title"  # title first, then by position
    text_starts = [s.start for s in signals if s.field == "text"]
    assert text_starts == sorted(text_starts)
    assert {s.kind for s in signals} == set(SIGNAL_KINDS) - {"disclosure", "giveaway"}


def test_to_dict_round_trips() -> None:
    (s,) = find_signals(Note(text="代购"))
    assert s.to_dict() == {
        "kind": "funnel",
        "start": 0,
        "end": 2,
        "text": "代购",
        "field": "text",
        "detail": "reseller",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加vx: abc123 拿货", [("funnel", "private channel", "加vx")]),
        ("橱窗有同款，点头像进", [("funnel", "storefront", "橱窗有"), ("funnel", "storefront", "点头像")]),
        ("everything is on my LTK", [("funnel", "storefront", "LTK")]),
        (
            "Use my referral code JEN20",
            [("funnel", "referral", "referral code"), ("funnel", "discount code", "code JEN20")],
        ),
        ("今晚8点开团，接龙报名", [("funnel", "group buy", "开团"), ("funnel", "group buy", "接龙")]),
        ("Comment GLOW below and I'll send it", [("funnel", "comment to get", "Comment GLOW below and")]),
        ("转发抽3个宝子送同款", [("giveaway", "giveaway", "转发抽")]),
        (
            "GIVEAWAY time! enter to win a kettle",
            [("giveaway", "giveaway", "GIVEAWAY"), ("giveaway", "giveaway", "enter to win")],
        ),
        ("微信支付很方便，威海的海鲜很好吃", []),
        # ordinary words that look like funnels or giveaways
        ("Leave a comment below and tell me, comment below if you agree", []),
        ("waited an hour to enter the museum, hope Arsenal win this weekend", []),
        ("the bakery's storefront was so cute，商场橱窗里的圣诞树", []),
        ("麻辣烫加微辣，再加威化饼干", []),
        ("美团团购套餐，成团夜，团长带我们爬山，玩成语接龙", []),
        ("年会抽奖抽中了一个保温杯", []),
    ],
)
def test_new_funnels_and_giveaways(text: str, expected: list[tuple[str, str, str]]) -> None:
    note = Note(text=text)
    got = find_signals(note)
    assert_spans(note, got)
    assert [(s.kind, s.detail, s.text) for s in got] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("价格： ¥ 399，12,345元，1.5.5元", [("price", "价格： ¥ 399"), ("price", "12,345元"), ("price", "5.5元")]),
        ("price   29 today", [("price", "price   29")]),
    ],
)
def test_prices_are_matched_from_a_numbers_first_digit(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", ["0" * 20_000, "price" + " " * 20_000 + "x", "原价" + " " * 20_000])
def test_a_long_run_of_digits_or_spaces_takes_linear_time(text: str) -> None:
    """A note at the API's length limit once took 30 s here (a price rule retried from every digit)."""
    started = time.perf_counter()
    find_signals(Note(text=text))
    assert time.perf_counter() - started < 2.0
