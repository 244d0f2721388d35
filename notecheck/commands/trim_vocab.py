"""`notecheck trim-vocab`: a copy of a model whose word embeddings keep only the rows its notes need.

Prints plain `key: value` lines on stdout, for example:

    out: runs/default-trimmed
    version: 20261206-094252-59158b49-vocab110k
    embedding_rows: 110977 of 250037
    parameters: 64.1 M of 117.5 M
    kept_because: special 5, lowest_score 1, training_notes 19694, script_pieces 103641, single_characters 15398
    validation_unknown_share: 0.00003 (tokens of 1040 held-out notes the kept rows lack)
    validation_changed_inputs: 4 (split differently by the trimmed tokenizer)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DEFAULT_MODEL, ModelDir


def trim_vocab(
    out: Annotated[Path, typer.Option(metavar="DIR", help="new model directory to write (must not exist yet)")],
    model: ModelDir = DEFAULT_MODEL,
    top_pieces: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="keep only the N most probable pieces written in the notes' scripts (ASCII, CJK) beyond those the "
            "training notes use (default: all of them)",
        ),
    ] = None,
    single_characters: Annotated[
        bool,
        typer.Option(help="keep every one-character piece of any script, so unseen text falls back to characters"),
    ] = True,
    split: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="frozen split whose training notes count (default: the model's own)"),
    ] = None,
    keep_tokenizer: Annotated[
        bool,
        typer.Option(
            "--keep-tokenizer",
            help="keep the whole tokenizer and read dropped tokens as <unk> (default: trim the tokenizer to the "
            "kept pieces too, which also saves its memory, and split a dropped token into kept pieces)",
        ),
    ] = False,
) -> None:
    """Write a smaller copy of a model: only the embedding rows and tokenizer pieces its notes need.

    Keeps the tokens of the model's training notes (never its test notes), every ASCII and CJK piece and
    every single character. Text made of kept tokens tokenizes exactly as before; any other token is split
    into kept pieces (or, with --keep-tokenizer, read as <unk>). The copy loads and explains like the original.
    """
    from notecheck.training.vocab_trim import trim_model_dir

    report = trim_model_dir(
        model,
        out,
        top_pieces=top_pieces,
        single_characters=single_characters,
        split_file=split,
        keep_tokenizer=keep_tokenizer,
    )
    reasons = ", ".join(f"{k} {v}" for k, v in report.reasons.items())
    print(f"out: {report.out}")
    print(f"version: {report.version}")
    print(f"embedding_rows: {report.rows} of {report.rows_before}")
    print(f"parameters: {report.parameters / 1e6:.1f} M of {report.parameters_before / 1e6:.1f} M")
    print(f"kept_because: {reasons}")
    if report.validation_unknown_share is not None:
        print(
            f"validation_unknown_share: {report.validation_unknown_share:.5f} "
            f"(tokens of {report.validation_notes} held-out notes the kept rows lack"
            f"{', read as <unk>' if keep_tokenizer else ''})"
        )
    if report.validation_changed_inputs is not None:
        changed = report.validation_changed_inputs
        print(f"validation_changed_inputs: {changed} (split differently by the trimmed tokenizer)")
