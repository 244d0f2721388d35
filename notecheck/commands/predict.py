"""`notecheck predict`: verdicts for a few notes, given as arguments, in a file, or one per line on stdin.

    notecheck predict "原价399现在199，私信我拿优惠码" "Went hiking with my sister"
    notecheck predict --file notes.jsonl --json
    cat notes.txt | notecheck predict

A table (id, verdict, P(commercial), action, disclosure) by default; `--json` prints one JSON object per note
(`Prediction.to_dict()` with the note's id and the model version). For large files use `notecheck score`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notecheck.commands.params import DEFAULT_MODEL, ModelDir, RuntimeOption
from notecheck.model.options import DEFAULT_RUNTIME, NOTE_FORMATS, describe_formats

if TYPE_CHECKING:
    from notecheck.model.schema import Note


def read_notes(texts: Sequence[str], file: Path | None) -> list[Note]:
    """The notes to predict: the texts (ids `arg:1`, ...), else the file's rows, else stdin's non-blank lines
    (ids `stdin:<line>`). Raises `ConfigError` when there is nothing to read or both texts and a file."""
    from notecheck.model.errors import ConfigError
    from notecheck.model.loader import load_notes
    from notecheck.model.schema import Note

    if texts and file is not None:
        raise ConfigError("give note texts or --file FILE, not both")
    if file is not None:
        loaded, _ = load_notes(file, require_label=False)
        if not loaded:
            raise ConfigError(f"--file {file}: no notes in it")
        return [item.note for item in loaded]
    if texts:
        return [Note(text=text, id=f"arg:{i}") for i, text in enumerate(texts, 1)]
    if sys.stdin.isatty():
        raise ConfigError("nothing to predict: give note texts, --file FILE, or notes on stdin, one per line")
    notes = [Note(text=line.strip(), id=f"stdin:{i}") for i, line in enumerate(sys.stdin, 1) if line.strip()]
    if not notes:
        raise ConfigError("stdin: no notes (one per line)")
    return notes


def print_table(predictions: Sequence[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("id")
    table.add_column("verdict")
    table.add_column("P(commercial)", justify="right")
    table.add_column("action")
    table.add_column("disclosure")
    for p in predictions:
        table.add_row(str(p.id), p.verdict, f"{p.p_commercial:.3f}", p.action, p.disclosure.rating)
    Console(highlight=False).print(table)


def predict(
    texts: Annotated[
        list[str] | None, typer.Argument(metavar="TEXT", help="note texts (none: --file, or stdin one per line)")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", metavar="FILE", help=f"notes to predict ({describe_formats(NOTE_FORMATS)})"),
    ] = None,
    model: ModelDir = DEFAULT_MODEL,
    runtime: RuntimeOption = DEFAULT_RUNTIME,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per note instead of a table")] = False,
) -> None:
    """Verdicts for notes given as arguments, in a --file, or on stdin."""
    from notecheck.model.classifier import Classifier

    notes = read_notes(texts or [], file)
    classifier = Classifier.from_pretrained(model, runtime=runtime)
    predictions = classifier.predict(notes)
    if as_json:
        for p in predictions:
            print(json.dumps({**p.to_dict(), "model_version": classifier.version}, ensure_ascii=False))
        return
    print_table(predictions)
    actions = Counter(p.action for p in predictions)
    counts = ", ".join(f"{actions[a]} {a}" for a in ("flag", "review", "allow"))
    print(f"{len(predictions)} note(s), model {classifier.version}: {counts}")
