"""Named commercial signals found by rules, each with its character span in the note as written.

Moderators see these beside the model's word attributions: the model's evidence says what the classifier
used, the signals say what a rule can name. They are found in the ORIGINAL title and text (not the
disclosure-masked model input), so `getattr(note, signal.field)[signal.start:signal.end] == signal.text`.

Kinds:
- `disclosure`: disclosure markers and the note's rating (from `model.disclosure.rate`, not re-implemented);
- `funnel`: ways to the till: URLs, links, discount codes, 私信, 评论区扣1, 戳主页, 代购, 淘宝搜, "link in bio";
- `price`: ¥199, 199元, 199块, $29.99, 29 dollars, 5折/五折, "20% off";
- `product`: product names with model numbers (X200, Air 3, SK-II, iPhone 15): a capital letter token with
  digits, or a hyphenated capital code; pragmatic, not a catalogue;
- `call_to_action`: 冲！, 赶紧, 快去买, 限时, "grab it", "don't miss", "limited time";
- `giveaway`: 抽奖, 转发抽, 送出3份, "giveaway", "enter to win".

Funnels also name storefronts (橱窗, 小黄车, 点头像, LTK, "Amazon storefront"), private channels (vx, 威信, 加V,
绿泡泡), referral codes and group buys (开团, 团购, 拼团, 接龙).

>>> [(s.kind, s.text) for s in find_signals(Note(text="原价399现在199元，私信我拿优惠码，冲！"))]
[('price', '原价399'), ('price', '199元'), ('funnel', '私信我拿'), ('funnel', '优惠码'), ('call_to_action', '冲！')]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

from notecheck.model.disclosure import rate
from notecheck.model.schema import Note

SignalKind = Literal["disclosure", "funnel", "price", "product", "call_to_action", "giveaway"]
Field = Literal["title", "text"]
SIGNAL_KINDS: tuple[SignalKind, ...] = ("disclosure", "funnel", "price", "product", "call_to_action", "giveaway")


@dataclass(frozen=True)
class Signal:
    """One rule match: `text == <field>[start:end]` of the original note; `detail` says which rule."""

    kind: SignalKind
    start: int
    end: int
    text: str
    field: Field
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


_AW = r"(?<![A-Za-z0-9_])"  # ASCII word start that also works next to Chinese ("用code ANNA15")
_AE = r"(?![A-Za-z0-9_])"  # ASCII word end
_NUM = r"(?<!\d)\d+(?:[.,]\d+)?"  # from a number's first digit: tried at every digit, a long run costs O(n²)
_CN_NUM = "[一二两三四五六七八九]"
_CODE = r"[A-Z0-9][A-Z0-9_-]{2,19}"  # a discount code: upper-case letters and digits


def _c(source: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(source, flags)


_URL = r"\bhttps?://[^\s\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]+|\bwww\.[A-Za-z0-9-]+\.[A-Za-z0-9./?=&_%-]+"
_SHORT_LINK = r"(?:t\.cn|b23\.tv|xhslink\.com|dwz\.cn|bit\.ly|tinyurl\.com)/[A-Za-z0-9]+"
_EN_CODE = r"(?i:(?:use\s+)?(?:my\s+)?(?:promo\s*|discount\s*|coupon\s*)?code)\s*[:：]?\s*[\"“'‘]?" + _CODE
_ZH_CODE = r"(?:优惠码|折扣码|优惠券码|券码|邀请码|口令|暗号)(?:\s*[:：]?\s*[A-Za-z0-9]{3,20}" + _AE + ")?"
_EN_LINK = r"link\s+(?:is\s+)?in\s+(?:my\s+)?bio|(?:shop|click|tap)\s+(?:the\s+)?link|swipe\s+up"
_ZH_LINK = (
    r"(?:主页|评论区|置顶|简介|橱窗|小黄车)(?:有|见|看|放了?|挂了?)?链接"
    r"|链接(?:在|放|见|挂)(?:了)?(?:评论区|主页|置顶|简介|橱窗)|同款链接|链接[👇⬇]"
)
_SHOP = r"(?:淘宝|某宝|tb|拼多多|京东|天猫|闲鱼)(?:上)?搜(?:索)?|搜(?:索)?同款|同款(?:在|戳)"
_EN_SHOP = r"search\s+(?:it\s+|for\s+it\s+)?on\s+(?:Taobao|Tmall|JD|Amazon|Pinduoduo)"
_UNITS = r"(?:元|块钱?|(?:rmb|yuan|dollars?|bucks|usd|pounds?|euros?)" + _AE + ")"
_PRICE_WORD = r"(?:原价|现价|到手价?|活动价|券后价?|折后价?|秒杀价|售价|价格|\bprice)"
# one way to split the spaces before the number (`\s*[:：]?\s*` tried every split of a long run: O(n²))
_NAMED_PRICE = _PRICE_WORD + r"\s*(?:[:：]\s*)?(?:[¥￥$]\s?)?" + _NUM
_ZH_DISCOUNT = r"(?:\d(?:\.\d)?|" + _CN_NUM + r"{1,2})折(?!腾|叠|磨|服|射|返|算)"
_EN_DISCOUNT = _AW + r"\d{1,2}\s?(?:%|percent)\s?off" + _AE + "|" + _AW + r"half\s+price" + _AE + "|买一送一|第二件半价"
_MODEL_WORDS = r"(?:Air|Pro|Max|Mini|Ultra|Plus|Lite|Mate|Galaxy|Pixel|Series|Gen)\s\d{1,4}"
_ZH_RUSH = (
    r"冲冲冲|冲[鸭呀啊]?[！!]+|(?:快|直接|闭眼)冲|闭眼入|赶紧|快去买|快去抢|快抢|抢购|手慢无"
    r"|不要错过|别错过|错过(?:再等|就没)"
)
_EN_RUSH = r"grab\s+(?:it|yours|one|them)|don'?t\s+miss(?:\s+out)?|hurry|act\s+now|buy\s+(?:it\s+)?now|shop\s+now"
_STOREFRONT = (
    r"橱窗(?:有|里有|链接|同款|见|已挂|挂了|下单)|小黄车|(?:点|戳)(?:我)?头像|头像(?:进|里有)|"
    r"(?<![A-Za-z])(?:LTK|liketoknow\.it|shopmy)(?![A-Za-z])|(?:my|amazon)\s+storefront|amazon\s+(?:shop|page|finds?\s+page)"
)
_PRIVATE_CHANNEL = (
    r"(?:加|➕|\+)\s*(?:vx|wx|v|薇|威|卫)(?![A-Za-z辣化信])|(?<![A-Za-z])(?:vx|wx)(?![A-Za-z])|威信|薇信|卫星号|绿泡泡|"
    r"[vV]信|微信号|加微信|私聊|私发|找我(?:拿|买|下单|订|报名)|滴我"
)
_REFERRAL = r"referral\s+(?:code|link)|invite\s+(?:code|link)|refer\s+a\s+friend|sign[\s-]?up\s+bonus|推荐码|邀请链接"
_GROUP_BUY = r"开团|拼团|跟团价|团购价|(?<!成语)(?<!词语)接龙(?!游戏)"
_EN_COMMENT = (
    r"comment\s+(?:[\"“'‘][^\"”'’\n]{1,15}[\"”'’]|(?-i:[A-Z]{2,}))\s*(?:below\s+)?(?:and|for|to|if)?|"
    r"(?:drop|type|leave)\s+(?:a\s+)?(?:[\"“'‘][^\"”'’\n]{1,15}[\"”'’]|(?-i:[A-Z]{2,})|🔥|❤️)\s+(?:below|in\s+the\s+comments)"
)
_GIVEAWAY = (
    r"(?<!年会)抽奖|转发抽|评论抽|抽\s*\d+\s*(?:个|位|名)|送出\s*\d+\s*(?:份|个|套|台)|"
    r"(?<![A-Za-z])(?:giveaway|give-away|enter\s+to\s+win|chance\s+to\s+win|to\s+enter\s*[:：])(?![A-Za-z])"
)
_EN_SCARCE = r"limited[\s-]+(?:time|offer|stock|edition)|today\s+only|while\s+(?:stocks?|supplies)\s+last"


def _word(source: str) -> str:
    """`source` as whole ASCII words: boundaries that also hold next to Chinese ("用code ANNA15")."""
    return f"{_AW}(?:{source}){_AE}"


#: (kind, detail, pattern), compiled once at import; case-insensitive unless the case carries meaning.
_RULES: tuple[tuple[SignalKind, str, re.Pattern[str]], ...] = (
    # funnels: where to buy, how to get the deal
    ("funnel", "url", _c(_URL)),
    ("funnel", "short link", _c(_AW + _SHORT_LINK)),
    ("funnel", "discount code", re.compile(_word(_EN_CODE))),
    ("funnel", "discount code", _c(_ZH_CODE)),
    ("funnel", "coupon", _c(r"(?:领|送|发|拿)(?:优惠)?券|优惠券")),
    ("funnel", "link", _c(_word(_EN_LINK))),
    ("funnel", "link", _c(_ZH_LINK)),
    ("funnel", "direct message", _c(r"私信(?:我|博主|小编)?(?:拿|领|要|发|获取|咨询|了解)?|私我|滴滴我|dd我")),
    ("funnel", "direct message", _c(_word(r"(?:DM|message|PM)\s+(?:me|us)"))),
    ("funnel", "comment to get", _c(r"(?:评论区)?扣\s*[1１]|评论区(?:见|置顶|留言)")),
    ("funnel", "profile", _c(r"(?:戳|点|看|翻)(?:我)?主页|主页有")),
    ("funnel", "reseller", _c(r"代购")),
    ("funnel", "shop search", _c(_SHOP)),
    ("funnel", "shop search", _c(_word(_EN_SHOP))),
    ("funnel", "storefront", _c(_STOREFRONT)),
    ("funnel", "private channel", _c(_PRIVATE_CHANNEL)),
    ("funnel", "referral", _c(_REFERRAL)),
    ("funnel", "group buy", _c(_GROUP_BUY)),
    ("funnel", "comment to get", _c(_EN_COMMENT)),
    # prices and discounts
    ("price", "currency sign", _c(r"[¥￥$€£]\s?" + _NUM)),
    ("price", "amount", _c(_NUM + r"\s?" + _UNITS)),
    ("price", "named price", _c(_NAMED_PRICE)),
    ("price", "discount", _c(_ZH_DISCOUNT)),
    ("price", "discount", _c(_EN_DISCOUNT)),
    # products with model numbers: case matters here ("X200", not "x2")
    ("product", "model number", re.compile(_word(r"[A-Z][A-Za-z]*\d+[A-Za-z0-9]*|i(?:Phone|Pad)\s?\d+"))),
    ("product", "model number", re.compile(_word(r"[A-Z][A-Za-z]*-[A-Z0-9]+(?:-[A-Z0-9]+)*"))),
    ("product", "model number", re.compile(_word(_MODEL_WORDS))),
    # calls to action
    ("call_to_action", "rush", _c(_ZH_RUSH)),
    ("call_to_action", "scarcity", _c(r"限时|限量|数量有限|数量不多|仅剩|最后\d+(?:小时|天|件)|今天截止")),
    ("call_to_action", "rush", _c(_word(_EN_RUSH + r"|run\s+don'?t\s+walk"))),
    ("call_to_action", "scarcity", _c(_word(_EN_SCARCE))),
    ("giveaway", "giveaway", _c(_GIVEAWAY)),
)


def _rule_signals(source: str, field: Field) -> list[Signal]:
    found: list[Signal] = []
    for kind, detail, pattern in _RULES:
        for m in pattern.finditer(source):
            if m.end() > m.start():
                found.append(Signal(kind, m.start(), m.end(), m.group(), field, detail))
    return found


def _drop_nested(signals: list[Signal]) -> list[Signal]:
    """Drop a match lying inside another of the same kind (two funnel rules on "私信我拿优惠码"), and a
    "product" lying inside a discount code ("code ANNA15" is a code, not a product)."""
    kept = []
    for s in signals:
        inside = [
            o
            for o in signals
            if o is not s
            and o.field == s.field
            and o.start <= s.start
            and s.end <= o.end
            and (o.end - o.start) > (s.end - s.start)
        ]
        if any(o.kind == s.kind or (s.kind == "product" and o.detail == "discount code") for o in inside):
            continue
        kept.append(s)
    return list(dict.fromkeys(kept))  # two rules with the same span and kind say it once


def find_signals(note: Note) -> list[Signal]:
    """Every signal in the note, title first, then by position.

    Disclosure markers come from `model.disclosure.rate`; their `detail` names the marker's strength and the
    note's rating with its reason, e.g. `strong marker; disclosure clear: strong hashtag '#ad' in the body`.
    """
    disclosure = rate(note.text, note.title)
    found = [
        Signal(
            "disclosure",
            m.start,
            m.end,
            m.text,
            m.field,
            f"{m.strength} marker; disclosure {disclosure.rating}: {disclosure.reason}",
        )
        for m in disclosure.markers
    ]
    for field in ("title", "text"):
        source = getattr(note, field) or ""
        found += _drop_nested(_rule_signals(source, field))
    order = {"title": 0, "text": 1}
    return sorted(found, key=lambda s: (order[s.field], s.start, -s.end, SIGNAL_KINDS.index(s.kind)))
