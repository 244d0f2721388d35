"""What defines a deployment: one `Settings`, read from `NOTECHECK_*` environment variables.

Settings refuse unsafe or nonsensical values at startup rather than at the first request: a server bound
to a public address with no API keys (unless `NOTECHECK_ALLOW_UNAUTHENTICATED=true` says so on purpose),
limits that could never be met, a queue too small for one full request.

>>> Settings(model_dir="runs/default").port
8000
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from notecheck.model.errors import ConfigError
from notecheck.model.options import DEFAULT_RUNTIME, ExplainMethod, Runtime

MIN_API_KEY_CHARS = 16  # a shorter key is guessable; `python -c "import secrets; print(secrets.token_urlsafe())"`


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine (`127.0.0.0/8`, `::1`, `localhost`)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


class Settings(BaseSettings):
    """Deployment settings. Every field reads `NOTECHECK_<FIELD>`; explicit arguments override the env."""

    model_config = SettingsConfigDict(env_prefix="NOTECHECK_", extra="forbid", frozen=True)

    model_dir: Path | None = None  # the model directory to serve (required unless a classifier is injected)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # comma-separated in NOTECHECK_API_KEYS; SecretStr keeps them out of reprs and logs
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    allow_unauthenticated: bool = False  # serve without keys on a non-loopback address, knowingly
    max_notes_per_request: int = Field(64, ge=1, le=10_000)
    max_note_chars: int = Field(20_000, ge=1, le=1_000_000)  # per note text (and title)
    max_body_bytes: int = Field(2_000_000, ge=1024, le=100_000_000)
    max_explain_notes: int = Field(8, ge=1, le=64)  # notes per /v1/explain request: each costs seconds of CPU
    max_kol_notes: int = Field(500, ge=1, le=5000)  # notes per account in one /v1/kol/check request
    batch_max_tokens: int = Field(8192, ge=16, le=1_000_000)  # estimated tokens per model batch
    batch_max_wait_ms: float = Field(10.0, ge=0, le=10_000)  # how long a batch waits to fill
    batch_max_notes: int = Field(64, ge=1, le=10_000)
    batching: bool = True  # False: each request's notes run alone (for benchmarks)
    queue_max_notes: int = Field(1024, ge=1, le=1_000_000)  # bounded queue: beyond it, HTTP 429
    runtime: Runtime = DEFAULT_RUNTIME
    # a long-running server's memory (serving/memory.py; measured by benchmarks/soak.py)
    pad_multiple: int = Field(16, ge=1, le=512)  # a batch's token length is padded up to a multiple: few shapes
    malloc_trim: bool = True  # give freed memory back to the system once the queue is idle (glibc only)
    malloc_trim_idle_ms: float = Field(50.0, ge=0, le=60_000)  # how long the queue stays empty before that
    malloc_arena_max: int = Field(2, ge=0, le=1024)  # malloc heaps, set by `notecheck serve` (0: glibc default)
    log_text: bool = False  # put note text into request logs (off: notes are personal data)
    # the review workspace (/review) and its queue
    database_url: str | None = None  # unset: sqlite:///notecheck.db in the working directory
    # comma-separated `name:key` pairs; a moderator key signs in as that name. API keys sign in too (name typed).
    moderator_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # signs review sessions (≥ 32 characters); unset: random per start (`serve --workers N` shares one)
    session_secret: SecretStr | None = Field(None, min_length=32)
    review_lease_s: int = Field(600, ge=10, le=86_400)  # how long a claimed note stays with its moderator
    review_uncertainty_weight: float = Field(0.6, ge=0, le=1)  # see notecheck.model.review.priority
    review_reach_weight: float = Field(0.4, ge=0, le=1)
    review_full_reach_exposure: int = Field(100_000, ge=1)
    review_audit_share: float = Field(0.05, ge=0, le=1)
    review_unknown_reach: float = Field(0.5, ge=0, le=1)  # reach of a note sent without its exposure
    review_explain_method: ExplainMethod | Literal["none"] = "ig"  # word evidence on the review page

    @field_validator("api_keys", "moderator_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """Accept `"k1,k2"` (from the environment), a JSON list, or a list; blanks are dropped."""
        if isinstance(value, str) and value.strip().startswith("["):
            value = json.loads(value)
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        if isinstance(value, list | tuple):
            return [k.get_secret_value() if isinstance(k, SecretStr) else str(k).strip() for k in value]
        return value

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for i, key in enumerate(keys):
            if len(key.get_secret_value()) < MIN_API_KEY_CHARS:
                raise ValueError(f"key #{i + 1} has fewer than {MIN_API_KEY_CHARS} characters: too easy to guess")
        return keys

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str | None) -> str | None:
        """A URL of a supported database (sqlite, postgresql), refused at start rather than at the first note."""
        if url is not None:
            from notecheck.model.review.db import database_url

            try:
                database_url(url)
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("NOTECHECK_DATABASE_URL: ")) from exc
        return url

    @field_validator("moderator_keys")
    @classmethod
    def _named_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for i, entry in enumerate(keys):
            name, sep, key = entry.get_secret_value().partition(":")
            if not sep or not name.strip():
                raise ValueError(f"moderator key #{i + 1} is not `name:key`")
            if len(key.strip()) < MIN_API_KEY_CHARS:
                raise ValueError(f"moderator key #{i + 1} has fewer than {MIN_API_KEY_CHARS} characters")
        return keys

    @model_validator(mode="after")
    def _safe(self) -> Settings:
        if not self.api_keys and not self.allow_unauthenticated and not is_loopback(self.host):
            raise ValueError(
                f"refusing to serve without authentication on {self.host!r}: set NOTECHECK_API_KEYS "
                "(comma-separated), or bind to 127.0.0.1, or set NOTECHECK_ALLOW_UNAUTHENTICATED=true "
                "if a proxy in front authenticates"
            )
        if self.queue_max_notes < self.max_notes_per_request:
            raise ValueError(
                f"queue_max_notes ({self.queue_max_notes}) is smaller than max_notes_per_request "
                f"({self.max_notes_per_request}): a full request could never be queued"
            )
        return self

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)

    @property
    def review_auth_enabled(self) -> bool:
        """Whether signing in to /review needs a key (a moderator key or an API key)."""
        return bool(self.api_keys or self.moderator_keys)

    def moderator_names(self) -> dict[str, str]:
        """`{key: name}` of the moderator keys."""
        out = {}
        for entry in self.moderator_keys:
            name, _, key = entry.get_secret_value().partition(":")
            out[key.strip()] = name.strip()
        return out

    def auth_summary(self) -> str:
        """One line for the startup banner: whether and why requests must carry a key."""
        if self.api_keys:
            return f"on ({len(self.api_keys)} API key{'s' if len(self.api_keys) > 1 else ''})"
        if is_loopback(self.host):
            return "OFF (no API keys; bound to loopback only)"
        return "OFF (no API keys; NOTECHECK_ALLOW_UNAUTHENTICATED is set)"


def load_settings(**overrides: Any) -> Settings:
    """`Settings` from the environment with `overrides` on top (None values are ignored).

    Raises `ConfigError` with one line naming each bad setting, for the CLI to print.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from exc


def describe(exc: ValidationError) -> str:
    """`NOTECHECK_PORT: Input should be ...; ...`: the env names a deployer would edit."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        name = f"NOTECHECK_{field.split('.')[0].upper()}" if field else "settings"
        parts.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(parts)
