"""The TF-IDF backend: character n-grams and a logistic regression, saved without pickles.

A model directory of this backend holds three files beside `notecheck.json`:

- `tfidf.json`: the vectorizer's parameters and the regression's `C` (human-readable);
- `tfidf_vocab.json`: the n-gram vocabulary as a JSON list, position = feature index;
- `tfidf.safetensors`: `idf` (n_features,), `coef` (n_features,) and `intercept` (1,), float64.

Loading rebuilds a scikit-learn `TfidfVectorizer` with the saved vocabulary and idf, so the transform is
scikit-learn's own; the decision function `X @ coef + intercept` is computed here, the same way after fitting
and after loading, so a reloaded model gives bit-identical probabilities.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer

from notecheck.model.errors import ModelLoadError
from notecheck.model.scorer import Scores

log = logging.getLogger(__name__)

PARAMS_FILE = "tfidf.json"
VOCAB_FILE = "tfidf_vocab.json"
WEIGHTS_FILE = "tfidf.safetensors"
FORMAT_VERSION = 1


@dataclass
class TfidfParams:
    """What rebuilds the vectorizer, plus the regression strength it was fitted with."""

    analyzer: str = "char_wb"  # n-grams inside word boundaries; Chinese runs count as one long "word"
    ngram_min: int = 1
    ngram_max: int = 4
    sublinear_tf: bool = True  # 1 + log(tf): a repeated emoji should not dominate a note
    lowercase: bool = True
    min_df: int = 2  # n-grams seen in one training note only are noise
    max_features: int | None = 200_000
    C: float = 1.0  # inverse regularisation strength chosen on validation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TfidfParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        """An unfitted vectorizer with these parameters (a fixed vocabulary when given)."""
        return TfidfVectorizer(
            analyzer=self.analyzer,
            ngram_range=(self.ngram_min, self.ngram_max),
            sublinear_tf=self.sublinear_tf,
            lowercase=self.lowercase,
            min_df=1 if vocabulary is not None else self.min_df,
            max_features=None if vocabulary is not None else self.max_features,
            vocabulary=vocabulary,
            dtype=np.float64,
        )


def vocabulary_terms(vectorizer: TfidfVectorizer) -> list[str]:
    """The fitted vocabulary as a list whose position is the feature index."""
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    return terms


class TfidfScorer:
    """Scores model-input strings with a fitted vectorizer and a linear model.

    Logits are `[0, decision]`, so `model.classifier.calibrated` gives the regression's P(commercial) at
    temperature 1. `n_tokens` is the number of characters (the backend reads the whole note: nothing is
    ever truncated).
    """

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray, intercept: float, params: TfidfParams) -> None:
        coef = np.ascontiguousarray(coef, dtype=np.float64).ravel()
        if coef.shape[0] != len(vectorizer.vocabulary_):
            raise ValueError(f"{coef.shape[0]} coefficients for {len(vectorizer.vocabulary_)} features")
        self.vectorizer = vectorizer
        self.coef = coef
        self.intercept = float(intercept)
        self.params = params

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[0])

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """The linear decision value per text (> 0 leans commercial)."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        matrix = self.vectorizer.transform(list(texts))
        return np.asarray(matrix @ self.coef, dtype=np.float64).ravel() + self.intercept

    def score(self, texts: Sequence[str]) -> Scores:
        margin = self.decision(texts)
        logits = np.stack([np.zeros_like(margin), margin], axis=1)
        return Scores(logits=logits, n_tokens=[len(t) for t in texts], truncated=[False] * len(texts))

    def save(self, path: str | Path) -> None:
        """Write the three files of this backend into `path` (JSON and safetensors, never pickles)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        header = {"format_version": FORMAT_VERSION, "n_features": self.n_features, "params": self.params.to_dict()}
        (path / PARAMS_FILE).write_text(json.dumps(header, indent=2) + "\n", encoding="utf-8")
        terms = vocabulary_terms(self.vectorizer)
        (path / VOCAB_FILE).write_text(json.dumps(terms, ensure_ascii=False) + "\n", encoding="utf-8")
        tensors = {
            "idf": np.ascontiguousarray(self.vectorizer.idf_, dtype=np.float64),
            "coef": self.coef,
            "intercept": np.array([self.intercept], dtype=np.float64),
        }
        save_file(tensors, str(path / WEIGHTS_FILE), metadata={"format": "notecheck-tfidf"})

    @classmethod
    def load(cls, path: str | Path) -> TfidfScorer:
        """Rebuild the scorer from a model directory; raises `ModelLoadError` naming a missing or corrupt file."""
        path = Path(path)
        params, n_features = _read_params(path / PARAMS_FILE)
        terms = _read_vocabulary(path / VOCAB_FILE)
        tensors = _read_weights(path / WEIGHTS_FILE)
        sizes = {"vocabulary": len(terms), "idf": tensors["idf"].shape[0], "coef": tensors["coef"].shape[0]}
        if len(set(sizes.values())) != 1 or n_features != len(terms):
            raise ModelLoadError(path / WEIGHTS_FILE, f"sizes disagree: {sizes}, {PARAMS_FILE} says {n_features}")
        vocabulary = {term: index for index, term in enumerate(terms)}
        if len(vocabulary) != len(terms):
            raise ModelLoadError(path / VOCAB_FILE, "repeated n-grams in the vocabulary")
        vectorizer = params.vectorizer(vocabulary)
        vectorizer.idf_ = tensors["idf"]
        log.debug("loaded TF-IDF scorer with %d features from %s", n_features, path)
        return cls(vectorizer, tensors["coef"], float(tensors["intercept"][0]), params)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelLoadError(path, "missing (a TF-IDF model directory needs it)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(path, f"corrupt: {exc}") from exc


def _read_params(path: Path) -> tuple[TfidfParams, int]:
    header = _read_json(path)
    if not isinstance(header, dict) or not isinstance(header.get("params"), dict):
        raise ModelLoadError(path, "corrupt: expected an object with 'params'")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(path, f"unsupported format_version {header.get('format_version')!r}")
    try:
        params = TfidfParams.from_dict(header["params"])
        n_features = int(header["n_features"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(path, f"corrupt parameters: {exc}") from exc
    # scikit-learn checks these only when transforming; a bad file should fail at load time instead
    if params.analyzer not in ("char", "char_wb", "word"):
        raise ModelLoadError(path, f"unknown analyzer '{params.analyzer}'")
    if not (isinstance(params.ngram_min, int) and isinstance(params.ngram_max, int)) or not (
        1 <= params.ngram_min <= params.ngram_max
    ):
        raise ModelLoadError(path, f"bad n-gram range ({params.ngram_min!r}, {params.ngram_max!r})")
    return params, n_features


def _read_vocabulary(path: Path) -> list[str]:
    terms = _read_json(path)
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise ModelLoadError(path, "corrupt: expected a JSON list of strings")
    return terms


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ModelLoadError(path, "missing (a TF-IDF model directory needs it)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(path, f"corrupt: {exc}") from exc
    for name in ("idf", "coef", "intercept"):
        if name not in tensors or tensors[name].ndim != 1:
            raise ModelLoadError(path, f"corrupt: tensor '{name}' missing or not one-dimensional")
    if tensors["intercept"].shape[0] != 1:
        raise ModelLoadError(path, "corrupt: 'intercept' must hold one value")
    return {name: np.asarray(tensors[name], dtype=np.float64) for name in ("idf", "coef", "intercept")}
