"""`notecheck faithfulness --model DIR`: are the explanations true of the model? (ERASER comprehensiveness and
sufficiency of each attribution method against random words, on notes the model calls commercial.)

    notecheck faithfulness --model runs/default                      # the frozen test split
    notecheck faithfulness --model runs/default --data my.jsonl --limit 50 --k 10,20,50
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DataFiles, ModelDir
from notecheck.model.options import EXPLAIN_METHODS


def _ints(value: str, name: str) -> tuple[int, ...]:
    from notecheck.model.errors import ConfigError

    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}: comma-separated whole numbers, got '{value}'") from exc


def faithfulness(
    model: ModelDir,
    data: DataFiles = None,
    limit: Annotated[int, typer.Option(min=0, help="at most this many notes predicted commercial (0: all)")] = 0,
    k: Annotated[str, typer.Option("--k", help="percentages of words to delete or keep, comma separated")] = "10,20,50",
    methods: Annotated[str, typer.Option(help="attribution methods, comma separated")] = ",".join(EXPLAIN_METHODS),
    seed: Annotated[int, typer.Option(help="seed of the random-words baseline")] = 13,
    out: Annotated[
        Path | None, typer.Option(metavar="DIR", help="where faithfulness.json and .md go (default: <model>/eval)")
    ] = None,
) -> None:
    """Measure how faithful explanations are, against random words.

    ERASER comprehensiveness and sufficiency of each method, on notes the model calls commercial.

    Without --data, the notes are the frozen test split of the bundled data.
    """
    from notecheck.model.classifier import Classifier
    from notecheck.model.loader import data_files, load_notes
    from notecheck.training.config import TrainConfig
    from notecheck.training.faithfulness import FaithfulnessConfig, measure_faithfulness
    from notecheck.training.pipeline import load_training_notes, make_split

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    config = FaithfulnessConfig(methods=chosen, ks=_ints(k, "--k"), seed=seed, limit=limit)
    config.validate()
    classifier = Classifier.from_pretrained(model)
    if data:
        labelled, _ = load_notes(data_files(data), require_label=False)
        source = ", ".join(data)
    else:
        train_config = TrainConfig.load(None)
        labelled = make_split(load_training_notes(train_config), train_config).test
        source = "the frozen test split"
    report = measure_faithfulness(classifier, [n.note for n in labelled], config)
    json_path, md_path = report.save(out or model / "eval")
    print(f"notes: {source}\n")
    print(report.markdown())
    print(f"written: {json_path}, {md_path}")
