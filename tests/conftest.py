"""Shared fixtures: a tiny random BERT classifier with a small vocabulary, built once per session.

Unit tests never touch the real base encoder; only tests marked `slow` do.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--model-dir", default=None, help="a trained default model: runs tests/default_model on it")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # tests/default_model checks the model `make demo` trains (40 minutes): `make demo` runs them with --model-dir
    if collection_path.name == "default_model" and not config.getoption("--model-dir"):
        return True
    return None


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: A small bilingual corpus the tiny tokenizer is trained on (written for the tests).
TINY_CORPUS = [
    "今天去了新开的咖啡店，拿铁一般，环境不错。",
    "这款面霜用了一个月，皮肤没有变好，有点失望。",
    "私信我拿优惠码，评论区扣1，戳主页看链接，淘宝搜同款。",
    "本篇由品牌赞助，广告合作，蒲公英。",
    "宝宝最近长牙，晚上睡不好，求各位妈妈支招。",
    "周末带狗狗去公园，它追了一下午的鸽子。",
    "Went hiking with my sister, the view was worth the blisters.",
    "Use my code ANNA15 for 15% off, link in bio, DM me for the discount!",
    "Paid partnership with a skincare brand. #ad #sponsored",
    "My kettle broke after two weeks, returning it tomorrow, so annoyed.",
    "Honest review: the blender is loud but the smoothies are great.",
    "Price 199 yuan, model X200, search it on Taobao, limited offer today only.",
]


def build_tiny_classifier(directory: Path, seed: int = 0) -> Path:
    """Write a random 2-layer BERT classifier (hidden 32) and its WordPiece tokenizer as a notecheck model."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    from notecheck.model.classifier import Classifier
    from notecheck.model.metadata import ModelMetadata
    from notecheck.model.scorer import TransformerScorer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # A fixed vocabulary (WordPiece training is not deterministic): every word and character of the corpus,
    # plus continuation pieces, so the tiny model is the same in every session.
    words = sorted(
        {w for text in TINY_CORPUS for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    )
    chars = sorted({ch for w in words for ch in w})
    vocab = specials + words + [c for c in chars if c not in words] + [f"##{c}" for c in chars]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=2,
        id2label={0: "genuine", 1: "commercial"},
        label2id={"genuine": 0, "commercial": 1},
    )
    model = BertForSequenceClassification(config)
    scorer = TransformerScorer(model, fast, max_length=64)
    meta = ModelMetadata(version="tiny-0", base_model="tiny-random-bert", max_length=64)
    Classifier(scorer, meta).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session", autouse=True)
def _conversion_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Models converted for the openvino runtime go to a session folder, never the user's cache (subprocesses
    the tests start inherit it)."""
    os.environ["NOTECHECK_CACHE_DIR"] = str(tmp_path_factory.mktemp("notecheck-cache"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny random classifier directory. Copy it before changing it."""
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir: Path):  # noqa: ANN201
    from notecheck.model.classifier import Classifier

    return Classifier.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def postgres_server_url():  # noqa: ANN201
    """A real PostgreSQL server for the session (see `postgres_support`)."""
    from postgres_support import postgres_server

    with postgres_server() as url:
        yield url
