"""Settings: env parsing, overrides, and refusal of unsafe or nonsensical deployments."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from serving_support import KEY, OTHER_KEY

from notecheck.model.errors import ConfigError
from notecheck.serving.settings import Settings, is_loopback, load_settings


def test_defaults_are_safe_and_match_the_documented_limits() -> None:
    s = Settings()
    assert (s.host, s.port, s.runtime) == ("127.0.0.1", 8000, "auto")
    assert (s.max_notes_per_request, s.max_note_chars, s.max_body_bytes) == (64, 20_000, 2_000_000)
    assert not s.auth_enabled and not s.log_text and s.batching
    assert "loopback" in s.auth_summary()


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTECHECK_API_KEYS", f" {KEY} ,{OTHER_KEY},")
    monkeypatch.setenv("NOTECHECK_HOST", "0.0.0.0")
    monkeypatch.setenv("NOTECHECK_PORT", "9000")
    monkeypatch.setenv("NOTECHECK_MODEL_DIR", "runs/default")
    monkeypatch.setenv("NOTECHECK_BATCH_MAX_WAIT_MS", "0")
    s = Settings()
    assert [k.get_secret_value() for k in s.api_keys] == [KEY, OTHER_KEY]
    assert s.port == 9000 and str(s.model_dir) == "runs/default" and s.batch_max_wait_ms == 0
    assert KEY not in repr(s) and KEY not in str(s.model_dump())  # keys stay out of logs
    assert s.auth_summary() == "on (2 API keys)"


def test_keys_may_come_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTECHECK_API_KEYS", f'["{KEY}", "{OTHER_KEY}"]')
    assert [k.get_secret_value() for k in Settings().api_keys] == [KEY, OTHER_KEY]


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTECHECK_PORT", "9000")
    monkeypatch.setenv("NOTECHECK_RUNTIME", "bf16")
    s = load_settings(port=8001, runtime=None)
    assert s.port == 8001 and s.runtime == "bf16"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com"])
def test_public_address_without_keys_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="NOTECHECK_API_KEYS") as info:
        load_settings(host=host)
    assert "\n" not in str(info.value) and host in str(info.value)
    assert Settings(host=host, api_keys=[KEY]).auth_enabled
    assert "ALLOW_UNAUTHENTICATED" in Settings(host=host, allow_unauthenticated=True).auth_summary()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.2", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"api_keys": "short"}, "NOTECHECK_API_KEYS"),
        ({"max_notes_per_request": 0}, "NOTECHECK_MAX_NOTES_PER_REQUEST"),
        ({"max_note_chars": -1}, "NOTECHECK_MAX_NOTE_CHARS"),
        ({"max_body_bytes": 10}, "NOTECHECK_MAX_BODY_BYTES"),
        ({"batch_max_tokens": 0}, "NOTECHECK_BATCH_MAX_TOKENS"),
        ({"batch_max_wait_ms": -5}, "NOTECHECK_BATCH_MAX_WAIT_MS"),
        ({"batch_max_notes": 0}, "NOTECHECK_BATCH_MAX_NOTES"),
        ({"queue_max_notes": 10}, "queue_max_notes"),  # smaller than one full request (64)
        ({"runtime": "fp16"}, "NOTECHECK_RUNTIME"),
        ({"port": 70000}, "NOTECHECK_PORT"),
    ],
)
def test_nonsensical_values_are_refused(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(**changes)


def test_unknown_settings_are_refused_in_code() -> None:
    with pytest.raises(ValidationError):
        Settings(max_notes=3)  # type: ignore[call-arg]
