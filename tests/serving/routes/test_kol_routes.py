"""`POST /v1/kol/check`: the same report as the CLI, the reference it names, and clear 422s."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from kol_fakes import LabelClassifier, bundled, label_classifier, write_jsonl
from serving_support import running

from notecheck.cli import main
from notecheck.commands.kol import REFERENCE_SOURCE
from notecheck.model.classifier import Classifier
from notecheck.model.kol.data import reference_from_notes
from notecheck.model.kol.engagement import ReferenceDistribution
from notecheck.model.loader import LabelledNote
from notecheck.serving.app import create_app
from notecheck.serving.routes import default_routers, ops
from notecheck.serving.routes import kol as kol_routes
from notecheck.serving.settings import Settings

pytestmark = pytest.mark.anyio
AS_OF = "2026-11-20"
AUTHORS = ["en109", "en110", "en111", "en112", "en114", "en115", "zh101", "zh102", "zh309", "zh311", "zh314", "en101"]


def app_with(classifier: Any, reference: ReferenceDistribution | None | str = "unset", **settings: Any) -> Any:
    app = create_app(Settings(**settings), classifier=classifier, routers=[ops.router, kol_routes.router])
    if reference != "unset":
        app.state.kol_reference = reference
    return app


def note_json(item: LabelledNote) -> dict[str, Any]:
    n = item.note
    posted = n.metadata.get("posted_at")
    day = str(posted)[:10] if posted else None  # the loader gives ISO strings ("2026-10-31T00:00:00")
    out = {"id": n.id, "text": n.text, "title": n.title, "posted_at": day}
    out.update(
        {k: n.metadata[k] for k in ("exposure", "likes", "collects", "comments", "comment_texts") if k in n.metadata}
    )
    return out


def request_for(author: str, notes: list[LabelledNote], **extra: Any) -> dict[str, Any]:
    _, profiles = bundled()
    p = profiles[author]
    body = {
        "author_id": author,
        "profile": {"followers": p.followers, "account_type": p.account_type, "lang": p.lang},
        "notes": [note_json(n) for n in notes if n.note.author_id == author],
    }
    return {**body, **extra}


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[LabelledNote]]:
    """A data file with twelve bundled authors of every kind (enough for a reference distribution)."""
    notes, _ = bundled()
    chosen = [n for n in notes if n.note.author_id in AUTHORS]
    return write_jsonl(tmp_path_factory.mktemp("kol") / "subset.jsonl", chosen), chosen


def cli_report(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["kol", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def same(a: Any, b: Any) -> None:
    """Equal, floats to 1e-6 (batch composition may move the model's logits in the last bits)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            same(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-6)
    else:
        assert a == b


@pytest.mark.parametrize("author", ["en111", "en114"])
async def test_the_api_returns_the_cli_report_for_the_same_input(
    author: str,
    subset: tuple[Path, list[LabelledNote]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, notes = subset
    fake = label_classifier(notes)
    monkeypatch.setattr(Classifier, "from_pretrained", classmethod(lambda cls, *a, **k: fake))
    profiles = Path(__file__).resolve().parents[3] / "data" / "profiles.jsonl"
    cli = cli_report([str(path), "--author", author, "--as-of", AS_OF, "--profiles", str(profiles)], capsys)
    _, all_profiles = bundled()
    reference = reference_from_notes([n.note for n in notes], all_profiles, REFERENCE_SOURCE)
    async with running(app_with(fake, reference)) as client:
        r = await client.post("/v1/kol/check", json=request_for(author, notes, as_of=AS_OF))
    assert r.status_code == 200, r.text
    same(r.json(), cli)
    assert cli["notes_scored"] > 20 and cli["engagement"]["reference"]["n_authors"] == len(AUTHORS)
    assert cli["grade"] == "F"  # a private-order KOL and a bought-engagement account: not a trivial report


async def test_the_api_matches_the_cli_with_the_tiny_model(
    subset: tuple[Path, list[LabelledNote]],
    tiny_model_dir: Path,
    tiny_classifier: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, notes = subset
    profiles = Path(__file__).resolve().parents[3] / "data" / "profiles.jsonl"
    args = [str(path), "--author", "zh309", "--model", str(tiny_model_dir), "--no-reference"]
    cli = cli_report([*args, "--profiles", str(profiles)], capsys)
    async with running(app_with(tiny_classifier, None)) as client:
        r = await client.post("/v1/kol/check", json=request_for("zh309", notes, as_of=cli["as_of"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_version"] == "tiny-0"
    assert out["as_of_source"] == "given" and cli["as_of_source"] == "newest posted_at in the data"
    out["as_of_source"] = cli["as_of_source"]
    same(out, cli)
    assert out["engagement"]["reference"]["source"].startswith("fixed defaults")


async def test_without_followers_the_api_and_the_cli_both_say_not_measured(
    subset: tuple[Path, list[LabelledNote]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, notes = subset
    fake = label_classifier(notes)
    monkeypatch.setattr(Classifier, "from_pretrained", classmethod(lambda cls, *a, **k: fake))
    cli = cli_report([str(path), "--author", "en111", "--as-of", AS_OF, "--no-reference"], capsys)  # no profiles
    body = request_for("en111", notes, as_of=AS_OF)
    del body["profile"]
    async with running(app_with(fake, None)) as client:
        r = await client.post("/v1/kol/check", json=body)
    assert r.status_code == 200, r.text
    same(r.json(), cli)
    status = {s["name"]: s["status"] for s in cli["engagement"]["signals"]}
    assert status["likes_per_follower"] == "not_measured" and status["likes_per_exposure"] != "not_measured"
    assert cli["eligibility"]["rules"][0] == r.json()["eligibility"]["rules"][0]
    assert cli["eligibility"]["rules"][0]["status"] == "not_measured"


async def test_without_a_reference_set_the_bundled_data_is_used_once(
    subset: tuple[Path, list[LabelledNote]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, notes = subset
    calls: list[int] = []
    _, profiles = bundled()
    reference = reference_from_notes([n.note for n in notes], profiles, "bundled data")

    def fake_bundled() -> ReferenceDistribution | None:
        calls.append(1)
        return reference

    monkeypatch.setattr(kol_routes, "bundled_reference", fake_bundled)
    monkeypatch.setattr(kol_routes, "_bundled", [])
    async with running(app_with(label_classifier(notes))) as client:
        first = await client.post("/v1/kol/check", json=request_for("en114", notes))
        second = await client.post("/v1/kol/check", json=request_for("en109", notes))
    assert first.status_code == second.status_code == 200
    assert calls == [1]
    assert first.json()["engagement"]["reference"] == {"source": "bundled data", "method": "iqr", "n_authors": 12}
    assert first.json()["as_of_source"] == "newest posted_at in the data"
    monkeypatch.setattr(kol_routes, "_bundled", [None])  # no bundled data: the fixed defaults, and it says so
    async with running(app_with(label_classifier(notes))) as client:
        r = await client.post("/v1/kol/check", json=request_for("en114", notes))
    assert r.json()["engagement"]["reference"]["source"] == "fixed defaults (no reference distribution)"


async def test_rule_overrides_change_the_outcome(subset: tuple[Path, list[LabelledNote]]) -> None:
    _, notes = subset
    async with running(app_with(label_classifier(notes), None)) as client:
        default = (await client.post("/v1/kol/check", json=request_for("en109", notes))).json()
        strict = await client.post("/v1/kol/check", json=request_for("en109", notes, rules={"min_followers": 100000}))
    assert default["eligibility"]["eligible"] is True
    out = strict.json()
    assert out["eligibility"]["eligible"] is False and out["rules"]["min_followers"] == 100000
    assert [r["rule"] for r in out["eligibility"]["rules"] if not r["passed"]] == ["min_followers"]


def bad(source: list[LabelledNote], /, **changes: Any) -> dict[str, Any]:
    body = request_for("en109", source)
    body["notes"] = body["notes"][:3]
    for key, value in changes.items():
        if key.startswith("note0_"):
            body["notes"][0][key.removeprefix("note0_")] = value
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("changes", "field", "status"),
    [
        ({"note0_text": "  \n"}, "body.notes.0.text", 422),
        ({"note0_likes": -1}, "body.notes.0.likes", 422),
        ({"note0_posted_at": "20/11/2026"}, "body.notes.0.posted_at", 422),
        ({"note0_comment_texts": ["x" * 2001]}, "body.notes.0.comment_texts.0", 422),
        ({"note0_views": 10}, "body.notes.0.views", 422),
        ({"rules": {"min_folowers": 1}}, "body.rules.min_folowers", 422),
        ({"rules": {"min_followers": "lots"}}, "body.rules.min_followers", 422),
        ({"as_of": "yesterday"}, "body.as_of", 422),
        ({"as_of": "0001-01-09"}, "body.as_of", 422),
        ({"note0_posted_at": "0001-01-05"}, "body.notes.0.posted_at", 422),
        ({"note0_posted_at": "9999-12-31"}, "body.notes.0.posted_at", 422),
        ({"rules": {"window_days": 1000000}}, "body.rules.window_days", 422),
        ({"author_id": ""}, "body.author_id", 422),
        ({"notes": []}, "body.notes", 422),
    ],
)
async def test_invalid_requests_get_a_422_naming_the_field(
    subset: tuple[Path, list[LabelledNote]], changes: dict[str, Any], field: str, status: int
) -> None:
    _, notes = subset
    fake = label_classifier(notes)
    async with running(app_with(fake, None)) as client:
        r = await client.post("/v1/kol/check", json=bad(notes, **changes))
    assert r.status_code == status, r.text
    assert field in [e["field"] for e in r.json()["detail"]]
    assert fake.batches == [["warm-up"]]  # nothing reached the model


async def test_dates_near_year_one_are_refused_by_field_not_answered_500(
    subset: tuple[Path, list[LabelledNote]],
) -> None:
    _, notes = subset
    body = bad(notes, as_of="0001-01-09", note0_posted_at="0001-01-05")
    async with running(app_with(label_classifier(notes), None)) as client:
        r = await client.post("/v1/kol/check", json=body)
        fine = await client.post("/v1/kol/check", json=bad(notes, as_of="2026-11-20", rules={"window_days": 3650}))
    assert r.status_code == 422, r.text
    detail = {e["field"]: e["msg"] for e in r.json()["detail"]}
    assert set(detail) == {"body.as_of", "body.notes.0.posted_at"}
    assert "between 2000-01-01 and 2099-12-31" in detail["body.as_of"]
    assert fine.status_code == 200 and fine.json()["rules"]["window_days"] == 3650


async def test_too_many_notes_and_repeated_ids_are_refused(subset: tuple[Path, list[LabelledNote]]) -> None:
    _, notes = subset
    body = request_for("en109", notes)
    many = {**body, "notes": [{**body["notes"][0], "id": f"n{i}"} for i in range(Settings().max_kol_notes + 1)]}
    repeated = {**body, "notes": [body["notes"][0], body["notes"][0]]}
    async with running(app_with(LabelClassifier({}), None)) as client:
        r_many = await client.post("/v1/kol/check", json=many)
        r_repeated = await client.post("/v1/kol/check", json=repeated)
    assert r_many.status_code == 422 and r_many.json()["detail"][0]["field"] == "body.notes"
    async with running(app_with(LabelClassifier({}), None, max_kol_notes=1)) as client:
        r_limit = await client.post("/v1/kol/check", json={**body, "notes": body["notes"][:2]})
    assert r_limit.status_code == 422 and "at most 1 notes per account" in r_limit.json()["detail"][0]["msg"]
    assert "500" in r_many.json()["detail"][0]["msg"]
    assert r_repeated.status_code == 422
    assert r_repeated.json()["detail"] == [
        {"field": "body.notes.1.id", "msg": f"repeated id '{body['notes'][0]['id']}'", "type": "value_error"}
    ]


def test_the_default_app_serves_the_kol_route() -> None:
    paths = {route.path for router in default_routers() for route in router.routes}  # type: ignore[attr-defined]
    assert "/v1/kol/check" in paths


def test_note_dates_travel_as_iso_strings() -> None:
    note = kol_routes.KolNoteIn(id="a", text="t", posted_at=dt.date(2026, 11, 20), likes=3).to_note("u1")
    assert note.metadata == {"posted_at": "2026-11-20", "likes": 3} and note.author_id == "u1"
