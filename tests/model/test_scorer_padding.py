"""Batches padded to a multiple of `pad_multiple` tokens: fewer shapes, the same logits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from notecheck.model.classifier import Classifier

TEXTS = [
    "短",
    "今天去了新开的咖啡店，拿铁一般，环境不错。",
    "Use my code ANNA15 for 15% off, link in bio, DM me for the discount!",
    "Went hiking with my sister, the view was worth the blisters. " * 3,
    "私信我拿优惠码，评论区扣1，戳主页看链接，淘宝搜同款。" * 2,
]


def test_collate_rounds_the_width_up_to_the_multiple_and_never_past_max_length(tiny_model_dir: Path) -> None:
    scorer = Classifier.from_pretrained(tiny_model_dir, pad_multiple=16).scorer
    batch = scorer.collate([[5, 6, 7], [5, 6, 7, 8, 9]])
    assert batch["input_ids"].shape == (2, 16)
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 5]  # the padding is masked out
    assert scorer.collate([[1] * 17])["input_ids"].shape == (1, 32)
    scorer.max_length = 20  # a multiple past the model's length is cut back to it
    assert scorer.collate([[1] * 17])["input_ids"].shape == (1, 20)
    assert scorer.collate([[1] * 16])["input_ids"].shape == (1, 16)


def test_padded_batches_give_the_unpadded_logits(tiny_model_dir: Path) -> None:
    plain = Classifier.from_pretrained(tiny_model_dir).scorer
    padded = Classifier.from_pretrained(tiny_model_dir, pad_multiple=32).scorer
    assert plain.pad_multiple == 1
    widths = {plain.collate(plain.encode([t]).ids)["input_ids"].shape[1] for t in TEXTS}
    assert len(widths) > 2 and all(w % 32 for w in widths)  # the texts really get padded
    got, want = padded.score(TEXTS).logits, plain.score(TEXTS).logits
    assert got.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(got, want, atol=1e-5)
    for text, row in zip(TEXTS, want, strict=True):  # alone, in a batch of one
        np.testing.assert_allclose(padded.score([text]).logits[0], row, atol=1e-5)
