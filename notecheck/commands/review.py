"""`notecheck review export|status`: the moderators' decisions out of the review queue, and where it stands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DatabaseUrl

app = typer.Typer(
    name="review",
    no_args_is_help=True,
    help="The moderator review queue (the /review page of `notecheck serve`): export decisions, see progress.",
)


@app.command("export")
def export(
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="FILE", help="decisions as JSONL, in the retrain format")
    ],
    db: DatabaseUrl = None,
) -> None:
    """Write every standing decision (undone ones left out) for `notecheck retrain --data FILE`.

    Each row: id, title, text, label (the moderator's verdict), lang, author_id, writer (the moderator),
    decided_at, and what the model had said.
    """
    from notecheck.model.errors import ConfigError
    from notecheck.model.review.db import connect, label
    from notecheck.model.review.export import write_decisions

    if output.is_dir():
        raise ConfigError(f"--output {output}: is a directory; give a file name such as decisions.jsonl")
    if not output.parent.is_dir():
        raise ConfigError(f"--output {output}: the folder {output.parent} does not exist")
    engine = connect(db)
    n = write_decisions(engine, output)
    print(f"{n} decisions from {label(engine)} written to {output}")


@app.command("status")
def status(db: DatabaseUrl = None) -> None:
    """How many notes are open and decided, and how often moderators agreed with the model."""
    from notecheck.model.review.db import connect, label
    from notecheck.model.review.export import review_stats
    from notecheck.model.review.queue import ReviewQueue

    engine = connect(db)
    progress = ReviewQueue(engine).progress("")
    stats = review_stats(engine)
    agreement = f"{stats.agreed / stats.decided:.1%}" if stats.decided else "-"
    print(f"review queue {label(engine)}")
    print(f"open {progress.open}, decided {progress.decided}, undone {stats.undone}, agreement with model {agreement}")
