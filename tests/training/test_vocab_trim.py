"""A trimmed vocabulary reads kept tokens exactly as the whole model does, unseen ones as <unk>, saves, loads and
explains; the rows it keeps come from the training notes and the safety set, never from other notes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.errors import ModelLoadError
from notecheck.model.explain import Explainer
from notecheck.model.scorer import TransformerScorer
from notecheck.model.vocab import REMAP_FILE, VocabRemap
from notecheck.training.vocab_trim import choose_ids, piece_texts, trim_classifier

TRAIN = ["今天去了新开的咖啡店，拿铁一般，环境不错。", "Went hiking with my sister, the view was worth the blisters."]
KEPT_TEXT = "咖啡店环境不错, the view was worth the hiking."  # every token of it is in TRAIN
UNSEEN_WORD = "smoothies"  # a word of the tiny vocabulary that TRAIN never uses


def scorer_of(classifier: Classifier) -> TransformerScorer:
    assert isinstance(classifier.scorer, TransformerScorer)
    return classifier.scorer


@pytest.fixture
def whole(tiny_model_dir: Path) -> Classifier:
    return Classifier.from_pretrained(tiny_model_dir)


@pytest.fixture
def trimmed(whole: Classifier) -> Classifier:
    tokenizer = scorer_of(whole).tokenizer
    choice = choose_ids(tokenizer, TRAIN, top_pieces=0, single_characters=False)
    remap = VocabRemap.from_kept(choice.kept, choice.tokenizer_size, tokenizer.unk_token_id)
    return trim_classifier(whole, remap, "tiny-0-trimmed", {"kept_because": choice.reasons}, keep_tokenizer=True)


def tokenizer_ids(classifier: Classifier, text: str) -> list[int]:
    return list(scorer_of(classifier).tokenizer(text)["input_ids"])


def test_kept_rows_are_the_training_tokens_and_the_special_ones(whole: Classifier, trimmed: Classifier) -> None:
    tokenizer = scorer_of(whole).tokenizer
    remap = scorer_of(trimmed).vocab
    assert remap is not None
    expected = set(tokenizer.all_special_ids) | {i for t in TRAIN for i in tokenizer_ids(whole, t)}
    assert set(remap.kept.tolist()) == expected
    assert scorer_of(trimmed).model.get_input_embeddings().num_embeddings == len(expected) < len(tokenizer)
    assert tokenizer.convert_tokens_to_ids(UNSEEN_WORD) not in expected


def test_the_safety_set_adds_single_characters_and_script_pieces(whole: Classifier) -> None:
    tokenizer = scorer_of(whole).tokenizer
    bare = choose_ids(tokenizer, TRAIN, top_pieces=0, single_characters=False)
    chars = choose_ids(tokenizer, TRAIN, top_pieces=0, single_characters=True)
    capped = choose_ids(tokenizer, TRAIN, top_pieces=5, single_characters=False)
    everything = choose_ids(tokenizer, TRAIN)
    single = {i for i, text in enumerate(piece_texts(tokenizer)) if len(text) == 1}
    assert set(chars.kept) == set(bare.kept) | single and chars.reasons["single_characters"] == len(single)
    assert capped.reasons["script_pieces"] == 5 and len(bare.kept) < len(capped.kept) <= len(bare.kept) + 5
    assert tokenizer.convert_tokens_to_ids(UNSEEN_WORD) in everything.kept  # an ASCII word: a script piece
    with pytest.raises(Exception, match="top_pieces"):
        choose_ids(tokenizer, TRAIN, top_pieces=-1)


def test_kept_text_gives_the_same_logits_as_the_whole_model(whole: Classifier, trimmed: Classifier) -> None:
    texts = [KEPT_TEXT, *TRAIN]
    remap = scorer_of(trimmed).vocab
    assert remap is not None and set(tokenizer_ids(whole, KEPT_TEXT)) <= set(remap.kept.tolist())
    assert scorer_of(trimmed).encode([KEPT_TEXT]).ids != scorer_of(whole).encode([KEPT_TEXT]).ids  # rows, not ids
    np.testing.assert_allclose(trimmed.scores(texts).logits, whole.scores(texts).logits, atol=1e-6)
    assert scorer_of(whole).vocab is None  # trimming left the original whole
    assert scorer_of(whole).model.get_input_embeddings().num_embeddings == len(scorer_of(whole).tokenizer)


def test_an_unseen_token_is_read_as_unk(whole: Classifier, trimmed: Classifier) -> None:
    text = f"the view {UNSEEN_WORD} was worth the hiking"
    tokenizer = scorer_of(whole).tokenizer
    ids = tokenizer_ids(whole, text)
    unseen = tokenizer.convert_tokens_to_ids(UNSEEN_WORD)
    assert unseen in ids
    remap = scorer_of(trimmed).vocab
    assert remap is not None
    rows = scorer_of(trimmed).encode([text]).ids[0]
    assert rows[ids.index(unseen)] == remap.unk_row == int(remap.table[tokenizer.unk_token_id])
    assert remap.unknown_share(ids) == pytest.approx(1 / len(ids))
    # the trimmed model reads exactly what the whole model reads with <unk> in the unseen word's place
    as_unk = [tokenizer.unk_token_id if i == unseen else i for i in ids]
    model = scorer_of(whole).model
    with torch.inference_mode():
        want = model(input_ids=torch.tensor([as_unk]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    np.testing.assert_allclose(trimmed.scores([text]).logits, want.logits.numpy(), atol=1e-6)


def test_a_trimmed_model_saves_and_loads(tmp_path: Path, whole: Classifier, trimmed: Classifier) -> None:
    out = trimmed.save_pretrained(tmp_path / "trimmed")
    meta = json.loads((out / "notecheck.json").read_text(encoding="utf-8"))
    assert meta["vocab"]["file"] == REMAP_FILE and meta["vocab"]["rows"] == scorer_of(trimmed).vocab.n_rows  # type: ignore[union-attr]
    assert meta["version"] == "tiny-0-trimmed"
    loaded = Classifier.from_pretrained(out)
    remap = scorer_of(loaded).vocab
    assert remap is not None and np.array_equal(remap.kept, scorer_of(trimmed).vocab.kept)  # type: ignore[union-attr]
    texts = [KEPT_TEXT, f"{UNSEEN_WORD} are great"]
    np.testing.assert_allclose(loaded.scores(texts).logits, trimmed.scores(texts).logits, atol=1e-6)
    assert [p.verdict for p in loaded.predict(texts)] == [p.verdict for p in trimmed.predict(texts)]


def test_a_trimmed_model_without_its_remap_is_named(tmp_path: Path, trimmed: Classifier) -> None:
    out = trimmed.save_pretrained(tmp_path / "trimmed")
    (out / REMAP_FILE).unlink()
    with pytest.raises(ModelLoadError, match=REMAP_FILE):
        Classifier.from_pretrained(out)
    other = VocabRemap.from_kept([0, 1, 2, 3, 4, 5], vocab_size=len(scorer_of(trimmed).tokenizer), unk_id=1)
    other.save(out)  # a remap that does not match the weights' rows
    with pytest.raises(ModelLoadError, match="embedding rows"):
        Classifier.from_pretrained(out)


def test_explanations_run_on_a_trimmed_model_and_match_the_whole_one(whole: Classifier, trimmed: Classifier) -> None:
    notes = [KEPT_TEXT, f"the view {UNSEEN_WORD} was worth the hiking"]
    for method in ("ig", "grad_x_input"):
        got = Explainer(trimmed, n_steps=8).explain(notes, method=method)
        assert [len(e.words) for e in got] == [11, 7]
        if method == "ig":
            assert all(e.completeness_gap is not None and e.completeness_gap < 1e-3 for e in got)
        want = Explainer(whole, n_steps=8).explain(notes[:1], method=method)[0]
        np.testing.assert_allclose([w.score for w in got[0].words], [w.score for w in want.words], atol=1e-5)


def test_trim_vocab_command_writes_a_model_that_loads(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "trimmed"
    args = ["trim-vocab", "--model", str(tiny_model_dir), "--out", str(out), "--top-pieces", "0"]
    assert main([*args, "--no-single-characters"]) == 0  # the tokenizer trimmed with the rows
    loaded = Classifier.from_pretrained(out)
    rows = scorer_of(loaded).model.get_input_embeddings().num_embeddings
    assert scorer_of(loaded).vocab is None and len(scorer_of(loaded).tokenizer) == rows
    assert loaded.metadata.vocab["training_notes"] > 0 and loaded.metadata.vocab["source_version"] == "tiny-0"
    assert loaded.metadata.vocab["validation_changed_inputs"] == 0  # the tiny split holds no dropped word
    assert main(args) == 2  # the output exists: never overwritten
    shutil.rmtree(out)
    assert main([*args, "--no-single-characters", "--keep-tokenizer"]) == 0  # the whole tokenizer and a remap
    remap = scorer_of(Classifier.from_pretrained(out)).vocab
    assert remap is not None and remap.n_rows == rows < remap.vocab_size


def test_a_trimmed_model_under_openvino_never_builds_the_torch_model(tmp_path: Path, trimmed: Classifier) -> None:
    out = trimmed.save_pretrained(tmp_path / "trimmed")
    Classifier.from_pretrained(out, runtime="openvino")  # converts (and caches) once
    again = Classifier.from_pretrained(out, runtime="openvino")
    texts = [KEPT_TEXT, f"{UNSEEN_WORD} are great"]
    np.testing.assert_allclose(again.scores(texts).logits, trimmed.scores(texts).logits, atol=0.05)  # bf16 here
    assert not again.scorer.model_loaded  # type: ignore[attr-defined] # the remap was checked without it


# -- a trimmed tokenizer: its ids are the rows ---------------------------------------------------------


def with_trimmed_tokenizer(whole: Classifier) -> Classifier:
    tokenizer = scorer_of(whole).tokenizer
    choice = choose_ids(tokenizer, TRAIN, top_pieces=0, single_characters=False)
    remap = VocabRemap.from_kept(choice.kept, choice.tokenizer_size, tokenizer.unk_token_id)
    return trim_classifier(whole, remap, "tiny-0-trimmed", {"kept_because": choice.reasons}, keep_tokenizer=False)


@pytest.fixture
def trimmed_tokenizer(whole: Classifier) -> Classifier:
    return with_trimmed_tokenizer(whole)


def test_a_trimmed_tokenizer_reads_kept_text_as_the_whole_model(
    whole: Classifier, trimmed_tokenizer: Classifier
) -> None:
    scorer = scorer_of(trimmed_tokenizer)
    rows = scorer.model.get_input_embeddings().num_embeddings
    assert scorer.vocab is None and len(scorer.tokenizer) == rows < len(scorer_of(whole).tokenizer)
    assert trimmed_tokenizer.metadata.vocab["tokenizer"] == "trimmed" and "file" not in trimmed_tokenizer.metadata.vocab
    texts = [KEPT_TEXT, *TRAIN]
    np.testing.assert_allclose(trimmed_tokenizer.scores(texts).logits, whole.scores(texts).logits, atol=1e-6)


def test_a_trimmed_tokenizer_splits_a_dropped_word_into_rows_it_has(
    whole: Classifier, trimmed_tokenizer: Classifier
) -> None:
    text = f"the view {UNSEEN_WORD} was worth the hiking"
    small = scorer_of(trimmed_tokenizer).tokenizer
    got = small(text)["input_ids"]
    assert got != tokenizer_ids(whole, text) and max(got) < len(small)
    # the model reads exactly the whole model's rows of the pieces it was given, in the whole model's ids
    kept = np.asarray([scorer_of(whole).tokenizer.convert_tokens_to_ids(t) for t in small.convert_ids_to_tokens(got)])
    with torch.inference_mode():
        ids, mask = torch.as_tensor(kept[None]), torch.ones(1, len(got), dtype=torch.long)
        want = scorer_of(whole).model(input_ids=ids, attention_mask=mask)
    np.testing.assert_allclose(trimmed_tokenizer.scores([text]).logits, want.logits.numpy(), atol=1e-6)


def test_a_model_with_a_trimmed_tokenizer_saves_and_loads_without_a_remap(
    tmp_path: Path, whole: Classifier, trimmed_tokenizer: Classifier
) -> None:
    from tokenizer_support import assert_same_as_transformers

    source = Path(shutil.copytree(scorer_of(whole).tokenizer.source, tmp_path / "source"))
    config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["added_tokens_decoder"] = {"0": {"content": "[PAD]", "special": True}}  # as older transformers write it
    (source / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    out = with_trimmed_tokenizer(Classifier.from_pretrained(source)).save_pretrained(tmp_path / "older")
    assert "added_tokens_decoder" not in json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert_same_as_transformers(out, [KEPT_TEXT, f"the view {UNSEEN_WORD} was worth it", *TRAIN])  # ids renumbered
    out = trimmed_tokenizer.save_pretrained(tmp_path / "trimmed")
    assert not (out / REMAP_FILE).exists()
    saved = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    assert len(saved["model"]["vocab"]) == scorer_of(trimmed_tokenizer).model.get_input_embeddings().num_embeddings
    texts = [KEPT_TEXT, f"{UNSEEN_WORD} are great"]
    for runtime in ("fp32", "openvino"):
        loaded = Classifier.from_pretrained(out, runtime=runtime)
        assert len(loaded.scorer.tokenizer) == len(scorer_of(trimmed_tokenizer).tokenizer)  # type: ignore[attr-defined]
        atol = 1e-6 if runtime == "fp32" else 0.05  # bf16 under openvino here
        np.testing.assert_allclose(loaded.scores(texts).logits, trimmed_tokenizer.scores(texts).logits, atol=atol)
    got = Explainer(Classifier.from_pretrained(out), n_steps=8).explain([KEPT_TEXT])[0]
    want = Explainer(whole, n_steps=8).explain([KEPT_TEXT])[0]
    np.testing.assert_allclose([w.score for w in got.words], [w.score for w in want.words], atol=1e-5)


def unigram_json(pieces: list[tuple[str, float]]) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(pieces, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)])
    tok.add_special_tokens(["<s>", "</s>", "<unk>", "<mask>"])  # <mask>: an added token past the pieces
    return tok.to_str()


def test_unigram_trimming_renumbers_every_id_and_keeps_the_best_split() -> None:
    from tokenizers import Tokenizer

    from notecheck.training.vocab_trim import trimmed_tokenizer_json

    pieces = [("<s>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁a", -1.0), ("▁ab", -1.5), ("b", -2.0), ("▁c", -1.0)]
    pieces += [("c", -3.0), ("▁abc", -0.5), ("q", -9.0)]  # q: the lowest score
    whole = Tokenizer.from_str(unigram_json(pieces))
    assert whole.encode("ab c abc").ids == [0, 4, 6, 8, 1]
    assert whole.token_to_id("<mask>") == len(pieces)
    remap = VocabRemap.from_kept([0, 1, 2, 3, 4, 5, 6, 9, 10], vocab_size=len(pieces) + 1, unk_id=2)  # drops c, ▁abc
    small = Tokenizer.from_str(trimmed_tokenizer_json(whole.to_str(), remap))
    assert small.get_vocab_size() == 9 and small.token_to_id("q") == 7 and small.token_to_id("<unk>") == 2
    assert small.token_to_id("<mask>") == 8 and small.encode("ab <mask>").ids[-2] == 8  # after the kept pieces
    assert small.encode("ab c").ids == [0, 4, 6, 1]  # no dropped piece: the same split, same ids
    assert small.encode("abc").ids == [0, 4, 2, 1]  # "▁abc" dropped: split into "▁ab" and "c", now unknown
    with pytest.raises(Exception, match="not among the kept"):
        trimmed_tokenizer_json(whole.to_str(), VocabRemap.from_kept([0, 2, 3], vocab_size=len(pieces) + 1, unk_id=2))
    bpe = json.loads(whole.to_str())
    bpe["model"] = {"type": "BPE", "vocab": {}, "merges": []}
    with pytest.raises(Exception, match="BPE tokenizer cannot be trimmed"):
        trimmed_tokenizer_json(json.dumps(bpe), remap)
