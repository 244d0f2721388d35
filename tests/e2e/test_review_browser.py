"""The review loop end to end in a real browser: queue notes through the API, open /review in Chromium,
decide three notes by keyboard, undo one, check the database, export the decisions and retrain on them with
the gate (a TF-IDF model keeps it fast)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from browser_support import chromium_path, threaded_server
from sqlalchemy import select
from sqlalchemy.orm import Session

from notecheck.cli import main
from notecheck.model.classifier import Classifier
from notecheck.model.review.db import connect, forget_engines
from notecheck.model.review.queue import ReviewQueue
from notecheck.model.review.tables import ReviewDecision, ReviewItem
from notecheck.serving.app import create_app
from notecheck.serving.settings import Settings
from notecheck.training.config import TrainConfig
from notecheck.training.registry import Registry
from notecheck.training.retrain import DECISION_FILE, retrain

pytestmark = pytest.mark.slow


def synthetic(author: str, lang: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Behavioural test notes (not training data of the product): plain days out vs. code-and-link ads."""
    rows = []
    for i in range(2 * n):
        ad = i % 2 == 1
        if lang == "en":
            text = (
                f"Use my code {rng.choice('ABCDEF')}{rng.randint(10, 99)} for {rng.randint(5, 50)}% off, link in bio!"
                if ad
                else f"Walked to the {rng.choice(['park', 'lake', 'market'])} with my {rng.choice(['dog', 'kids'])}."
            )
        else:
            text = (
                f"私信我拿优惠码{rng.randint(10, 99)}，链接在主页，今天下单立减{rng.randint(5, 50)}元！"
                if ad
                else f"周{rng.choice('一三五日')}和{rng.choice(['妈妈', '闺蜜'])}去了{rng.choice(['公园', '海边'])}。"
            )
        label = "undisclosed_ad" if ad else "genuine"
        rows.append({"id": f"{author}-{i}", "author_id": author, "lang": lang, "label": label, "text": text})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def loop(tmp_path: Path) -> Any:
    """A registry with a first TF-IDF model, and a review database."""
    rng = random.Random(3)
    base = [r for i in range(16) for r in synthetic(f"au{i:02d}", "en" if i % 2 else "zh", 4, rng)]
    config = tmp_path / "run.yaml"
    data = write_jsonl(tmp_path / "base.jsonl", base)
    config.write_text(
        yaml.safe_dump({"model": "tfidf", "data": [str(data)], "split_file": str(tmp_path / "split.json")})
    )
    trained = tmp_path / "trained"
    retrain(trained, [], TrainConfig.load(config))  # a first model, as `notecheck demo` would leave one
    model_dir = Registry(trained).current()
    db = f"sqlite:///{tmp_path / 'review.db'}"
    yield {"model": model_dir, "db": db, "rng": rng, "tmp": tmp_path, "base": base}
    forget_engines()


def lease_to(moderator: str, note_id: str, db: str) -> None:
    with Session(connect(db)) as session, session.begin():
        item = session.scalars(select(ReviewItem).where(ReviewItem.note_id == note_id)).one()
        item.claimed_by, item.claimed_until = moderator, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)


