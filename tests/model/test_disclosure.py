"""Disclosure markers, ratings and masking (model/disclosure.py), against the guideline's rules 3-5."""

from __future__ import annotations

import json

import pytest

from notecheck.model.disclosure import Disclosure, Marker, find_markers, mask, rate

S, W = "strong", "weak"

# (text, [(marker text, strength), ...]) in order of appearance.
MARKER_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # strong, Chinese
    ("#广告 这支口红真的绝了", [("#广告", S)]),
    ("这支口红真的绝了，广告，但是真心推荐", [("广告", S)]),
    ("本篇为合作，真心推荐这款面霜", [("本篇为合作", S)]),
    ("品牌合作｜秋冬面霜测评", [("品牌合作", S)]),
    ("#合作 新品试色", [("#合作", S)]),
    ("这次很开心和兰蔻合作！", [("和兰蔻合作", S)]),
    ("本期视频由知课赞助，用了一个月", [("本期视频由知课赞助", S)]),
    ("最后感谢小米的赞助～", [("感谢小米的赞助", S)]),
    ("通过蒲公英接的单，实话实说", [("通过蒲公英", S)]),
    ("#蒲公英 秋冬好物", [("#蒲公英", S)]),
    ("品牌方寄来的面霜，用了两周", [("品牌方寄来", S)]),
    ("【广告】新品上市", [("【广告】", S)]),
    ("本次入住由「海湾」酒店赞助，交通自费", [("本次入住由「海湾」酒店赞助", S)]),
    ("这一批是品牌赞助的，孩子大人都能用", [("品牌赞助", S)]),
    ("这次接了衣安品牌的合作，用的是电泵款", [("接了衣安品牌的合作", S)]),
    # wordings met while writing dataset v2
    ("今次同燕语轩合作咗，燕窝系佢哋送嘅", [("同燕语轩合作", S)]),
    ("利益相关：我在这家公司上班，但这款真的好用", [("利益相关", S)]),
    ("MUJI 无印良品的 PR package 到了", [("PR package", S)]),
    ("#合作 找实习找了一个月，这个简历模板救了我", [("#合作", S)]),
    ("theyre sponsoring this post but the bag is genuinely good", [("theyre sponsoring this", S)]),
    ("brand deal with Glowy, they paid for this post", [("they paid for this post", S)]),
    ("团长有佣金，每袋我拿3块", [("有佣金", W)]),
    ("link in my bio, i get a tiny cut", [("i get a tiny cut", W)]),
    ("Hanif's paid me twenty quid to put this up", [("paid me twenty quid to put", S)]),
    ("This one reads #ad, gifted by Glowco", [("#ad", S), ("gifted by", S)]),
    ("第二天不红 这期是合作 码AMAN10", [("这期是合作", S)]),
    ("Klook is paying for this post", [("is paying for this post", S)]),
    ("this trip was hosted by the Kanazawa city tourism office", [("this trip was hosted by", S)]),
    ("this one is an ad, but I like it", [("this one is an ad", S)]),
    ("Brand partnership with Konkan Kitchen Co.", [("Brand partnership with", S)]),
    ("Oakline Bank paid for this post", [("Bank paid for this post", S)]),
    ("yes they're paying me to say so", [("paying me to say", S)]),
    ("I'm a paid Gritwear ambassador", [("paid Gritwear ambassador", S)]),
    ("read this as an ad", [("read this as an ad", S)]),
    ("Amazon pays me a commission on it", [("pays me a commission", W)]),
    ("thank u @glowco", [("thank u @glowco", W)]),
    ("@honeycombskin sent over their barrier balm and I like it", [("@honeycombskin sent", W)]),
    # strong, English
    ("Love this serum #ad", [("#ad", S)]),
    ("#AD new in for autumn", [("#AD", S)]),
    ("This post is sponsored by Boots, opinions my own", [("sponsored by", S)]),
    ("Paid partnership with Nike. Ran 5k in them", [("Paid partnership with", S)]),
    ("Ad: my new night serum", [("Ad:", S)]),
    ("AD | autumn skincare routine", [("AD |", S)]),
    ("autumn skincare routine | AD", [("| AD", S)]),
    ("[ad] new in this week", [("[ad]", S)]),
    ("gifted by @glowco, all opinions my own", [("gifted by", S)]),
    ("I was gifted this by the brand", [("gifted", S)]),
    ("Terrapack gifted me their 40L pack", [("gifted", S)]),
    ("so cute #gifted", [("#gifted", S)]),
    ("PR package unboxing time", [("PR package", S)]),
    ("this is an ad for Glowco but I do love it", [("this is an ad", S)]),
    ("full disclosure: Arriva is sponsoring this post.", [("is sponsoring this", S)]),
    ("AD · Tandem are paying me to show their casserole", [("AD ·", S), ("paying me to show", S)]),
    (
        "I'm being paid to post about it, so treat this as an ad",
        [("being paid to post", S), ("treat this as an ad", S)],
    ),
    # weak
    ("loving the new tint #sp", [("#sp", W)]),
    ("loving the new tint #spon", [("#spon", W)]),
    ("loving the new tint #collab", [("#collab", W)]),
    ("loving the new tint #partner", [("#partner", W)]),
    ("thanks @glowco for the goodies", [("thanks @glowco", W)]),
    ("Thank you @dewlab_official!", [("Thank you @dewlab_official", W)]),
    ("感谢@小雅护肤 寄来的新品", [("感谢@小雅护肤", W)]),
    ("In association with Boots", [("In association with", W)]),
    ("用了一个月 #恰饭", [("#恰饭", W)]),
    # mixed Chinese + English, emoji, full-width '#'
    ("超好用✨＃广告✨", [("＃广告", S)]),
    ("Glow serum 真的好用 #ad 💕", [("#ad", S)]),
    ("🎁gifted by @glowco🎁", [("gifted by", S)]),
    ("唇釉是「霁白」gifted给我的，三个色号", [("gifted", S)]),
    ("新色号 ＃sp", [("＃sp", W)]),
    ("#广告 感谢@小雅护肤 超级好用", [("#广告", S), ("感谢@小雅护肤", W)]),
]

