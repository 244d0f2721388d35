"""Reading what KOL reports need from files: author profiles and the bundled data's reference distribution.

The report logic itself (`model.kol`) reads nothing; the CLI and the API call these readers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from notecheck.model.errors import ConfigError, DatasetError, NotecheckError
from notecheck.model.kol.check import Profile
from notecheck.model.kol.engagement import ReferenceDistribution
from notecheck.model.paths import BUNDLED_DATA
from notecheck.model.schema import Note

log = logging.getLogger(__name__)

PROFILES_FILE = "profiles.jsonl"


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """`author_id -> Profile` from a JSONL file of `{author_id, followers, account_type, lang}` rows.

    Raises `DatasetError` naming the line and field of a bad row, or a repeated author.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, None, None, "profiles file not found")
    profiles: dict[str, Profile] = {}
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetError(path, number, None, f"invalid JSON: {exc.msg}") from exc
            if not isinstance(row, dict):
                raise DatasetError(path, number, None, "a line must be a JSON object")
            try:
                profile = Profile.from_dict(row)
            except ConfigError as exc:
                field = str(exc).split(":", 1)[0].removeprefix("profile.")
                raise DatasetError(path, number, field, str(exc).split(": ", 1)[-1]) from exc
            if profile.author_id in profiles:
                raise DatasetError(path, number, "author_id", f"'{profile.author_id}' appears twice")
            profiles[profile.author_id] = profile
    return profiles


def reference_from_notes(
    notes: Sequence[Note], profiles: dict[str, Profile], source: str
) -> ReferenceDistribution | None:
    """The reference distribution of `notes`, or None (fixed defaults) when too few authors are measurable."""
    followers = {a: p.followers for a, p in profiles.items()}
    try:
        return ReferenceDistribution.from_notes(notes, followers, source=source)
    except ConfigError as exc:
        log.warning("no reference distribution, fixed engagement thresholds are used: %s", exc)
        return None


def bundled_reference(data_dir: str | Path = BUNDLED_DATA) -> ReferenceDistribution | None:
    """The reference distribution of the bundled notes (`data/notes`, `data/profiles.jsonl`); None when the
    data is not there (an installed package without the repository) or unreadable."""
    from notecheck.model.loader import load_notes

    data_dir = Path(data_dir)
    files = sorted((data_dir / "notes").glob("*.jsonl")) if (data_dir / "notes").is_dir() else []
    if not files:
        log.info("no bundled notes under %s: fixed engagement thresholds are used", data_dir)
        return None
    try:
        loaded, _ = load_notes(files, require_label=False)
        profile_file = data_dir / PROFILES_FILE
        profiles = load_profiles(profile_file) if profile_file.is_file() else {}
    except NotecheckError as exc:
        log.warning("bundled data unreadable, fixed engagement thresholds are used: %s", exc)
        return None
    # the reference describes authentic audiences: accounts the data card marks as buying engagement are left out
    fake = {a for a, p in profiles.items() if p.account_type == "bought_engagement"}
    authentic = [n.note for n in loaded if n.note.author_id not in fake]
    return reference_from_notes(authentic, profiles, source="bundled data")
