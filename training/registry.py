"""A model registry on disk: versioned model directories, an atomic `current` pointer and a history log.

Layout of `root/`:

- `<version>/`: a complete model directory (`notecheck.json` and weights; `decision.json` for retrains);
- `current`: a relative symlink to `<version>`. It is switched by creating a temporary symlink beside it
  and `os.replace`-ing it over `current`: rename(2) is atomic on Linux (and any POSIX filesystem), so a
  reader resolving `root/current` sees the old version or the new one, never a missing or half-written
  directory. `Classifier.from_pretrained(root / "current")` therefore always loads a whole model;
- `history.jsonl`: one line per switch (`version`, `promoted_at`, `previous`, `reason`, `action`), append-only;
- `.lock`: `flock`ed while the registry changes, so two processes never interleave a switch;
- hidden entries (`.work/`, `.incoming-*`) are work in progress and never count as versions.

Versions arrive complete: `add` copies (or moves) a directory to a hidden name first and renames it into
place, so `versions()` never lists a half-copied model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from notecheck.model.errors import ModelLoadError, NotecheckError
from notecheck.model.metadata import METADATA_FILE, ModelMetadata

log = logging.getLogger(__name__)

CURRENT = "current"
HISTORY = "history.jsonl"
LOCK = ".lock"
WORK = ".work"
RESERVED = {CURRENT, HISTORY, LOCK, WORK}


class RegistryError(NotecheckError):
    """The registry cannot do what was asked (unknown version, nothing to roll back to, ...)."""


def check_version_name(version: str) -> str:
    """A version must be a plain directory name: not empty, not hidden, no path separators, not reserved."""
    if (
        not version
        or version.startswith(".")
        or "/" in version
        or "\\" in version
        or version in RESERVED
        or version.endswith((".partial", ".staging"))
    ):
        raise RegistryError(f"'{version}' cannot name a model version")
    return version


class Registry:
    """Model versions under `root`, one of them current. See the module docstring for the layout.

    >>> reg = Registry(Path("registry"))  # doctest: +SKIP
    >>> reg.add(Path("runs/default"), "v1"); reg.promote("v1", "first model")  # doctest: +SKIP
    >>> reg.current()  # doctest: +SKIP
    PosixPath('registry/v1')
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def work_dir(self) -> Path:
        """Where candidates are trained before `add` moves them in (hidden, so never a version)."""
        return self.root / WORK

    def versions(self) -> list[str]:
        """Complete model directories, oldest first (by their metadata's `created_at`, then name)."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or entry.name in RESERVED or entry.is_symlink() or not entry.is_dir():
                continue
            if (entry / METADATA_FILE).is_file():
                found.append(entry)
        return [p.name for p in sorted(found, key=lambda p: (_created_at(p), p.name))]

    def path(self, version: str) -> Path:
        """The directory of `version`; raises `RegistryError` when it is not in the registry."""
        path = self.root / check_version_name(version)
        if not (path / METADATA_FILE).is_file() or path.is_symlink():
            raise RegistryError(f"version '{version}' is not in the registry {self.root}")
        return path

    def current(self) -> Path | None:
        """The current version's directory, or None before the first promotion."""
        link = self.root / CURRENT
        if not link.is_symlink():
            return None
        target = self.root / os.readlink(link)
        return target if (target / METADATA_FILE).is_file() else None

    def current_version(self) -> str | None:
        path = self.current()
        return path.name if path is not None else None

    def add(self, model_dir: str | Path, version: str, move: bool = False) -> Path:
        """Bring a model directory into the registry as `version` (copied, or moved when `move`).

        The directory must be a loadable notecheck model (its `notecheck.json` is read). It becomes
        visible only once complete: it is written under a hidden name and renamed into place.
        """
        source = Path(model_dir)
        check_version_name(version)
        ModelMetadata.load(source)  # raises ModelLoadError naming the file when it is no model directory
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            target = self.root / version
            if target.exists() or target.is_symlink():
                raise RegistryError(f"version '{version}' already exists in {self.root}")
            incoming = self.root / f".incoming-{version}-{os.getpid()}"
            shutil.rmtree(incoming, ignore_errors=True)
            try:
                if move:
                    shutil.move(str(source), str(incoming))
                else:
                    shutil.copytree(source, incoming, symlinks=False)
                os.rename(incoming, target)
            except BaseException:
                shutil.rmtree(incoming, ignore_errors=True)
                raise
        log.info("registry %s: added %s", self.root, version)
        return target

    def history(self) -> list[dict[str, Any]]:
        """Every pointer switch so far, oldest first."""
        path = self.root / HISTORY
        if not path.is_file():
            return []
        entries = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except ValueError as exc:
                raise ModelLoadError(path, f"line {number} is not JSON: {exc}") from exc
        return entries

    def promoted(self) -> list[str]:
        """The stack of promoted versions, the current one last: promotions push, rollbacks pop."""
        stack: list[str] = []
        for entry in self.history():
            if entry.get("action") == "rollback":
                if stack:
                    stack.pop()
            else:
                stack.append(str(entry["version"]))
        return stack

    def promote(self, version: str, reason: str, expected_current: str | None = None) -> Path:
        """Make `version` current and log why. Returns its directory.

        With `expected_current`, refuse (`RegistryError`) unless that version is still current: a retrain
        gated against one model must not replace another that was promoted meanwhile.
        """
        with self._locked():
            target = self.path(version)
            now = self.current_version()
            if now == version:
                raise RegistryError(f"version '{version}' is already current")
            if expected_current is not None and now != expected_current:
                raise RegistryError(f"current is '{now}', not '{expected_current}': someone promoted meanwhile")
            self._switch(version, reason, action="promote")
        log.debug("registry %s: promoted %s (%s)", self.root, version, reason)
        return target

    def rollback(self, reason: str = "rollback") -> str:
        """Go back to the version promoted before the current one; returns it.

        Repeated rollbacks walk further back through the promotions. Raises `RegistryError` when there is
        no earlier promoted version.
        """
        with self._locked():
            stack = self.promoted()
            if len(stack) < 2:
                raise RegistryError(f"nothing to roll back to in {self.root}: only {len(stack)} promoted version(s)")
            previous = stack[-2]
            self.path(previous)  # still there?
            self._switch(previous, reason, action="rollback")
        log.debug("registry %s: rolled back to %s", self.root, previous)
        return previous

    def _switch(self, version: str, reason: str, action: str) -> None:
        """Replace the pointer atomically, then log the switch (call with the lock held).

        The pointer goes first: if replacing it fails, the history does not claim a switch that never
        happened.
        """
        previous = self.current_version()
        temp = self.root / f".{CURRENT}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        os.symlink(version, temp)  # relative: the registry can be moved or mounted elsewhere
        try:
            os.replace(temp, self.root / CURRENT)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        entry = {
            "version": version,
            "promoted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "previous": previous,
            "reason": reason,
            "action": action,
        }
        with (self.root / HISTORY).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK).open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _created_at(path: Path) -> str:
    try:
        return str(json.loads((path / METADATA_FILE).read_text(encoding="utf-8")).get("created_at", ""))
    except (OSError, ValueError, AttributeError):
        return ""
