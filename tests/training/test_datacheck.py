"""The writers' checker and the shortcut audit: they catch what the guideline forbids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notecheck.training.datacheck import check, main
from notecheck.training.shortcuts import SURFACE_FEATURES, auc, audit


def row(i: int, **kw: object) -> dict[str, object]:
    base = {
        "id": f"zw99-{i:04d}",
        "writer": "zw99",
        "author_id": "zw99-a01",
        "lang": "zh",
        "platform": "douyin",
        "category": "food",
        "form": "everyday",
        "label": "genuine",
        "title": "",
        "text": f"第{i}天 今天的午饭是楼下的牛肉面 汤有点咸 加了两勺醋才好",
        "posted_at": "2026-06-02",
        "exposure": 900,
        "likes": 40,
        "collects": 3,
        "comments": 12,
    }
    base.update(kw)
    return base


def write(tmp_path: Path, rows: list[dict[str, object]], extra: str = "") -> Path:
    notes = tmp_path / "notes"
    notes.mkdir(exist_ok=True)
    path = notes / "zw99.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + extra, encoding="utf-8")
    return path


def test_a_clean_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        row(1, text="老同学家的新米下来了 二十五斤一百三 煮出来一屋子香", pair_id="zw99-p001", pair_role="original"),
        row(
            2,
            text="老同学家的新米下来了 二十五斤一百三 我帮他团一波 要的评论区扣1",
            label="undisclosed_ad",
            form="group_buy",
            pair_id="zw99-p001",
            pair_role="edited",
        ),
        row(3, text="#广告 这条是谷丰堂找的 护肝片吃了一个月 没啥神奇的", label="disclosed_ad", form="supplement"),
    ]
    assert check(write(tmp_path, rows))[0] == []  # the pair twins are near-duplicates on purpose
    assert main([str(write(tmp_path, rows))]) == 0
    assert "surface features" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"label": "disclosed_ad", "form": "gifted"}, "rules rate 'none'"),
        ({"label": "undisclosed_ad", "form": "gifted", "text": "#广告 品牌寄来的 挺好用"}, "undisclosed_ad but"),
        ({"form": "gifted"}, "does not fit label"),
        ({"platform": "myspace"}, "platform"),
        ({"posted_at": "2025-01-01"}, "posted_at"),
        ({"likes": -3}, "likes"),
        ({"writer": "zw98"}, "writer"),
        ({"pair_id": "zw99-p009"}, "pair_id/pair_role"),
    ],
)
def test_each_guideline_breach_names_line_and_field(tmp_path: Path, bad: dict[str, object], message: str) -> None:
    problems, _ = check(write(tmp_path, [row(1), row(2, **bad)]))
    assert any(p.startswith("line 2 (zw99-0002)") and message in p for p in problems), problems


def test_near_duplicates_of_other_files_and_broken_pairs_are_reported(tmp_path: Path) -> None:
    text = "周末去了城西的旧书市场 淘到一本九十年代的菜谱 才八块钱 回家照着做了红烧肉"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "other.jsonl").write_text(json.dumps({"id": "o1", "text": text}) + "\n", encoding="utf-8")
    path = write(tmp_path, [row(1, text=text + "！"), row(2, pair_id="zw99-p001", pair_role="original")], "{oops\n")
    problems, _ = check(path)
    assert any("near-duplicate of o1" in p for p in problems)
    assert any("pair zw99-p001" in p for p in problems)
    assert any(p.startswith("line 3: invalid JSON") for p in problems)


def test_auc_and_the_audit() -> None:
    assert auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0 and auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert auc([1, 1, 2, 2], [0, 1, 0, 1]) == 0.5
    result = audit(["", "标题", "", "标题"], ["a #x", "b", "c #y #z", "d"], [1, 0, 1, 0])
    assert set(result) == set(SURFACE_FEATURES)
    assert result["hashtags"] == 1.0 and result["title present"] == 0.0
