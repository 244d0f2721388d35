"""Disclosure markers in Chinese and English notes, and the rating of a note's disclosure.

The rules follow the labelling guideline (data/README.md, rules 3-5):

- *strong* markers disclose an ad: 广告; 合作 used as a disclosure (#合作, 本篇合作,
  品牌合作, 商务合作, 合作推广, 与XX合作); 赞助 of the note (#赞助, 本篇由…赞助,
  感谢…赞助); 蒲公英 as the brand-deal platform; the brand having sent the product
  (品牌方寄来, 送测); #ad, #sponsored, "sponsored (by)", "paid partnership (with)",
  "paid promotion", "this is an ad", "Ad:" / "AD |" opening a line, [AD] / 【广告】,
  "gifted" (unless a present from family or friends, or "a gifted pianist"), "PR product".
- *weak* markers only hint: #sp, #spon, #collab, #partner, #ambassador, #affiliate, #恰饭,
  "affiliate link", "thanks @brand", 感谢@品牌, "in association / collaboration / partnership with".
- Talking *about* ads discloses nothing (广告公司上班, 跳过广告, 团队合作, 合作愉快, 运动会的
  赞助商, a sponsored walk, a visa sponsor, a present from mum, a 商务合作请私信 contact line),
  nor does a negation ("not sponsored", 不是广告, 本篇无合作). 蒲公英 alone is the flower.

A note's disclosure is `clear` when a strong marker is in the title, stated in the body, or a
hashtag that is not *buried*: a strong hashtag is buried inside a trailing block of three or more
hashtags that ends the note.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Literal

from notecheck.model.schema import Rating

Strength = Literal["strong", "weak"]
Field = Literal["title", "text"]

_FLAGS = re.IGNORECASE | re.MULTILINE
_HASH = "[#＃]"
_END = r"(?![A-Za-z0-9_])"  # ASCII word end: "#ad" ends before "好物" but not inside "#adidas"
_STOP = r"[^。！？!?\n]"  # any character but a sentence end
_ASCII_BOUNDARY = r"(?:(?<![A-Za-z0-9_])(?=[A-Za-z0-9_])|(?<=[A-Za-z0-9_])(?![A-Za-z0-9_]))"


def _any(words: str) -> str:
    """A regex group matching any of the space-separated `words` (keeps the long word lists readable)."""
    return "(?:" + "|".join(words.split()) + ")"


_NOTE = _any("本篇 本文 本期 本条 本帖 本视频 本笔记 这篇 此篇 这条 这期 该篇")  # "this note"
_ZH_PEOPLE = _any(
    "同事 同学 朋友 队友 老师 导师 组员 室友 家人 老公 老婆 男朋友 女朋友 男友 女友 闺蜜 团队 小组 大家 "
    "他们 她们 我们 别人 客户 老板 他 她"
)
_EN_PEOPLE = r"(?:my|our)\s+" + _any(
    "mum mom mother dad father parents? sister brother sis bro friends? bestie bff boyfriend "
    "girlfriend bf gf husband wife partner fianc[eé]e? nan nana gran grandma grandad grandpa aunt "
    "auntie uncle cousin colleague flatmate housemate roommate in-laws? son daughter kids?"
)


#: who may pay for a post without it being a paid post: the writer, family, nobody
_PAYERS = (
    r"(?:I|we|you|he|she|nobody|noone|someone|who|mum|mom|dad|husband|wife|partner|boyfriend|girlfriend|parents"
    r"|family|friend|sister|brother|grandma|grandad)"
)


def _compile(source: str) -> re.Pattern[str]:
    """Compile with `\\b` as an ASCII word boundary, so "gifted给我的" still ends the word "gifted"."""
    return re.compile(source.replace(r"\b", _ASCII_BOUNDARY), _FLAGS)


def _rule(source: str, strength: Strength) -> tuple[re.Pattern[str], Strength]:
    return _compile(source), strength


_RULES: tuple[tuple[re.Pattern[str], Strength], ...] = (
    # Chinese, strong
    _rule(f"{_HASH}?广告", "strong"),
    _rule(_HASH + _any("品牌 商务 商业 官方 有偿 付费 置换") + "?(?:合作|赞助)", "strong"),
    _rule(_any("品牌 商务 商业 有偿 付费 置换 推广 官方 广告") + "合作", "strong"),
    _rule("合作" + _any("推广 笔记 内容 发布 视频 广告"), "strong"),
    _rule(_NOTE + "[^。！？!?\n不无没非未]{0,15}?(?:合作|赞助)", "strong"),  # 本篇为合作, 本期由…赞助
    _rule(  # 与X合作 closing a clause; 同X合作(咗) in Cantonese
        "(?:与|和|跟|同(?!学|事|伴|行|时|样|一|款))[^\\s，,。！!？?、；;：:]{1,12}?合作(?=$|[^\u4e00-\u9fff]|啦|了|哦|呀|呢|的|咗|笔记|推广|视频)",
        "strong",
    ),
    _rule("利益相关(?![方者人])", "strong"),  # the Chinese conflict-of-interest statement: 利益相关：我在X上班
    _rule(f"感谢{_STOP}{{0,20}}?赞助(?!商)", "strong"),
    # this stay / this batch was sponsored: 本次入住由…赞助, 由「X」品牌赞助, 这一批是品牌赞助的
    _rule(_any("本次 这次 此次") + "[^。！？!?\n不无没非未]{0,20}?由[^。！？!?\n]{1,20}?赞助(?!商)", "strong"),
    _rule("(?:品牌|品牌方|商家|官方)赞助(?!商)", "strong"),
    _rule("接了?[^。！？!?\n，,]{0,12}?(?:品牌|商家|官方)(?:方)?的?(?:合作|推广)", "strong"),  # 接了X品牌的合作
    _rule(f"{_HASH}蒲公英(?!花|茶|根|籽)|蒲公英" + _any("平台 合作 推广 笔记 商单 报备 订单 任务"), "strong"),
    _rule("(?:通过|来自|走)蒲公英", "strong"),
    _rule("品牌方(?:赠送|寄送|送的|寄来|寄的)|送测", "strong"),  # the Chinese "gifted"
    # English (and labels), strong
    _rule(
        _HASH
        + _any(
            "ad ads advert advertisement advertising paidad sponsored sponsor sponsorship paidpartnership "
            "gifted giftedby\\w* prgifts? prsamples? prproducts? prpackages?"
        )
        + _END,
        "strong",
    ),
    _rule(  # "Ad: …", "AD | …", "[合作] …" opening a line
        r"^[ \t]*(?:[\[(【（]\s*)?(?:ad|advert|advertisement|sponsored|gifted|paid\s+partnership|合作|赞助)"
        r"(?:\s*[\])】）])?(?:\s*[:：|｜·•]|\s+[-–—/]+(?=\s)|[ \t]*$)",
        "strong",
    ),
    _rule(
        r"[\[(【（]\s*" + _any("ad advert advertisement sponsored gifted pr 广告 合作 品牌合作 赞助") + r"\s*[\])】）]",
        "strong",
    ),
    _rule(r"[|｜]\s*(?:ad|advert|sponsored|gifted)[ \t]*$", "strong"),  # "my routine | AD"
    _rule(r"\bsponsored(?:\s+by)?\b|\bfor\s+sponsoring\b", "strong"),
    _rule(r"\bpaid\s+(?:partnership(?:\s+with)?|promotion)\b", "strong"),
    _rule(
        r"\bthis(?:\s+(?:one|post|video|note|review))?\s+is\s+(?:an?\s+)?(?:paid\s+)?(?:ad|advert|advertisement)\b",
        "strong",
    ),
    _rule(r"\bgifted(?:\s+by)?\b", "strong"),
    # plain-language statements: "X is sponsoring this post", "they're paying me to…", "treat this as an ad"
    _rule(r"\b(?:is|are|'s|'re|theyre|shes|hes)\s+sponsoring\s+(?:this|today's|my)\b", "strong"),
    _rule(
        r"\b(?:they|they've|they\s+have|the\s+brand|the\s+company)\s+paid\s+(?:me\s+)?for\s+this\s+"
        r"(?:post|video|note|review|content)(?![\w-])",
        "strong",
    ),
    _rule(
        r"\b(?:paying|paid)\s+me\s+(?:(?:[\w£$€¥]+\s+){0,3}to\s+(?:post|show|share|write|review|feature|talk|try|mention|put|say)"
        r"|for\s+(?:this|the)\s+(?:post|note|video|review|course))\b"
        r"|\bbeing\s+paid\s+to\s+(?:post|write|share|show)\b",
        "strong",
    ),
    _rule(r"\b(?:is|are|'s|'re)\s+paying\s+(?:me\s+)?for\s+this\s+(?:post|video|note|review|one)(?![\w-])", "strong"),
    _rule(rf"\b(?!{_PAYERS}\b)[\w']+\s+paid\s+for\s+this\s+(?:post|comparison|review|video|note)(?![\w-])", "strong"),
    _rule(r"\b(?:paid\s+)?brand\s+partnership\s+with\b|\bpaid\s+brand\s+partnership\b", "strong"),
    _rule(r"\bpaid\s+(?:brand\s+)?(?:ambassador|rep)\b|\bpaid\s+(?-i:[A-Z][\w-]*)\s+ambassador\b", "strong"),
    _rule(
        r"\bthis\s+(?:trip|stay|meal|dinner|lunch|visit|weekend|holiday)\s+was\s+(?:hosted|paid\s+for|covered|comped)\s+by\b"
        r"(?!\s+(?:my|our|his|her|their|me|us|travel\s+insurance|insurance|work|the\s+insurance)\b)",
        "strong",
    ),
    _rule(r"\b(?:treat|consider|read)\s+this\s+(?:post\s+)?as\s+an?\s+ad\b", "strong"),
    _rule(r"\bpr\s+(?:products?|packages?|samples?|gifts?|box(?:es)?|haul|items?)\b", "strong"),
    # weak
    _rule(
        _HASH + _any("sp spon collab collaboration partner partnership brandpartner ambassador affiliate") + _END,
        "weak",
    ),
    _rule(f"{_HASH}恰饭", "weak"),
    _rule("(?:有|拿|赚|带)(?:点)?佣金", "weak"),  # a commission mentioned, not disclosed as an ad
    _rule(r"\bi\s+(?:get|earn|make)\s+(?:a\s+)?(?:small\s+|tiny\s+|little\s+)?(?:cut|commission|kickback)\b", "weak"),
    _rule(
        r"\bpays?\s+me\s+a\s+(?:small\s+)?commission\b|\bi\s+(?:earn|make\s+money|get\s+paid)\s+(?:from|off|on|if|a\s+little)\b",
        "weak",
    ),
    _rule(
        r"@[^\s@#＃，,。！!？?]+\s+(?:kindly\s+|just\s+)?sent\b|\b(?:brand|company|team)\s+sent\s+(?:me|us|over)\b",
        "weak",
    ),
    _rule(r"\baffiliate\s+links?\b|\bin\s+(?:association|collaboration|partnership)\s+with\b", "weak"),
    _rule(
        r"(?:\bthanks|\bthank\s+you|\bthank\s+u|\bty|\btysm|\bthx|感谢|谢谢|多谢)(?:\s+so\s+much)?(?:\s+to)?\s*@[^\s@#＃，,。！!？?]+",
        "weak",
    ),
)

# Phrases that talk *about* ads, teamwork or sponsors; a candidate overlapping one is not a marker.
_FALSE_FRIENDS = _compile(
    "|".join(
        (
            "广告"
            + _any(
                "公司 行业 圈 人 狗 学 专业 系 设计 策划 文案 创意 片 词 语 歌 曲 "
                "牌 位 屏 灯箱 栏 招牌 法 效应 效果 投放 预算 拦截 屏蔽 弹窗 "
                "电话 短信 邮件 推送 传单"
            ),
            "广告(?:太|好|真|也太|实在|特别|超)?(?:多|烦|吵|长|密)",
            _any(
                "看 刷 跳过 关掉? 去 屏蔽 拦截 弹窗 开屏 贴片 插屏 视频 电视 地铁 "
                "电梯 户外 网页 朋友圈 垃圾 骚扰 虚假 拍 接"
            )
            + "(?:了|到|完)?(?:同一|这|那|一)?(?:个|条|支|则|堆|些|几条)?广告",
            "(?:被|怕被|说我|说她|说他)(?:人)?(?:说)?(?:在|是)?(?:打|做|接)广告",
            _any("游戏 手游 短剧 网课 贷款 保险 减肥药 页游 小游戏") + "广告",  # kinds of ads people see
            '[「“"‘『]广告[」”"’』]',  # the word quoted: 标了「广告」的笔记
            "《[^》\n]{0,20}广告[^》\n]{0,20}》|广告法",  # a law's name: 《医疗广告管理办法》
            r"\bnone\s+of\s+(?:this|these|it|them)\s+(?:is|are|was|were)\s+(?:sponsored|an?\s+ad|gifted|paid)\b",
            _any("全 都 满屏 一堆 好多 很多 太多 到处 讨厌 烦 恨") + "都?(?:是)?广告",
            "(?:做|干|搞)广告的|(?:以为|当成|当作|像|说是|不像)(?:是)?广告|广告(?:里|上)(?:说|的|面)",
            _any("团队 小组 分工 通力 互相 相互 校企 国际") + "合作",
            "合作" + _any("愉快 伙伴 社 医院 店 门店 商家 渠道 款 方式 精神 关系 能力"),
            # a contact line ("商务合作请私信", "合作📮…") invites deals; it does not disclose one
            r"(?<![#＃])(?:商务|品牌|广告)?合作(?:邀约)?\s*[:：]?\s*"
            + _any("请 可 欢迎 联系 私信 私 找 加 戳 咨询 敬请 📮 ✉ 📧 vx v信 微信 wx 邮箱 email [\\w.]+@"),
            f"(?:与|和|跟|同){_ZH_PEOPLE}[^，,。！!？?\n]{{0,6}}?合作",
            _any("学校 运动会 校运会 比赛 活动 晚会 社团 校园") + "[^，,。！!？?\n]{0,8}赞助|拉赞助",
            r"\b(?:visa|charity|school|council|employer|company|work|government|uni|university)[\s-]+sponsored\b",
            r"\bsponsored\s+(?:posts|ads|influencers)\b|\b(?:saw|see|seeing|hate|many|these|another)\s+(?:a\s+)?sponsored\b",
            r"\bsponsored\s+(?:walk|run|swim|skydive|silence|event|visa|students?|child|my\s+visa)\b",
            r"\bsponsored\s+by\s+(?:my|the|our)\s+"
            + _any("school uni university council employer company work job government department parents?")
            + r"\b",
            r"\bgifted\s+"
            + _any(
                "and\\s+talented kids? child(?:ren)? students? program(?:me)?s? musician pianist writer artist class"
            )
            + r"\b",
            rf"\bgifted\b(?:\s+[\w']+){{0,4}}?\s+(?:by|from|to)\s+{_EN_PEOPLE}\b",  # a present from mum
            rf"\b{_EN_PEOPLE}(?:\s+[\w']+){{0,2}}?\s+gifted\b",
            r"\b(?:very|so|really|incredibly|naturally|musically|academically|extremely)\s+gifted\b|\bgifted\s+at\b",
            r"\bgifted\b(?:\s+[\w']+){0,5}?\s+for\s+(?:my\s+)?(?:birthday|bday|christmas|xmas|graduation)\b",
            # talking about one's ad practice, not disclosing this note: "every paid or gifted post says so",
            # "it says ad, sponsored or gifted at the top", an income breakdown "品牌合作：约70%", "会不会接广告"
            r"\bgifted[\s-]+then\b|\bpaid\s+or\s+gifted\b|\bgifted\s+or\s+paid\b",
            r"\b(?:says?|reads?|labell?ed|marked|tagged)\s+(?:as\s+)?"  # a list of the words, not one tag
            r"(?:[\"'“]?(?:#?ad|sponsored|paid\s+partnership|gifted)[\"'”]?\s*,\s*){0,3}"
            r"[\"'“]?(?:#?ad|sponsored|paid\s+partnership|gifted)[\"'”]?,?\s+or\s+"
            r"[\"'“]?(?:#?ad|sponsored|paid\s+partnership|gifted)\b",
            r"(?:品牌|商务|广告)*合作\s*[:：]\s*(?:约|大约|占)?\s*\d+(?:\.\d+)?\s*[%％]",
            "(?:会不会|要不要|接不接|会|不)接[^，,。！!？?\n]{0,10}?的?广告",
        )
    ),
)
_CLAUSE_BREAK = re.compile(r"[。．.！!？?；;，,：:\n(（)）]")
# Chinese negations bind to the words right after them (a space ends the clause: "第二天不红 这期是合作");
# English ones reach over up to two words ("not sponsored", "nobody's paying me to").
_NEGATION = re.compile(
    r"(?:(?:不(?!错|少|同|过|仅|管|久|断|停)|非(?!常)|无(?!论|印)|没|未|唔|冇)\S{0,4}|(?:不是|不算|并非|没有|唔系|冇)\s+"
    r"|\b(?:not|never|no|nobody|noone|no\s+one|non|without|nothing|isn'?t|wasn'?t|aren'?t|weren'?t|ain'?t)"
    r"(?:'s)?\b(?:[\s-]+[\w']+){0,2}[\s-]*)$",
    re.IGNORECASE,
)
# A hashtag right after a negation, or the object of "put/use/add", is mentioned, not used ("don't put #ad").
_TAG_NEGATION = re.compile(
    r"(?:\b(?:not|no|never|without|don't|didn't|won't)\b(?:\s+[\w']+)?"
    r"|\b(?:put|puts|putting|use|using|add|adding|write|tag|the\s+word)"
    r"|不是|并非|非|无|没有|不加|没加|不带|没带|不标|没标|不打|别加|不要加|不让我?加|唔系|冇)\s*$",
    re.IGNORECASE,
)
_HASHTAG = re.compile(f"{_HASH}[^\\s#＃]+")
_BURIED_BLOCK = 3  # trailing hashtags at the end of a note from which a strong hashtag counts as buried


@dataclass(frozen=True)
class Marker:
    """One disclosure marker: `text == source[start:end]` in the field it was found in."""

    start: int
    end: int
    text: str
    strength: Strength
    field: Field

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Disclosure:
    """How well a note discloses that it is an ad, with the markers found and one sentence why."""

    rating: Rating
    markers: tuple[Marker, ...]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"rating": self.rating, "markers": [m.to_dict() for m in self.markers], "reason": self.reason}


def _negated(source: str, start: int) -> bool:
    """Whether a negation ends the clause before `start`; a hashtag only counts as negated right after one."""
    window = _CLAUSE_BREAK.split(source[max(0, start - 30) : start])[-1]
    return bool((_TAG_NEGATION if source[start] in "#＃" else _NEGATION).search(window))


#: `find_markers` remembers this many recent (text, field) answers: `predict` reads each note's text when it
#: masks it, rates it and lists its signals, and the rules cost about a millisecond per text.
MARKER_CACHE_SIZE = 2048
MARKER_CACHE_MAX_CHARS = 4096  # longer texts are not remembered (bounds the cache's memory)


def find_markers(text: str, field: Field = "text") -> list[Marker]:
    """All disclosure markers in `text`, in order, never overlapping (strong ones win overlaps).

    >>> [(m.text, m.strength) for m in find_markers("超好用！#广告 感谢@小雅护肤")]
    [('#广告', 'strong'), ('感谢@小雅护肤', 'weak')]
    >>> find_markers("在广告公司上班，不是广告")
    []
    """
    if len(text) > MARKER_CACHE_MAX_CHARS:
        return list(_find_markers(text, field))
    return list(_remembered_markers(text, field))


@lru_cache(maxsize=MARKER_CACHE_SIZE)
def _remembered_markers(text: str, field: Field) -> tuple[Marker, ...]:
    return _find_markers(text, field)


def _find_markers(text: str, field: Field) -> tuple[Marker, ...]:
    friends = [m.span() for m in _FALSE_FRIENDS.finditer(text)]
    found: dict[Strength, list[tuple[int, int]]] = {"strong": [], "weak": []}
    for pattern, strength in _RULES:
        for m in pattern.finditer(text):
            start, end = m.span()
            overlaps_friend = any(s < end and start < e for s, e in friends)
            if start < end and not overlaps_friend and not _negated(text, start):
                found[strength].append((start, end))
    taken: list[Marker] = []
    for strength in ("strong", "weak"):
        for start, end in sorted(found[strength], key=lambda span: (span[0], -span[1])):
            if all(end <= t.start or start >= t.end for t in taken):
                taken.append(Marker(start, end, text[start:end], strength, field))
    return tuple(sorted(taken, key=lambda m: m.start))


def _trailing_block_start(text: str) -> tuple[int, int]:
    """Start and size of the run of hashtags ending `text` (separated by spaces, punctuation, emoji only)."""
    end, count = len(text), 0
    for tag in reversed(list(_HASHTAG.finditer(text))):
        if not all(_is_separator(ch) for ch in text[tag.end() : end]):
            break
        end, count = tag.start(), count + 1
    return end, count


def _is_tag(m: Marker) -> bool:
    return m.text[:1] in "#＃"


def _is_separator(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZ" or ch in "\u200d\ufe0f"


def rate(text: str, title: str = "") -> Disclosure:
    """Rate a note's disclosure: `clear`, `inadequate` (weak wording or a buried hashtag) or `none`.

    >>> rate("Love this serum #ad").rating
    'clear'
    >>> rate("Love this serum #skincare #glow #ad #serum").reason
    '#ad buried among 4 trailing hashtags'
    >>> rate("Love this serum #sp").reason
    'only weak wording (#sp)'
    """
    in_title = find_markers(title, "title")
    in_text = find_markers(text, "text")
    markers = tuple(in_title + in_text)
    block_start, block_size = _trailing_block_start(text)

    def buried(m: Marker) -> bool:
        return _is_tag(m) and block_size >= _BURIED_BLOCK and m.start >= block_start

    strong_title = [m for m in in_title if m.strength == "strong"]
    if strong_title:
        return Disclosure("clear", markers, f"strong marker '{strong_title[0].text}' in the title")
    strong = [m for m in in_text if m.strength == "strong"]
    shown = [m for m in strong if not buried(m)]
    if shown:
        how = "hashtag" if _is_tag(shown[0]) else "statement"
        return Disclosure("clear", markers, f"strong {how} '{shown[0].text}' in the body")
    weak = ", ".join(dict.fromkeys(m.text for m in markers if m.strength == "weak"))
    if strong:
        reason = f"{strong[0].text} buried among {block_size} trailing hashtags"
        if weak:
            reason += f", otherwise only weak wording ({weak})"
        return Disclosure("inadequate", markers, reason)
    if weak:
        return Disclosure("inadequate", markers, f"only weak wording ({weak})")
    return Disclosure("none", markers, "no disclosure markers found")


def mask(text: str) -> str:
    """`text` with every strong marker blanked by spaces, same length, so the classifier is disclosure-blind.

    Weak markers stay: they are inadequate disclosure, and telling ads from genuine notes may use them.
    Blanking repeats until nothing strong is left (a blank can turn "Ad:" into a line start), so
    `mask(mask(t)) == mask(t)`.

    >>> mask("好用！#广告 感谢@小雅")
    '好用！    感谢@小雅'
    """
    while strong := [m for m in find_markers(text) if m.strength == "strong"]:
        for m in strong:
            text = text[: m.start] + " " * (m.end - m.start) + text[m.end :]
    return text
