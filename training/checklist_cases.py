"""Behavioural test cases (CheckList, Ribeiro et al., ACL 2020), written by the team from templates.

These are tests, not training data: they never go into `data/notes` and nothing trains on them. Each
capability is a template with slots, expanded deterministically (`training.checklist.build_cases`).

- MFT (minimum functionality): a funnel alone makes a note commercial; a complaint is genuine; a clear
  disclosure makes a `disclosed_ad`.
- INV (invariance): dropping the title, swapping names, brands, cities, prices or emoji moves P by < 0.1.
- DIR (direction): adding a funnel, a code or a sponsor line raises P; removing a funnel lowers it.
"""

from __future__ import annotations

# ---------------------------------------------------------------- slots

ZH_PRODUCTS = ["这款面霜", "这个洗面奶", "这瓶精华", "这款蛋白粉", "这个空气炸锅", "这款益生菌", "这双跑鞋", "这个猫粮"]
EN_PRODUCTS = [
    "this moisturiser",
    "this cleanser",
    "this serum",
    "this protein powder",
    "this air fryer",
    "these probiotics",
    "these running shoes",
    "this cat food",
]
ZH_EFFECTS = ["用了21天毛孔变小", "用了一个月皮肤稳定多了", "吃了两周精神好了", "用了半个月真的有变化", "回购第三次了"]
EN_EFFECTS = [
    "21 days in and my pores look smaller",
    "a month in and my skin has calmed down",
    "two weeks in and I have more energy",
    "I'm on my third one already",
    "honestly changed my mornings",
]
ZH_FUNNELS = [
    "评论区扣1私信发优惠券",
    "戳主页看链接",
    "加vx领同款",
    "橱窗有同款",
    "私信我拿内部价",
    "小黄车已经挂好了",
    "点头像进店",
    "要的宝子评论区扣1",
]
EN_FUNNELS = [
    "link in bio",
    "DM me GLOW for the link",
    "use my code LUCY20 for 20% off",
    "shop it on my LTK",
    "comment LINK and I'll send it to you",
    "it's in my Amazon storefront",
    "DM me for my discount",
    "tap the link in my bio to grab one",
]
ZH_DISCLOSURES = ["#广告", "【品牌合作】", "本篇由小鹿家赞助。", "品牌方寄来的，", "#合作"]
EN_DISCLOSURES = ["#ad", "Paid partnership with Glowco.", "AD ·", "Gifted by Lumen,", "This post is sponsored by Arlo."]
ZH_COMPLAINTS = [
    "{p}用了两周就坏了，客服一直不回，气死",
    "{p}踩雷了，用完脸上起了一片疹子，已经退货",
    "买{p}花了299，结果和描述完全不一样，再也不买了",
    "{p}味道太冲了，用了三天就扔了，别学我",
    "别买{p}！包装漏了一半，商家还说是我的问题",
]
EN_COMPLAINTS = [
    "{p} broke after two weeks and customer service won't answer, so annoyed",
    "{p} gave me a rash, returned it, never again",
    "paid $39 for {p} and it's nothing like the photos, avoid",
    "{p} smells awful, binned it after three days",
    "do not buy {p}, half of it leaked and the shop blamed me",
]
ZH_GENUINE_BODIES = [
    "{p}是在超市随手买的，{e}，价格也不贵，记录一下",
    "周末和闺蜜逛街买了{p}，{e}，还会继续用",
    "{p}{e}，就是包装有点难开",
    "朋友推荐的{p}，{e}，真心觉得还行",
]
EN_GENUINE_BODIES = [
    "grabbed {p} on a whim at the supermarket, {e}, and it wasn't expensive",
    "my sister recommended {p} and {e}, will keep using it",
    "{p}: {e}, though the packaging is annoying to open",
    "bought {p} with my own money last month, {e}",
]

# INV: swaps that must not move P
ZH_NAMES = [("小雅", "阿珍"), ("王姐", "李姐"), ("老公", "男朋友")]
EN_NAMES = [("Anna", "Priya"), ("my sister", "my flatmate"), ("Tom", "Kofi")]
ZH_CITIES = [("成都", "哈尔滨"), ("上海", "西安"), ("杭州", "厦门")]
EN_CITIES = [("Leeds", "Toronto"), ("Austin", "Dublin"), ("Sydney", "Singapore")]
ZH_BRANDS = [("兰蔻", "雅诗兰黛"), ("优衣库", "无印良品"), ("小米", "华为")]
EN_BRANDS = [("Nivea", "CeraVe"), ("Uniqlo", "Zara"), ("Dyson", "Shark")]
ZH_PRICES = [("199元", "259元"), ("39块", "45块"), ("1299", "1499")]
EN_PRICES = [("$29", "$35"), ("£12", "£15"), ("$199", "$249")]
EMOJI = [("😂", "🤣"), ("✨", "🌟"), ("😭", "🥹")]

ZH_INV_TEMPLATES = [
    "和{name}在{city}逛了一下午，买了{brand}的外套，{price}，穿着挺舒服{emoji}",
    "{name}送我的{brand}护手霜，在{city}冬天用刚好，{price}不算贵{emoji}",
    "{city}的店里{brand}打折，{name}说{price}很划算，我没买{emoji}",
    "{brand}这款用了一个月，{price}，{name}也在用，{city}干燥天气也不起皮{emoji}",
]
EN_INV_TEMPLATES = [
    "spent the afternoon in {city} with {name}, got a {brand} jacket for {price}, really comfy {emoji}",
    "{name} got me a {brand} hand cream, {price}, perfect for {city} winters {emoji}",
    "{brand} had a sale in {city}, {name} said {price} was a steal but I passed {emoji}",
    "a month with this {brand} one, {price}, {name} uses it too, fine in {city} weather {emoji}",
]

# titles for the drop-title invariance (a title restates the note; captions have none)
ZH_TITLES = ["真实测评｜", "记录一下", "分享", "踩雷了", "今日份"]
EN_TITLES = ["honest review", "quick note", "sharing this", "bit of a rant", "today's find"]

# DIR: sponsor lines added to genuine bodies
ZH_SPONSOR_LINES = ["本篇由品牌赞助。", "#广告", "品牌方寄来的。"]
EN_SPONSOR_LINES = ["This post is sponsored by Glowco.", "#ad", "Paid partnership with Lumen."]