def test_decide_by_keyboard_undo_export_and_retrain(loop: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    db = loop["db"]
    model = Classifier.from_pretrained(loop["model"])
    settings = Settings(database_url=db, review_explain_method="occlusion")
    fresh = [r for i in range(3) for r in synthetic(f"new{i}", "en" if i % 2 else "zh", 2, loop["rng"])]
    with threaded_server(create_app(settings, classifier=model)) as base:
        body = {
            "notes": [{"id": r["id"], "text": r["text"], "lang": r["lang"], "author_id": r["author_id"]} for r in fresh]
        }
        enqueued = httpx.post(f"{base}/v1/predict", json={**body, "enqueue": True}, timeout=60).json()["enqueued"]
        assert enqueued["added"] >= 4, enqueued
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{base}/review")
            page.fill("#name", "mia")
            page.click("button[type=submit]")
            item = page.locator("#item")
            seen = []
            for key in ("g", "u", "d"):
                note_id = item.get_attribute("data-note-id", timeout=30_000)
                assert note_id and note_id not in seen
                seen.append(note_id)
                page.keyboard.press(key)
                expect(page.locator("#flash")).to_contain_text("Saved", timeout=30_000)
                expect(item).not_to_have_attribute("data-note-id", note_id, timeout=30_000)
            page.keyboard.press("z")
            expect(page.locator("#flash")).to_contain_text("Undone", timeout=30_000)
            expect(item).to_have_attribute("data-note-id", seen[-1], timeout=30_000)
            assert "mia" in page.inner_text("#moderator")
            # her lease ran out and another moderator took the note: deciding it says so on the page
            lease_to("bob", seen[-1], db)
            page.keyboard.press("g")
            expect(page.locator("#flash")).to_contain_text("leased to another moderator", timeout=30_000)
            browser.close()
        # a note the training data holds, decided otherwise: a relabel
        ad = next(r for r in loop["base"] if r["label"] == "undisclosed_ad")
        note = {"id": ad["id"], "text": ad["text"], "lang": ad["lang"], "author_id": ad["author_id"]}
        httpx.post(f"{base}/v1/predict", json={"notes": [note], "enqueue": True}, timeout=60).raise_for_status()
    queue = ReviewQueue(connect(db))
    with Session(queue.engine) as session:
        item_id = session.scalars(select(ReviewItem.id).where(ReviewItem.note_id == ad["id"])).one()
    queue.decide(item_id, "mia", "genuine")
    with Session(connect(db)) as session:
        rows = session.scalars(select(ReviewDecision).order_by(ReviewDecision.id)).all()
    assert [(r.note_id, r.verdict, r.moderator) for r in rows] == [
        *zip(seen, ["genuine", "undisclosed_ad", "disclosed_ad"], ["mia"] * 3, strict=True),
        (ad["id"], "genuine", "mia"),
    ]
    assert [r.undone_by for r in rows][:3] == [None, None, "mia"]

    exported = loop["tmp"] / "decisions.jsonl"
    assert main(["review", "export", "-o", str(exported), "--db", db]) == 0
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["label"], r["writer"]) for r in lines] == [
        (seen[0], "genuine", "mia"),
        (seen[1], "undisclosed_ad", "mia"),
        (ad["id"], "genuine", "mia"),
    ]

    registry = loop["tmp"] / "registry"
    start = ["retrain", "--registry", str(registry), "--start-from", str(loop["model"])]
    assert main([*start, "--from-review", db]) == 0
    reg = Registry(registry)
    before = loop["model"].name
    assert reg.history()[0]["version"] == before  # adopted first, then the candidate was gated against it
    candidate = sorted(v for v in reg.versions() if v != before)[-1]
    decision = json.loads((reg.path(candidate) / DECISION_FILE).read_text(encoding="utf-8"))
    snapshot = [d for d in decision["data"] if "/review/decisions-" in d]
    assert len(snapshot) == 1 and Path(snapshot[0]).read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
    assert decision["current_version"] == before and isinstance(decision["promote"], bool)
    (relabel,) = decision["relabels"]
    assert (relabel["id"], relabel["old"], relabel["new"], relabel["writer"]) == (
        ad["id"],
        "undisclosed_ad",
        "genuine",
        "mia",
    )

    # the same command again (README step 5): adopting is a no-op, and only the newest snapshot is trained on
    assert main([*start, "--from-review", db]) == 0
    newest = sorted((registry / "review").glob("decisions-*.jsonl"))
    assert len(newest) == 2
    second = max((v for v in reg.versions() if v not in (before, candidate)), default=None)
    assert second is not None
    again = json.loads((reg.path(second) / DECISION_FILE).read_text(encoding="utf-8"))
    assert [d for d in again["data"] if "/review/decisions-" in d] == [str(newest[-1])]
    other = loop["tmp"] / "other"
    assert main(["retrain", "--registry", str(registry), "--start-from", str(other)]) == 2  # not a model
