"""Explanations: spans index the original note, scores explain the predict path, and on a model trained to
see a discount code, Integrated Gradients points at the code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from explain_support import CODE, CODE_WORD, HELD_OUT, code_model_dir

from notecheck.model.attribution import _inputs, log_odds_fn, token_attributions
from notecheck.model.classifier import Classifier, model_input
from notecheck.model.explain import Explainer, ExplanationError, WordAttribution
from notecheck.model.highlight import explanation_ansi, explanation_html, html_page
from notecheck.model.metadata import ModelMetadata
from notecheck.model.schema import Note
from notecheck.model.scorer import Scores
from notecheck.model.words import InputLayout, split_words

NOTES = [
    Note(text="今天去了新开的咖啡店，拿铁一般，环境不错。"),
    Note(text="Honest review: the blender is loud but the smoothies are great."),
    Note(text="宝宝长牙😭👩‍👩‍👧睡不好🙏🏻 #育儿"),
    Note(text="Use my code ANNA15，私信我拿优惠码 link in bio 冲！", title="  【品牌合作】 好物X200 "),
    Note(text="  \n开头有空白\n\n", title="标题 with English"),
]


@pytest.fixture(scope="module")
def code_classifier(tiny_model_dir: Path) -> Classifier:
    return Classifier.from_pretrained(code_model_dir(tiny_model_dir))


def assert_valid(note: Note, words: Sequence[WordAttribution]) -> None:
    """Every word indexes its field; words never overlap; title words come first, each field in order."""
    for w in words:
        assert getattr(note, w.field)[w.start : w.end] == w.text and w.text.strip() == w.text != ""
    keys = [(w.field != "title", w.start, w.end) for w in words]
    assert keys == sorted(keys)
    for a, b in zip(words, words[1:], strict=False):
        assert a.field != b.field or a.end <= b.start


@pytest.mark.parametrize("method", ["ig", "grad_x_input", "occlusion"])
def test_spans_index_the_original_text_in_every_script(tiny_classifier: Classifier, method: str) -> None:
    out = Explainer(tiny_classifier, n_steps=8).explain(NOTES, method=method, top_k=3)
    assert len(out) == len(NOTES)
    for note, e in zip(NOTES, out, strict=True):
        assert_valid(note, e.words)
        assert e.words and e.method == method and len(e.evidence) <= 3
        assert all(w.score > 0 for w in e.evidence)
        assert [w.score for w in e.evidence] == sorted((w.score for w in e.evidence), reverse=True)
    emoji = [w.text for w in out[2].words]
    assert "👩\u200d👩\u200d👧" in emoji and "🙏🏻" in emoji  # a family or a toned emoji stays one word


def test_prediction_is_the_classifiers(tiny_classifier: Classifier) -> None:
    out = Explainer(tiny_classifier, n_steps=4).explain(NOTES, method="grad_x_input")
    assert [e.prediction for e in out] == tiny_classifier.predict(NOTES)


def test_masked_disclosure_and_truncated_words_score_exactly_zero(tiny_classifier: Classifier) -> None:
    long = Note(text="周末带狗狗去公园。" * 20 + " ANNA15", title="【广告】周末")
    (e,) = Explainer(tiny_classifier, n_steps=4).explain([long], method="ig")
    assert e.prediction.truncated
    assert [w.score for w in e.words if w.field == "title"][:3] == [0.0, 0.0, 0.0]  # 【 广告 】 are blanked
    assert e.words[-1].text == "ANNA15" and e.words[-1].score == 0.0  # past max_length: never seen
    assert any(w.score != 0.0 for w in e.words if w.field == "text")


def test_input_layout_maps_title_and_body_offsets() -> None:
    note = NOTES[3]
    layout = InputLayout.of(note, len(model_input(note)) - len(note.text))
    source = model_input(note)
    title_word = source.index("好物")
    assert layout.to_field(title_word, title_word + 2) == (
        "title",
        note.title.index("好物"),
        note.title.index("好物") + 2,
    )
    body_word = source.index("ANNA15")
    assert layout.to_field(body_word, body_word + 6) == (
        "text",
        note.text.index("ANNA15"),
        note.text.index("ANNA15") + 6,
    )
    assert layout.to_field(layout.title_len, layout.title_len + 1) is None  # the newline between them


def test_encode_with_offsets_gives_the_ids_predict_uses(tiny_classifier: Classifier) -> None:
    scorer = tiny_classifier.scorer
    for text in ["Use my code ANNA15", "周末带狗狗去公园。" * 20]:
        ids, offsets = scorer.encode_with_offsets(text)
        assert ids == scorer.encode([text]).ids[0] and len(offsets) == len(ids)
        assert offsets[0] == (0, 0) and offsets[-1] == (0, 0)


def test_split_words_english_chinese_and_symbols() -> None:
    words = [w.text for w in split_words("Don't miss: $29.99, 20% off! 优惠码ANNA15")]
    assert words[:3] == ["Don't", "miss", ":"] and "29.99" in words and "20%" in words and "ANNA15" in words
    assert "".join(words) == "Don'tmiss:$29.99,20%off!优惠码ANNA15"


def test_ig_ranks_the_discount_code_first_on_a_model_trained_to_see_it(code_classifier: Classifier) -> None:
    """Criterion: for EVERY genuine note the model never saw, with the code " ANNA15" appended, IG ranks the
    code's word first among all the note's words (8-14 of them: by chance 1 in 10^6 for all six notes).
    The model was trained on other notes with and without the code, and nothing else tells them apart."""
    notes = [Note(text=t + CODE) for t in HELD_OUT]
    assert code_classifier.predict_proba(notes).mean() > code_classifier.predict_proba(HELD_OUT).mean() + 0.1
    for e in Explainer(code_classifier).explain(notes, method="ig", top_k=1):
        assert [w.text for w in e.evidence] == [CODE_WORD], [(w.text, round(w.score, 3)) for w in e.top(5)]
        assert len(e.words) >= 8


def test_ig_scores_add_up_to_what_the_model_predicts(tiny_model_dir: Path) -> None:
    """Completeness: the words' scores sum to f(note) - f(baseline), where f(note) is the predict path's
    calibrated log-odds (the embedding path explained is the one `predict` computes). On the code model after
    40 steps, still smooth enough for 24 Gauss-Legendre steps to integrate well."""
    smooth = Classifier.from_pretrained(code_model_dir(tiny_model_dir, steps=40))
    note = Note(text=HELD_OUT[0] + CODE, title="周末")
    explainer = Explainer(smooth)
    (e,) = explainer.explain([note], method="ig")
    scorer, temperature = smooth.scorer, smooth.metadata.temperature
    _, baseline_ids, _ = _inputs(scorer, model_input(note))
    forward = log_odds_fn(scorer.model, temperature)
    with torch.no_grad():
        f_base = float(forward(scorer.model.get_input_embeddings()(baseline_ids), torch.ones_like(baseline_ids))[0])
    f_note = float(explainer.log_odds([note])[0])
    tokens = token_attributions(scorer, model_input(note), "ig", temperature)
    assert tokens.log_odds == pytest.approx(f_note, abs=1e-5)
    change = f_note - f_base
    assert abs(change) > 1e-3
    assert sum(w.score for w in e.words) == pytest.approx(change, abs=0.02 * abs(change))
    assert e.completeness_gap is not None and e.completeness_gap < 0.02 * abs(change)


def test_occlusion_score_is_the_log_odds_drop_without_the_word(code_classifier: Classifier) -> None:
    note = Note(text=HELD_OUT[0] + CODE)
    explainer = Explainer(code_classifier)
    (e,) = explainer.explain([note], method="occlusion")
    for w in (e.evidence[0], e.words[-1]):
        without = Note(text=note.text[: w.start] + note.text[w.end :])
        expected = explainer.log_odds([note])[0] - explainer.log_odds([without])[0]
        assert w.score == pytest.approx(expected, abs=1e-6)
    assert e.words[-1].text == CODE_WORD and e.words[-1].score > 0.1


class KeywordScorer:
    """A non-transformer backend: log-odds +3 per "ANNA15", -1 otherwise."""

    def score(self, texts: Sequence[str]) -> Scores:
        margin = np.array([3.0 * t.count("ANNA15") - 1.0 for t in texts])
        logits = np.stack([np.zeros_like(margin), margin], axis=1)
        return Scores(logits=logits, n_tokens=[len(t) for t in texts], truncated=[False] * len(texts))

    def save(self, path: Any) -> None:
        raise NotImplementedError


def test_other_backends_get_occlusion_and_a_clear_error_for_gradients() -> None:
    clf = Classifier(KeywordScorer(), ModelMetadata(backend="tfidf"))
    (e,) = Explainer(clf).explain(["nice park ANNA15 today"], method="occlusion")
    assert [(w.text, w.score) for w in e.evidence] == [("ANNA15", 3.0)]
    with pytest.raises(ExplanationError, match="backend is 'tfidf'.*occlusion"):
        Explainer(clf).explain(["x"], method="ig")
    with pytest.raises(ExplanationError, match="method: must be one of"):
        Explainer(clf).explain(["x"], method="lime")


def test_html_escapes_highlights_and_underlines(code_classifier: Classifier) -> None:
    note = Note(text="<script>alert(1)</script> 私信我" + CODE, title="A & B")
    (e,) = Explainer(code_classifier).explain([note], method="ig")
    snippet = explanation_html(e)
    assert "<script>" not in snippet and "&lt;" in snippet and "&amp;" in snippet and " & " not in snippet
    assert "background:rgba(220,38,38," in snippet  # evidence in red
    assert "text-decoration:underline" in snippet and "funnel: direct message" in snippet
    assert "raises P(commercial)" in snippet  # the legend
    assert html_page([e]).startswith("<!doctype html>")


def test_ansi_colours_or_brackets(code_classifier: Classifier) -> None:
    note = Note(text=HELD_OUT[2] + " 私信我" + CODE)
    (e,) = Explainer(code_classifier).explain([note], method="ig", top_k=1)
    plain = explanation_ansi(e, color=False)
    assert "\x1b" not in plain and plain.endswith(" [ANNA15]")
    assert plain.replace("[", "").replace("]", "") == note.text
    coloured = explanation_ansi(e, color=True)
    assert "\x1b[48;2;" in coloured and "\x1b[4m" in coloured  # background by score, signal underlined


def test_cli_explain_prints_verdict_words_and_signals(
    code_classifier: Classifier, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from notecheck.cli import main

    page = tmp_path / "why.html"
    args = ["explain", HELD_OUT[0] + CODE, "--title", "好物", "--model", str(code_model_dir(tiny_model_dir))]
    assert main([*args, "--no-color", "--top-k", "1", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "P(commercial)" in out and "[ANNA15]" in out and "1. " in out and "product" in out
    assert "ANNA15" in page.read_text(encoding="utf-8")
    assert main(["explain", "   ", "--model", str(code_model_dir(tiny_model_dir))]) == 2


def test_ig_under_bf16_autocast_stays_complete_and_points_at_the_same_word(code_classifier: Classifier) -> None:
    note = Note(text=HELD_OUT[0] + CODE)
    exact = Explainer(code_classifier, n_steps=24, bf16=False).explain([note])[0]
    fast = Explainer(code_classifier, n_steps=24, bf16=True).explain([note])[0]
    exact_scores, fast_scores = [w.score for w in exact.words], [w.score for w in fast.words]
    assert exact_scores != fast_scores  # the gradients did run in bf16
    np.testing.assert_allclose(fast_scores, exact_scores, atol=0.05 * max(abs(s) for s in exact_scores))
    assert fast.completeness_gap is not None and exact.completeness_gap is not None
    assert fast.completeness_gap <= max(0.05, 2 * exact.completeness_gap)
    assert fast.evidence[0].text == exact.evidence[0].text == CODE_WORD


def test_gradient_passes_share_the_weights_and_attend_eagerly(tiny_model_dir: Path) -> None:
    scorer: Any = Classifier.from_pretrained(tiny_model_dir).scorer
    model, twin = scorer.model, scorer.gradient_model()
    assert twin is not model and scorer.gradient_model() is twin  # made once
    assert model.config._attn_implementation == "sdpa" and twin.config._attn_implementation == "eager"
    pairs = zip(model.state_dict(keep_vars=True).values(), twin.state_dict(keep_vars=True).values(), strict=True)
    assert all(a is b for a, b in pairs)  # shared tensors, not copies
    model.train()
    assert scorer.gradient_model().training  # the twin follows the model's mode
    scorer.model = Classifier.from_pretrained(tiny_model_dir).scorer.model  # a new model gets a new twin
    assert scorer.gradient_model() is not twin


def test_gradient_explanations_never_run_the_fused_attention_backward(
    code_classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = Note(text=HELD_OUT[0] + CODE)
    scorer: Any = code_classifier.scorer
    with monkeypatch.context() as patched:  # the same scores as through the model's own sdpa attention
        patched.setattr(scorer, "gradient_model", lambda: scorer.model)
        through_sdpa = Explainer(code_classifier, bf16=False).explain([note])[0]
    fused = torch.nn.functional.scaled_dot_product_attention
    calls: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(torch.is_grad_enabled())
        return fused(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", watched)
    for method in ("ig", "grad_x_input"):
        Explainer(code_classifier, bf16=False).explain([note], method=method)
    eager = Explainer(code_classifier, bf16=False).explain([note])[0]
    assert not any(calls)  # no pass that records gradients went through sdpa
    code_classifier.predict([note])
    assert calls  # while predictions still do
    np.testing.assert_allclose([w.score for w in eager.words], [w.score for w in through_sdpa.words], atol=1e-4)
    assert eager.evidence[0].text == CODE_WORD
