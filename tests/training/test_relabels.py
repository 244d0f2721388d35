"""Moderators' decisions relabel notes already in the data; the latest decision wins; frozen test notes keep
their label; plain duplicate ids stay an error."""

from __future__ import annotations

import pytest

from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote
from notecheck.model.schema import Note
from notecheck.training.relabels import resolve_relabels


def row(note_id: str, label: str, decided_at: str | None = None, writer: str = "") -> LabelledNote:
    extra = {"decided_at": decided_at, "writer": writer} if decided_at else {"writer": "zw03", "platform": "xhs"}
    return LabelledNote(Note(text=f"text of {note_id}", id=note_id), label, extra)


def test_a_decision_relabels_and_the_latest_wins() -> None:
    notes = [
        row("a", "genuine"),
        row("b", "genuine"),
        row("a", "undisclosed_ad", "2026-12-02T10:00:00", "bo"),
        row("a", "disclosed_ad", "2026-12-01T10:00:00", "al"),  # earlier, so applied first
        row("c", "genuine", "2026-12-01T09:00:00", "al"),  # a new note
        row("c", "genuine", "2026-12-03T09:00:00", "al"),  # the same decision exported again
    ]
    out, relabels = resolve_relabels(notes)
    assert [(n.note.id, n.label) for n in out] == [("a", "undisclosed_ad"), ("b", "genuine"), ("c", "genuine")]
    # the data's own row stays (its writer and platform), with who relabelled it and when
    assert out[0].extra == {
        "writer": "zw03",
        "platform": "xhs",
        "relabelled_by": "bo",
        "relabelled_at": "2026-12-02T10:00:00",
    }
    assert out[2].extra["writer"] == "al"  # a note only the decisions hold is the decision's row
    assert [(r.id, r.old, r.new, r.writer, r.applied) for r in relabels] == [
        ("a", "genuine", "disclosed_ad", "al", True),
        ("a", "disclosed_ad", "undisclosed_ad", "bo", True),
    ]


def test_frozen_test_notes_keep_their_label_and_the_relabel_is_reported() -> None:
    notes = [row("t", "genuine"), row("t", "undisclosed_ad", "2026-12-02T10:00:00", "bo")]
    out, relabels = resolve_relabels(notes, frozen_test_ids={"t"})
    assert [(n.note.id, n.label, n.extra["writer"]) for n in out] == [("t", "genuine", "zw03")]
    assert [(r.id, r.applied) for r in relabels] == [("t", False)]


def test_an_agreeing_decision_leaves_the_row_alone() -> None:
    out, relabels = resolve_relabels([row("a", "genuine"), row("a", "genuine", "2026-12-02T10:00:00", "bo")])
    assert relabels == [] and out[0].extra == {"writer": "zw03", "platform": "xhs"}


def test_plain_duplicates_are_still_an_error() -> None:
    with pytest.raises(DatasetError, match=r"duplicate note ids, e.g. \['a'\]"):
        resolve_relabels([row("a", "genuine"), row("b", "genuine"), row("a", "undisclosed_ad")], source="x.jsonl")