# Talk about ads, teamwork or sponsors, negations and look-alike words: no marker at all.
FALSE_FRIENDS: list[str] = [
    "比赛由耐克赞助，我们学校拿了第二",
    "接了个朋友的合作项目，忙到半夜",
    "my boss is paying me for overtime lol",
    "Nobody is paying me to say this, I just love it",
    "自己买嘅，唔系广告",
    "冇收钱，自费买，冇广告",
    "怕被说打广告，先声明一下我是真心推荐",
    "这周刷到同一条广告五次",
    "和同事合作完成了项目",
    "无利益相关，纯路人",
    "刷个视频全是手游广告，烦死",
    "nobody's paying me to show you this, I just like it",
    "no one's paying me to post this",
    "标了「合作」「广告」的笔记我都先划走",
    "不是 广告，自己买的",
    "依照《医疗广告管理办法》这些话不能说",
    "none of this is sponsored, I paid for this post myself",
    "Nobody paid for this post, I just love it",
    "We paid for this one ourselves",
    "My mum paid for this post-op care package",
    "I paid my partner back for dinner",
    "they paid for this whole trip",
    "My dad is paying for this trip",
    "Who's paying for this?",
    "This trip was covered by my travel insurance",
    "合作邀约请私信",
    "收到一个合作邀约，拒绝了",
    "同学合作的视频拿了一等奖",
    "和利益相关方沟通了",
    "Every paid or gifted post says so in the first line or the title",
    "Q: How do I know what's paid? A: It says ad, sponsored, paid partnership or gifted at the top",
    "— 20% from gifted-then-paid long-term deals",
    "品牌合作：约70%。每一条我都会标注，没标注的就是自己买的",
    "还有人问我会不会接理财产品的广告：会接，但只接工具类",
    "团队合作很重要，这次项目终于上线了",
    "广告公司上班的日常，又加班到十点",
    "视频太长了，我每次都跳过广告",
    "和同事合作愉快，一起吃了火锅",
    "我们是合作伙伴，也是好朋友",
    "周末去了供销合作社买菜",
    "感谢学校运动会的赞助商送的水",
    "公园里的蒲公英开了，好美",
    "商务合作请私信",
    "不是广告！纯分享",
    "本篇无任何合作，纯自费",
    "I hate ads so much",
    "YouTube ads everywhere these days",
    "my headache is back, the adapter broke and adult life is already bad",
    "get an ad blocker, seriously",
    "not sponsored obviously, it's literally open source lol",
    "This is NOT an ad",
    "they asked me not to put #ad because it hurts engagement",
    "I did a sponsored walk for charity",
    "my employer sponsored my visa",
    "Gifted by my mum for christmas",
    "she was in the gifted and talented class",
    "my sister gifted me this for my birthday",
    "he's a very gifted pianist",
    "#adidas #adulting #spring #spa",
    "Ad-free version is worth it",
]

