"""Trim a trained model's vocabulary: keep the embedding rows of the tokens its training notes use, plus a broad
safety set, and trim the tokenizer to the same pieces (or keep it whole and read every other token as `<unk>`).

Which rows stay is decided without the test notes: every special token; the ids the tokenizer gives the model's
TRAINING notes (its frozen split's training part); every piece written only in the notes' scripts (printable
ASCII, or CJK characters, kana and CJK punctuation), so an English or Chinese word never seen in training still
tokenizes into rows the model keeps (`top_pieces` keeps only the most probable of them, by the Unigram
tokenizer's own scores); and every single-character piece of any script (each letter, digit, symbol and emoji
it has), so even text in another script falls back to characters rather than `<unk>`. The validation notes
(other writers, never trained on) measure how often unseen text still hits `<unk>`.

By default the tokenizer is trimmed too (`trimmed_tokenizer_json`): it holds only the kept pieces, numbered as
the rows, so no remap is needed and the process no longer holds the whole 250k-piece vocabulary (about 0.2 GB
of resident memory for XLM-R's). Text whose tokens under the whole tokenizer are all kept tokenizes exactly as
before (Unigram's best segmentation and WordPiece's longest match cannot change when only pieces they did not
pick are removed; the lowest-scoring piece stays so a Unigram tokenizer keeps its penalty for unknown
characters). A token that was dropped is no longer read as `<unk>`: its text is split into kept pieces.
`keep_tokenizer=True` keeps the whole tokenizer and a remap (`model.vocab`) instead.

>>> trim_model_dir(Path("runs/default"), Path("runs/default-trimmed")).rows  # doctest: +SKIP
110977
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from notecheck.model.classifier import Classifier, model_input
from notecheck.model.errors import ConfigError
from notecheck.model.loader import LabelledNote
from notecheck.model.scorer import TransformerScorer
from notecheck.model.tokenizer import FastTokenizer
from notecheck.model.vocab import VocabRemap
from notecheck.training.splits import Split

log = logging.getLogger(__name__)

#: The notes' scripts: a piece made only of these characters (after its word-start mark) is kept.
NOTE_SCRIPTS = re.compile(
    "^[\x21-\x7e\u2e80-\u2fdf\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+$"
)
PIECE_PREFIXES = ("\u2581", "##")  # SentencePiece's word-start mark, WordPiece's continuation mark


@dataclass
class VocabChoice:
    """The kept tokenizer ids and how many each reason brought in (an id may have several reasons)."""

    kept: list[int]
    reasons: dict[str, int]
    tokenizer_size: int


@dataclass
class TrimReport:
    """What `trim_model_dir` wrote: rows before and after, why rows stay, and the held-out `<unk>` share."""

    out: Path
    source_version: str
    version: str
    rows_before: int
    rows: int
    parameters_before: int
    parameters: int
    reasons: dict[str, int] = field(default_factory=dict)
    training_notes: int = 0
    validation_notes: int = 0
    validation_unknown_share: float | None = None  # share of the validation notes' tokens the trimmed rows lack
    validation_changed_inputs: int | None = None  # validation inputs a trimmed tokenizer splits differently

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out": str(self.out)}


def piece_scores(tokenizer: Any) -> list[float] | None:
    """The log-probability of each piece of a Unigram tokenizer, by id; None for other models (WordPiece, BPE)."""
    model = json.loads(tokenizer.backend_tokenizer.to_str()).get("model", {})
    if model.get("type") != "Unigram":
        return None
    return [float(score) for _piece, score in model["vocab"]]


def piece_texts(tokenizer: Any) -> list[str]:
    """Each piece's text by id, without SentencePiece's word-start or WordPiece's continuation mark."""
    out = []
    for piece in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))):
        text = piece or ""
        for prefix in PIECE_PREFIXES:
            if text.startswith(prefix) and len(text) > len(prefix):
                text = text[len(prefix) :]
        out.append(text)
    return out


