"""The combiner: the model's logit and the note's named signals joined in one small logistic regression.

The classifier reads disclosure-masked text and, trained on a few writers, can miss what any moderator sees at
once: a funnel (评论区扣1, "link in bio"), a personal code, a storefront, a brand giveaway. The combiner adds
those rule signals and the disclosure rating to the model's logit,

    log-odds(commercial) = bias + w_model * margin / T + sum_k w_k * x_k,

with `x_k` in {0, 1} (the note shows signal group k or not), fitted on validation notes so that
`p_commercial` is calibrated on everything the note shows. It is stored as plain numbers in `notecheck.json`
(no pickles), and every prediction can say which signals moved it and by how much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from notecheck.model.disclosure import Disclosure
from notecheck.model.signals import Signal

#: Signal groups the combiner weighs: (feature name, test on one `Signal`).
FEATURE_DETAILS: dict[str, tuple[str, ...]] = {
    "link": ("url", "short link", "link", "storefront", "shop search"),
    "code": ("discount code", "coupon", "referral"),
    "contact": ("direct message", "comment to get", "profile", "private channel"),
    "reseller": ("reseller", "group buy"),
    "giveaway": ("giveaway",),
}
FEATURE_KINDS: dict[str, str] = {"price": "price", "product": "product", "call_to_action": "call_to_action"}
DISCLOSURE_FEATURES = ("disclosure_clear", "disclosure_inadequate")
FEATURES: tuple[str, ...] = (*FEATURE_DETAILS, *FEATURE_KINDS, *DISCLOSURE_FEATURES)


def signal_features(signals: Sequence[Signal], disclosure: Disclosure) -> dict[str, float]:
    """Which signal groups a note shows (1.0) or not (0.0), plus its disclosure rating as two indicators.

    >>> from notecheck.model.signals import find_signals
    >>> from notecheck.model.disclosure import rate
    >>> from notecheck.model.schema import Note
    >>> note = Note(text="评论区扣1，私信发券")
    >>> f = signal_features(find_signals(note), rate(note.text))
    >>> f["contact"], f["code"], f["link"]
    (1.0, 1.0, 0.0)
    """
    out = dict.fromkeys(FEATURES, 0.0)
    for s in signals:
        for name, details in FEATURE_DETAILS.items():
            if s.detail in details:
                out[name] = 1.0
        if s.kind in FEATURE_KINDS:
            out[FEATURE_KINDS[s.kind]] = 1.0
    out["disclosure_clear"] = float(disclosure.rating == "clear")
    out["disclosure_inadequate"] = float(disclosure.rating == "inadequate")
    return out


@dataclass(frozen=True)
class Effect:
    """How much one present signal group moved a note's log-odds (and P, all else kept)."""

    feature: str
    logit: float
    p_delta: float

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "logit": round(self.logit, 4), "p_delta": round(self.p_delta, 4)}


def _sigmoid(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass
class Combiner:
    """Weights of the combining logistic regression, as saved in `notecheck.json` under `combiner`."""

    bias: float = 0.0
    model_weight: float = 1.0  # weight of the model's calibrated margin (margin / temperature)
    weights: dict[str, float] = field(default_factory=dict)  # feature name -> weight

    def to_dict(self) -> dict[str, Any]:
        return {"bias": self.bias, "model_weight": self.model_weight, "weights": dict(self.weights)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Combiner | None:
        if not data:
            return None
        weights = {str(k): float(v) for k, v in dict(data.get("weights", {})).items()}
        return cls(float(data.get("bias", 0.0)), float(data.get("model_weight", 1.0)), weights)

    def log_odds(self, margin: np.ndarray, features: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Combined log-odds per note from the model's calibrated margins and each note's features."""
        margin = np.asarray(margin, dtype=np.float64)
        extra = np.array([sum(w * f.get(k, 0.0) for k, w in self.weights.items()) for f in features])
        return self.bias + self.model_weight * margin + (extra if len(features) else 0.0)

    def probability(self, margin: np.ndarray, features: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.asarray(_sigmoid(self.log_odds(margin, features)), dtype=np.float64)

    def effects(self, margin: float, features: Mapping[str, float]) -> list[Effect]:
        """The present signal groups with nonzero weight, largest move first; `p_delta` is P with the group
        minus P without it, everything else as the note shows it."""
        total = float(self.log_odds(np.array([margin]), [features])[0])
        out = []
        for name, weight in self.weights.items():
            if features.get(name, 0.0) and weight:
                move = weight * features[name]
                out.append(Effect(name, move, float(_sigmoid(total) - _sigmoid(total - move))))
        return sorted(out, key=lambda e: -abs(e.logit))