# (title, text, rating, reason) — the reason is the exact sentence shown to moderators.
RATING_CASES: list[tuple[str, str, str, str]] = [
    ("", "超好用 #ad", "clear", "strong hashtag '#ad' in the body"),
    ("", "超好用 #ad #skincare", "clear", "strong hashtag '#ad' in the body"),
    ("", "Love it #skincare #glow #ad", "inadequate", "#ad buried among 3 trailing hashtags"),
    ("", "超好用 #护肤 #广告 #好物 #分享 #秋冬", "inadequate", "#广告 buried among 5 trailing hashtags"),
    ("", "好用！＃护肤 ＃好物 ＃广告", "inadequate", "＃广告 buried among 3 trailing hashtags"),
    ("", "Love it ✨ #skincare ✨ #glow ✨ #ad 💕", "inadequate", "#ad buried among 3 trailing hashtags"),
    ("", "#ad 超好用 #skincare #glow #serum", "clear", "strong hashtag '#ad' in the body"),
    ("", "超好用 #广告 真的 #护肤 #好物 #分享", "clear", "strong hashtag '#广告' in the body"),
    ("", "Love it #ad #skincare #glow, see you next week", "clear", "strong hashtag '#ad' in the body"),
    ("#ad", "Love it #skincare #glow #ad", "clear", "strong marker '#ad' in the title"),
    ("Ad | Glow serum", "my night routine", "clear", "strong marker 'Ad |' in the title"),
    ("", "本篇为合作\n超好用 #护肤 #好物 #广告", "clear", "strong statement '本篇为合作' in the body"),
    ("", "sponsored by Glowco\n#a #b #c", "clear", "strong statement 'sponsored by' in the body"),
    ("", "Love it #sp", "inadequate", "only weak wording (#sp)"),
    ("thanks @glowco", "Love it", "inadequate", "only weak wording (thanks @glowco)"),
    (
        "",
        "好用 #护肤 #好物 #广告 #sp",
        "inadequate",
        "#广告 buried among 4 trailing hashtags, otherwise only weak wording (#sp)",
    ),
    ("", "团队合作很重要", "none", "no disclosure markers found"),
    ("", "Love it, my favourite serum", "none", "no disclosure markers found"),
]


def _found(text: str) -> list[tuple[str, str]]:
    return [(m.text, m.strength) for m in find_markers(text)]


@pytest.mark.parametrize(("text", "expected"), MARKER_CASES, ids=[c[0] for c in MARKER_CASES])
def test_markers_are_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected


@pytest.mark.parametrize("text", FALSE_FRIENDS)
def test_false_friends_are_not_markers(text: str) -> None:
    assert find_markers(text) == []
    assert rate(text).rating == "none"


@pytest.mark.parametrize(("title", "text", "rating", "reason"), RATING_CASES, ids=[c[1] for c in RATING_CASES])
def test_rating_follows_the_guideline(title: str, text: str, rating: str, reason: str) -> None:
    disclosure = rate(text, title)
    assert (disclosure.rating, disclosure.reason) == (rating, reason)