def script_ids(tokenizer: Any, texts: Sequence[str], top_pieces: int | None) -> set[int]:
    """Ids of the pieces (special tokens aside) written only in the notes' scripts (`NOTE_SCRIPTS`): all of
    them, or the `top_pieces` most probable where the tokenizer has piece scores (by id order where it has none)."""
    special = set(tokenizer.all_special_ids)
    ids = [i for i, text in enumerate(texts) if NOTE_SCRIPTS.match(text) and i not in special]
    if top_pieces is None:
        return set(ids)
    scores = piece_scores(tokenizer)
    if scores is not None:
        ids.sort(key=lambda i: -scores[i])
    return set(ids[:top_pieces])


def text_ids(tokenizer: Any, texts: Sequence[str], batch: int = 256) -> set[int]:
    """Every id the tokenizer gives `texts` (whole texts, special tokens included)."""
    seen: set[int] = set()
    for start in range(0, len(texts), batch):
        out = tokenizer(list(texts[start : start + batch]), truncation=False, verbose=False)
        for ids in out["input_ids"]:
            seen.update(ids)
    return seen


def choose_ids(
    tokenizer: Any, texts: Sequence[str], top_pieces: int | None = None, single_characters: bool = True
) -> VocabChoice:
    """The tokenizer ids a trimmed model keeps: special tokens, the ids of `texts` (the training notes' model
    inputs), the pieces written in the notes' scripts (all, or the `top_pieces` most probable) and, with
    `single_characters`, every one-character piece."""
    if top_pieces is not None and top_pieces < 0:
        raise ConfigError(f"top_pieces: must be 0 or more, got {top_pieces}")
    pieces = piece_texts(tokenizer)
    scores = piece_scores(tokenizer)
    added: dict[int, Any] = getattr(getattr(tokenizer, "backend_tokenizer", None), "get_added_tokens_decoder", dict)()
    groups: dict[str, set[int]] = {
        "special": set(tokenizer.all_special_ids) | set(added),  # every added token: the tokenizer matches them
        # a Unigram tokenizer scores an unknown character below its lowest piece: keeping that piece keeps the
        # penalty, so a trimmed tokenizer segments text around unknown characters as the whole one does
        "lowest_score": {min(range(len(scores)), key=scores.__getitem__)} if scores else set(),
        "training_notes": text_ids(tokenizer, texts),
        "script_pieces": script_ids(tokenizer, pieces, top_pieces),
        "single_characters": {i for i, t in enumerate(pieces) if len(t) == 1} if single_characters else set(),
    }
    kept = sorted(set().union(*groups.values()))
    return VocabChoice(kept=kept, reasons={k: len(v) for k, v in groups.items()}, tokenizer_size=len(tokenizer))


