"""Moderators' decisions on notes the data already holds: a relabel, allowed and recorded.

A row with `decided_at` is a decision (`notecheck review export` writes them). When its id is already in the
data, the decision's label replaces the row's label (the row itself, with its writer and other fields, stays);
when several decisions name the same id, the latest `decided_at` wins. Two plain rows (no `decided_at`) with
one id are still a data error. Notes of the frozen test split keep their frozen label, so a candidate and the
current model are still compared on the same notes; the relabel is reported as held back (re-freeze the split
to take it in).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace

from notecheck.model.errors import DatasetError
from notecheck.model.loader import LabelledNote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relabel:
    id: str
    old: str | None
    new: str | None
    decided_at: str
    writer: str  # who decided (the moderator)
    applied: bool  # False: a frozen test note, whose label stays as frozen

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _decided_at(note: LabelledNote) -> str | None:
    value = note.extra.get("decided_at")
    return str(value) if value not in (None, "") else None


def resolve_relabels(
    notes: Sequence[LabelledNote], frozen_test_ids: Collection[str] = (), source: str = "data", id_field: str = "id"
) -> tuple[list[LabelledNote], list[Relabel]]:
    """One note per id, decisions applied in `decided_at` order; returns the notes (in first-seen order) and
    the relabels (label changes only). Raises `DatasetError` for duplicate ids without a decision."""
    order: list[str] = []
    plain: dict[str, LabelledNote] = {}
    decisions: dict[str, list[LabelledNote]] = defaultdict(list)
    dupes: set[str] = set()
    for note in notes:
        key = str(note.note.id)
        if key not in plain and key not in decisions:
            order.append(key)
        if _decided_at(note) is not None:
            decisions[key].append(note)
        elif key in plain:
            dupes.add(key)
        else:
            plain[key] = note
    if dupes:
        raise DatasetError(source, None, id_field, f"duplicate note ids, e.g. {sorted(dupes)[:5]}")
    out: list[LabelledNote] = []
    relabels: list[Relabel] = []
    for key in order:
        current = plain.get(key)
        frozen = key in frozen_test_ids
        for decision in sorted(decisions.get(key, []), key=lambda n: str(_decided_at(n))):
            if current is None:
                current = decision  # a note the data did not hold: the decision row is the note
            elif decision.label != current.label:
                when, who = str(_decided_at(decision)), _writer(decision)
                relabels.append(Relabel(key, current.label, decision.label, when, who, applied=not frozen))
                if not frozen:
                    current = _relabelled(current, decision, when, who)
        assert current is not None
        out.append(current)
    _report(relabels)
    return out, relabels


def _relabelled(row: LabelledNote, decision: LabelledNote, when: str, who: str) -> LabelledNote:
    """The data's own row with the decision's label: its writer, platform, pairs and dates stay what they were
    (the writer-held-out split and benchmarks group by them), and who relabelled it, when, is added."""
    return replace(row, label=decision.label, extra={**row.extra, "relabelled_by": who, "relabelled_at": when})


def _writer(note: LabelledNote) -> str:
    return str(note.extra.get("writer") or "")


def _report(relabels: list[Relabel]) -> None:
    applied = [r for r in relabels if r.applied]
    held = [r for r in relabels if not r.applied]
    if applied:
        log.warning("%d notes relabelled by moderators' decisions, e.g. %s", len(applied), _examples(applied))
    if held:
        log.warning(
            "%d relabels of frozen test notes held back (the test split stays as frozen), e.g. %s",
            len(held),
            _examples(held),
        )


def _examples(relabels: list[Relabel]) -> str:
    return ", ".join(f"{r.id} {r.old}->{r.new}" for r in relabels[:3])