# Every text here holds at least one marker (rated cases with a title may have none in the body).
ALL_TEXTS = [c[0] for c in MARKER_CASES] + [c[1] for c in RATING_CASES if c[2] != "none" and not c[0]]


@pytest.mark.parametrize("text", ALL_TEXTS)
def test_spans_index_the_original_string(text: str) -> None:
    markers = find_markers(text)
    assert markers, "every case here has at least one marker"
    for m in markers:
        assert text[m.start : m.end] == m.text and m.field == "text"
    assert all(a.end <= b.start for a, b in zip(markers, markers[1:], strict=False)), "sorted, no overlaps"


def test_title_markers_say_they_come_from_the_title() -> None:
    disclosure = rate("Love it #skincare #glow #sp", title="Ad | Glow serum")
    assert [(m.field, m.text) for m in disclosure.markers] == [("title", "Ad |"), ("text", "#sp")]
    assert find_markers("＃广告 好物", field="title")[0] == Marker(0, 3, "＃广告", "strong", "title")


@pytest.mark.parametrize("text", ALL_TEXTS)
def test_mask_blanks_strong_markers_only(text: str) -> None:
    markers = find_markers(text)
    masked = mask(text)
    assert len(masked) == len(text)
    blanked = {i for m in markers if m.strength == "strong" for i in range(m.start, m.end)}
    for i, (before, after) in enumerate(zip(text, masked, strict=True)):
        assert after == (" " if i in blanked else before), f"position {i} of {text!r}"
    for m in markers:
        if m.strength == "weak":
            assert masked[m.start : m.end] == m.text
    assert all(m.strength == "weak" for m in find_markers(masked))
    assert mask(masked) == masked


@pytest.mark.parametrize("text", FALSE_FRIENDS)
def test_mask_leaves_false_friends_untouched(text: str) -> None:
    assert mask(text) == text


def test_mask_examples() -> None:
    assert mask("好用！#广告 感谢@小雅") == "好用！    感谢@小雅"
    assert mask("Love it #ad #sp") == "Love it     #sp"
    # Blanking "#广告" leaves "Ad:" opening the line, so it is blanked too: masking reaches a fixed point.
    assert mask("#广告 Ad: 新品") == " " * 8 + "新品"
    assert mask(mask("#广告 Ad: 新品")) == mask("#广告 Ad: 新品")


def test_to_dict_is_json_serialisable() -> None:
    disclosure = rate("好用 #护肤 #好物 #广告 #sp", title="新品")
    as_json = json.loads(json.dumps(disclosure.to_dict(), ensure_ascii=False))
    assert as_json == {
        "rating": "inadequate",
        "markers": [
            {"start": 11, "end": 14, "text": "#广告", "strength": "strong", "field": "text"},
            {"start": 15, "end": 18, "text": "#sp", "strength": "weak", "field": "text"},
        ],
        "reason": "#广告 buried among 4 trailing hashtags, otherwise only weak wording (#sp)",
    }
    assert isinstance(disclosure, Disclosure) and isinstance(disclosure.markers, tuple)


def test_remembered_markers_are_the_same_answer_and_a_fresh_list_each_time() -> None:
    import notecheck.model.disclosure as disclosure

    text = "超好用！#广告 感谢@小雅护肤"
    first = find_markers(text)
    first.clear()  # a caller changing its list must not change the next caller's answer
    again = find_markers(text)
    assert [(m.text, m.strength, m.field) for m in again] == [
        ("#广告", "strong", "text"),
        ("感谢@小雅护肤", "weak", "text"),
    ]
    assert find_markers(text, "title")[0].field == "title"  # the field is part of what is remembered
    hits = disclosure._remembered_markers.cache_info().hits
    find_markers(text)
    assert disclosure._remembered_markers.cache_info().hits == hits + 1
    long = "x" * disclosure.MARKER_CACHE_MAX_CHARS + " #ad"  # over the limit: computed, not remembered
    size = disclosure._remembered_markers.cache_info().currsize
    assert [m.text for m in find_markers(long)] == ["#ad"]
    assert disclosure._remembered_markers.cache_info().currsize == size