def trimmed_tokenizer_json(text: str, remap: VocabRemap) -> str:
    """A `tokenizer.json` (`text`) holding only `remap`'s kept pieces, piece i being row i: the vocabulary, the
    unknown id, the added tokens and the post-processor's special ids renumbered. Unigram and WordPiece only
    (a BPE tokenizer's merges would need pruning too): `ConfigError` otherwise, or when a special id is dropped."""
    tokenizer = json.loads(text)
    new = {int(old): row for row, old in enumerate(remap.kept.tolist())}

    def row_of(old: int, what: str) -> int:
        if old not in new:
            raise ConfigError(f"the tokenizer's {what} (id {old}) is not among the kept pieces")
        return new[old]

    model = tokenizer["model"]
    if model.get("type") == "Unigram":
        # added tokens may sit past the pieces (e.g. a [MASK] appended last): they keep their order after them
        model["vocab"] = [model["vocab"][i] for i in remap.kept.tolist() if i < len(model["vocab"])]
        if model.get("unk_id") is not None:
            model["unk_id"] = row_of(int(model["unk_id"]), "unknown token")
    elif model.get("type") == "WordPiece":
        model["vocab"] = {piece: new[i] for piece, i in model["vocab"].items() if i in new}
    else:
        raise ConfigError(f"a {model.get('type')} tokenizer cannot be trimmed: keep it whole (--keep-tokenizer)")
    for added in tokenizer.get("added_tokens") or []:
        added["id"] = row_of(int(added["id"]), f"added token '{added.get('content')}'")

    def renumber(node: Any) -> None:  # TemplateProcessing's `ids`; Bert/RobertaProcessing's [token, id] pairs
        if isinstance(node, list):
            for item in node:
                renumber(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "ids" and isinstance(value, list):
                    node[key] = [row_of(int(i), "post-processor's special token") for i in value]
                elif key in ("sep", "cls") and isinstance(value, list) and len(value) == 2:
                    value[1] = row_of(int(value[1]), f"post-processor's {key} token")
                else:
                    renumber(value)

    renumber(tokenizer.get("post_processor"))
    if isinstance(tokenizer.get("padding"), dict) and tokenizer["padding"].get("pad_id") is not None:
        tokenizer["padding"]["pad_id"] = row_of(int(tokenizer["padding"]["pad_id"]), "padding token")
    return json.dumps(tokenizer, ensure_ascii=False)


def trim_classifier(
    classifier: Classifier,
    remap: VocabRemap,
    version: str,
    selection: dict[str, Any],
    keep_tokenizer: bool = False,
) -> Classifier:
    """A copy of `classifier` whose word embeddings hold only `remap`'s rows: reading text through `remap`
    (`keep_tokenizer`), or through a tokenizer trimmed to the same pieces (`trimmed_tokenizer_json`). The
    original is left as it was (its other weights are copied, its big embedding matrix is not)."""
    scorer = classifier.scorer
    if not isinstance(scorer, TransformerScorer):
        raise ConfigError(f"only transformer models have a vocabulary to trim; this is '{classifier.metadata.backend}'")
    if scorer.vocab is not None:
        raise ConfigError("this model's vocabulary is already trimmed: trim the untrimmed model instead")
    model = scorer.model
    old = model.get_input_embeddings()  # type: ignore[operator]
    pad = None if old.padding_idx is None else int(remap.table[old.padding_idx])
    new = torch.nn.Embedding(remap.n_rows, old.embedding_dim, padding_idx=pad, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight[torch.as_tensor(remap.kept)])
    new.weight.requires_grad_(old.weight.requires_grad)
    model.set_input_embeddings(new)  # type: ignore[operator]
    try:
        model = copy.deepcopy(model)
    finally:
        scorer.model.set_input_embeddings(old)  # type: ignore[operator]
    config: Any = model.config
    config.vocab_size = remap.n_rows
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(config, key, None) is not None:
            setattr(config, key, int(remap.table[getattr(config, key)]))
    tokenizer = scorer.tokenizer
    if keep_tokenizer:
        record = remap.record()
    else:
        if not isinstance(tokenizer, FastTokenizer):
            raise ConfigError("only a model directory's own tokenizer (FastTokenizer) can be trimmed")
        text = trimmed_tokenizer_json(tokenizer.backend_tokenizer.to_str(), remap)
        tokenizer = FastTokenizer.from_str(text, tokenizer)
        record = {"tokenizer": "trimmed", "tokenizer_size_before": remap.vocab_size, "rows": remap.n_rows}
    trimmed = TransformerScorer(
        model,
        tokenizer,
        max_length=scorer.max_length,
        batch_size=scorer.batch_size,
        max_tokens=scorer.max_tokens,
    )
    trimmed.vocab = remap if keep_tokenizer else None
    meta = replace(classifier.metadata, version=version, vocab={**record, **selection})
    return Classifier(trimmed, meta)


def model_split(model_dir: Path, split_file: Path | None = None) -> Split:
    """The frozen split a model was trained on: the data and split file its run config recorded (or
    `split_file`). Refuses to make a split: the training part must be the one the model was trained on."""
    from notecheck.model.metadata import ModelMetadata
    from notecheck.training.config import TrainConfig
    from notecheck.training.pipeline import load_training_notes
    from notecheck.training.splits import FrozenSplit

    recorded = ModelMetadata.load(model_dir).config
    overrides = {k: recorded[k] for k in ("data", "split_file", "label_map") if recorded.get(k)}
    if split_file is not None:
        overrides["split_file"] = str(split_file)
    config = TrainConfig.load(None, **overrides)
    if not config.split_file or not Path(config.split_file).is_file():
        raise ConfigError(
            f"split file '{config.split_file}' not found: the training notes are read from the model's frozen "
            "split (pass --split FILE)"
        )
    return FrozenSplit.load(config.split_file).apply(load_training_notes(config))


def inputs_of(notes: Iterable[LabelledNote]) -> list[str]:
    """The strings the model reads for `notes`, with and without their titles (training may drop titles)."""
    out = []
    for n in notes:
        out.append(model_input(n.note))
        if n.note.title:
            out.append(model_input(replace(n.note, title="")))
    return out


def trim_model_dir(
    model_dir: Path,
    out: Path,
    top_pieces: int | None = None,
    single_characters: bool = True,
    split_file: Path | None = None,
    keep_tokenizer: bool = False,
) -> TrimReport:
    """Write a trimmed copy of the model in `model_dir` to `out` (which must not exist yet, or be empty)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty directory; choose a new one")
    split = model_split(model_dir, split_file)
    classifier = Classifier.from_pretrained(model_dir, runtime="fp32")  # the rows are copied exactly
    scorer = classifier.scorer
    if not isinstance(scorer, TransformerScorer):
        raise ConfigError(f"only transformer models have a vocabulary to trim; this is '{classifier.metadata.backend}'")
    tokenizer = scorer.tokenizer
    if tokenizer.unk_token_id is None:
        raise ConfigError(f"{model_dir}: its tokenizer has no unknown token, which dropped tokens would be read as")
    choice = choose_ids(tokenizer, inputs_of(split.train), top_pieces, single_characters)
    remap = VocabRemap.from_kept(choice.kept, choice.tokenizer_size, int(tokenizer.unk_token_id))
    rows_before = int(scorer.model.get_input_embeddings().num_embeddings)  # type: ignore[operator]
    params_before = sum(p.numel() for p in scorer.model.parameters())
    val_texts = inputs_of(split.validation)
    val_seqs = tokenizer(val_texts, verbose=False)["input_ids"]
    val_ids = [i for ids in val_seqs for i in ids]
    unknown = round(remap.unknown_share(val_ids), 6) if val_ids else None
    selection: dict[str, Any] = {
        "source_version": classifier.version,
        "kept_because": choice.reasons,
        "top_pieces": top_pieces,
        "single_characters": single_characters,
        "training_notes": len(split.train),
        "validation_unknown_share": unknown,
        "metrics_from": "the untrimmed source model",
    }
    version = f"{classifier.version}-vocab{remap.n_rows // 1000}k"
    trimmed = trim_classifier(classifier, remap, version, selection, keep_tokenizer=keep_tokenizer)
    changed = None
    if not keep_tokenizer:
        after = trimmed.scorer.tokenizer(val_texts)["input_ids"]  # type: ignore[attr-defined]
        changed = changed_inputs(val_seqs, after, remap)
        trimmed.metadata.vocab["validation_changed_inputs"] = changed
    trimmed.save_pretrained(out)
    log.info("trimmed %s: %d of %d embedding rows kept, into %s", model_dir, remap.n_rows, rows_before, out)
    return TrimReport(
        out=out,
        source_version=classifier.version,
        version=version,
        rows_before=rows_before,
        rows=remap.n_rows,
        parameters_before=params_before,
        parameters=sum(p.numel() for p in trimmed.scorer.model.parameters()),  # type: ignore[attr-defined]
        reasons=choice.reasons,
        training_notes=len(split.train),
        validation_notes=len(split.validation),
        validation_unknown_share=unknown,
        validation_changed_inputs=changed,
    )


def changed_inputs(before: Sequence[Sequence[int]], after: Sequence[Sequence[int]], remap: VocabRemap) -> int:
    """How many inputs a trimmed tokenizer split (`after`) differently from the whole one (`before`, its ids
    renumbered as rows): only inputs with a dropped token should be, which this counts rather than assumes."""
    rows = np.where(np.isin(np.arange(remap.vocab_size), remap.kept), remap.table, -1)  # a dropped id: no row
    return sum(rows[np.asarray(a, dtype=np.int64)].tolist() != list(b) for a, b in zip(before, after, strict=True))
