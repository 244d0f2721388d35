"""Cross-writer generalisation: each training recipe on the same writer-held-out folds (`make bench`).

    python benchmarks/generalization.py [--folds 5] [--train-notes 1600] [--steps 100] [--recipes ft lp ...]
        [--keep-layers 0,2,4,6,8,10 --out benchmarks/results/generalization_6_layers.json.gz]

Every fold holds out a group of whole writers (both languages; `training/crosswriter.py`). A recipe is
trained on the other writers under the same budget, its temperature, signal combiner and thresholds are
fitted on a second group of unseen writers, and it is scored on the held-out writers (*out*) and on unseen
authors of its own training writers (*in*, the in-distribution figure). Results are saved after every run,
so an interrupted benchmark picks up where it stopped. The writers of the frozen test split
(`data/splits.json`) are never used here.

`--keep-layers` trains a shallower encoder instead: the base with only those transformer layers (renumbered in
order; embeddings as they are), the start of a faster student, judged here on the same unseen writers.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import (  # noqa: E402
    RESULTS_DIR,
    machine_info,
    markdown_table,
    read_results,
    setup_logging,
    write_results,
)
from notecheck.model.classifier import Classifier  # noqa: E402
from notecheck.model.disclosure import rate  # noqa: E402
from notecheck.model.loader import LabelledNote  # noqa: E402
from notecheck.model.schema import VERDICTS, is_commercial  # noqa: E402
from notecheck.training.config import TrainConfig  # noqa: E402
from notecheck.training.crosswriter import Fold, make_folds  # noqa: E402
from notecheck.training.splits import Split, content_hash  # noqa: E402

log = logging.getLogger("benchmarks.generalization")

#: name -> (what it is, TrainConfig overrides). `wise_ft` reuses the `lp_ft` run (see `run_recipe`).
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "tfidf": ("character n-gram TF-IDF + logistic regression (baseline)", {"model": "tfidf"}),
    "ft": ("full fine-tuning, [CLS] head, lr 5e-5 (the previous default)", {"recipe": "ft", "pooling": "cls"}),
    "ft_low": (
        "full fine-tuning, mean pooling, lr 2e-5, half the steps",
        {"recipe": "ft", "pooling": "mean", "learning_rate": 2e-5, "half_steps": True},
    ),
    "lp": ("linear probe on frozen mean-pooled embeddings", {"recipe": "lp", "pooling": "mean"}),
    "lp_ft": (
        "LP-FT: probe, then fine-tune from it at lr 1e-5",
        {"recipe": "lp_ft", "pooling": "mean", "learning_rate": 1e-5, "head_learning_rate": 1e-4},
    ),
    "wise_ft": ("WiSE-FT: halfway between the probe-initialised and the LP-FT weights", {}),
    "lp_ft_reg": (
        "LP-FT + label smoothing 0.1 + title dropout 0.5",
        {
            "recipe": "lp_ft",
            "pooling": "mean",
            "learning_rate": 1e-5,
            "head_learning_rate": 1e-4,
            "label_smoothing": 0.1,
            "title_dropout": 0.5,
        },
    ),
    "lp_ft_distilled": (
        "a shallower student of the fold's LP-FT model, distilled from it (--distill-layers): lr 6e-5 and 1.5x "
        "the steps, as `notecheck distill` trains 6 epochs to the teacher's 4 (each step costs about half)",
        {
            **{"recipe": "lp_ft", "pooling": "mean", "learning_rate": 6e-5, "head_learning_rate": 1e-4},
            **{"step_factor": 1.5, "epochs": 2},  # 2 epochs of the fold's notes hold the 1.5x steps
        },
    ),
}
DISTILLED = "lp_ft_distilled"  # trained only with --distill-layers, from the fold's own `lp_ft` model
WISE_ALPHA = 0.5
IN_TOLERANCE = 0.01  # the chosen recipe's in-distribution macro-F1 may be this far below the best
METRICS = ("macro_f1", "roc_auc", "verdict_macro_f1")


class MemoScorer:
    """Wraps a scorer so the same texts are scored once (a run is evaluated with and without the combiner)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.memo: dict[str, tuple[np.ndarray, int, bool]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def score(self, texts: Sequence[str]) -> Any:
        from notecheck.model.scorer import Scores

        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            got = self.inner.score(todo)
            for t, logit, n, cut in zip(todo, got.logits, got.n_tokens, got.truncated, strict=True):
                self.memo[t] = (np.asarray(logit), int(n), bool(cut))
        rows = [self.memo[t] for t in texts]
        logits = np.stack([r[0] for r in rows]) if rows else np.zeros((0, 2), dtype=np.float32)
        return Scores(logits=logits, n_tokens=[r[1] for r in rows], truncated=[r[2] for r in rows])


def fold_config(base: dict[str, Any], overrides: dict[str, Any], steps: int) -> TrainConfig:
    values = {**base, **{k: v for k, v in overrides.items() if k not in ("half_steps", "step_factor")}}
    values["max_steps"] = max(1, steps // 2) if overrides.get("half_steps") else steps
    if "step_factor" in overrides:
        values["max_steps"] = max(1, round(steps * overrides["step_factor"]))
    return TrainConfig.from_dict(values)


def note_rows(classifier: Classifier, notes: Sequence[LabelledNote]) -> dict[str, list[Any]]:
    """Per-note outcomes of `predict`, kept so folds can be pooled into overall figures."""
    preds = classifier.predict([n.note for n in notes])
    return {
        "label": [str(n.label) for n in notes],
        "lang": [str(n.note.lang) for n in notes],
        "p": [round(p.p_commercial, 5) for p in preds],
        "verdict": [p.verdict for p in preds],
    }


def metrics_of(rows: dict[str, list[Any]]) -> dict[str, Any]:
    from sklearn.metrics import f1_score, roc_auc_score

    labels = np.array([int(is_commercial(x)) for x in rows["label"]])
    called = np.array([int(is_commercial(v)) for v in rows["verdict"]])
    out: dict[str, Any] = {
        "n": len(labels),
        "macro_f1": float(f1_score(labels, called, average="macro", labels=[0, 1], zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, rows["p"])) if len(set(labels.tolist())) > 1 else None,
        "verdict_macro_f1": float(
            f1_score(rows["label"], rows["verdict"], labels=list(VERDICTS), average="macro", zero_division=0)
        ),
    }
    for lang in ("en", "zh"):
        idx = [i for i, x in enumerate(rows["lang"]) if x == lang]
        if idx:
            out[f"macro_f1_{lang}"] = float(
                f1_score(labels[idx], called[idx], average="macro", labels=[0, 1], zero_division=0)
            )
    return out


def evaluate_run(classifier: Classifier, fold: Fold, config: TrainConfig) -> dict[str, Any]:
    """Decisions fitted on the fold's validation writers, with and without the signal combiner."""
    from notecheck.training.pipeline import fit_decision

    classifier.scorer = MemoScorer(classifier.scorer)  # type: ignore[assignment]
    result: dict[str, Any] = {}
    for decision, combined in (("model", False), ("combined", True)):
        config.combiner = combined
        fit_decision(classifier, fold.validation, config)
        for where, notes in (("out", fold.test_out), ("in", fold.test_in)):
            rows = note_rows(classifier, notes)
            result[f"{decision}|{where}"] = {"metrics": metrics_of(rows), "rows": rows}
    return result


def probe_start(config: TrainConfig, fold: Fold) -> dict[str, Any]:
    """The probe-initialised weights LP-FT started from (the probe is deterministic), for WiSE-FT."""
    from notecheck.training.encoder.build import ensure_base_model
    from notecheck.training.probe import probe_into, snapshot
    from notecheck.training.trainer import build_scorer, labels_of, use_bf16

    scorer = build_scorer(ensure_base_model(config.base_model), config)
    probe_into(
        scorer, fold.train, fold.validation, labels_of(fold.train), labels_of(fold.validation),
        use_bf16(config.precision), config.probe_c,
    )  # fmt: skip
    return snapshot(scorer.model)


def run_recipe(name: str, fold: Fold, base: dict[str, Any], steps: int) -> dict[str, dict[str, Any]]:
    """Train one recipe on one fold and evaluate it; `lp_ft` also yields `wise_ft` from the same run."""
    from notecheck.training.pipeline import build_and_fit

    overrides = RECIPES[name][1]
    config = fold_config(base, overrides, steps)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="notecheck-gen-") as work:
        classifier, facts = build_and_fit(config, Split(fold.train, fold.validation, []), Path(work))
    seconds = time.perf_counter() - started
    out = {name: {**evaluate_run(classifier, fold, config), "train_seconds": round(seconds, 1), "facts": facts}}
    if name == "lp_ft":
        from notecheck.training.probe import interpolate

        inner = classifier.scorer.inner if isinstance(classifier.scorer, MemoScorer) else classifier.scorer
        classifier.scorer = inner
        interpolate(inner.model, probe_start(config, fold), WISE_ALPHA)
        out["wise_ft"] = {**evaluate_run(classifier, fold, config), "train_seconds": round(seconds, 1)}
    return out


def run_distilled(fold: Fold, base: dict[str, Any], steps: int, layers: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Train the fold's LP-FT model (the teacher, as `run_recipe("lp_ft")` does), then a student keeping
    `layers` of it with `notecheck distill`'s recipe and the same step budget; both evaluated alike."""
    from notecheck.model.classifier import model_input
    from notecheck.model.metadata import ModelMetadata
    from notecheck.training.distill import train_student
    from notecheck.training.pipeline import build_and_fit

    config = fold_config(base, RECIPES["lp_ft"][1], steps)
    student_config = fold_config({**base, "teacher": "the fold's lp_ft"}, RECIPES[DISTILLED][1], steps)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="notecheck-gen-") as work:
        root = Path(work)
        teacher, facts = build_and_fit(config, Split(fold.train, fold.validation, []), root)
        teacher_seconds = time.perf_counter() - started
        logits = teacher.scorer.score([model_input(n.note) for n in fold.train]).logits
        teacher.save_pretrained(root / "teacher")
        student_started = time.perf_counter()
        scorer, student_facts = train_student(
            root / "teacher", layers, fold.train, fold.validation, student_config, root / "student", logits
        )
        student_seconds = time.perf_counter() - student_started  # the probe and fine-tuning, not the teacher's part
    student = Classifier(scorer, ModelMetadata(backend="transformer", max_length=student_config.max_length))
    return {
        "lp_ft": {**evaluate_run(teacher, fold, config), "train_seconds": round(teacher_seconds, 1), "facts": facts},
        DISTILLED: {
            **evaluate_run(student, fold, student_config),
            "train_seconds": round(student_seconds, 1),
            "facts": student_facts,
        },
    }


def pooled(results: dict[str, Any], recipe: str, key: str) -> dict[str, Any] | None:
    """Overall metrics of a recipe over all folds' notes pooled together."""
    runs = [r[recipe][key]["rows"] for r in results["folds"].values() if recipe in r and key in r[recipe]]
    if not runs:
        return None
    merged = {k: [x for rows in runs for x in rows[k]] for k in runs[0]}
    return {**metrics_of(merged), "folds": len(runs)}


def render(results: dict[str, Any]) -> str:
    """The README's recipe table: writer-held-out figures first, in-distribution beside them."""
    header = ["recipe", "decision", "out macro-F1", "out ROC AUC", "out 3-verdict F1", "in macro-F1", "gap"]
    rows = []
    for recipe in RECIPES:
        for decision in ("combined", "model"):
            out, inn = pooled(results, recipe, f"{decision}|out"), pooled(results, recipe, f"{decision}|in")
            if not out or not inn:
                continue
            rows.append(
                [
                    recipe,
                    decision,
                    f"{out['macro_f1']:.3f}",
                    "-" if out["roc_auc"] is None else f"{out['roc_auc']:.3f}",
                    f"{out['verdict_macro_f1']:.3f}",
                    f"{inn['macro_f1']:.3f}",
                    f"{inn['macro_f1'] - out['macro_f1']:+.3f}",
                ]
            )
    settings = results["settings"]
    layers, distill = settings.get("keep_layers"), settings.get("distill_layers")
    title = f" of a {len(layers)}-layer encoder (base layers {layers})" if layers else ""
    if distill:
        title = f": LP-FT teachers and their {len(distill)}-layer distilled students (teacher layers {distill})"
    lines = [
        "### Cross-writer generalisation" + title,
        "",
        f"{settings['folds']} folds of whole writers; per fold {settings['train_notes']} training notes, "
        f"{settings['steps']} steps of {settings['batch_size']}, max {settings['max_length']} tokens. "
        "*out*: writers never seen in training; *in*: unseen authors of the training writers. "
        "*combined*: model logit + rule signals (the default decision); *model*: the model alone.",
        "",
        markdown_table(header, rows),
    ]
    summary = transformer_summary(results)
    if summary and not layers and not distill:  # the default is chosen among full-depth runs only
        chosen = choose_recipe(summary)
        lines += [
            "",
            f"Chosen default: **{chosen}** (the best writer-held-out macro-F1 among the transformer recipes whose "
            f"in-distribution macro-F1 is within {IN_TOLERANCE} of the best; combined decision).",
        ]
    return "\n".join(lines)


def choose_recipe(summary: dict[str, tuple[float, float]], tolerance: float = IN_TOLERANCE) -> str:
    """The default recipe: the best writer-held-out macro-F1 among recipes whose in-distribution macro-F1 is
    at most `tolerance` below the best in-distribution one. `summary`: recipe -> (out, in) macro-F1.

    >>> choose_recipe({"a": (0.80, 0.95), "b": (0.85, 0.945), "c": (0.86, 0.90)})
    'b'
    """
    best_in = max(inn for _, inn in summary.values())
    eligible = {r: out for r, (out, inn) in summary.items() if inn >= best_in - tolerance - 1e-12}
    return max(eligible, key=lambda r: (eligible[r], r))


def transformer_summary(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """recipe -> pooled (out, in) macro-F1 of the default decision (model + signals) for the transformer
    recipes; the TF-IDF baseline is reported beside them but is not a candidate for the default model."""
    summary = {}
    for recipe in RECIPES:
        out, inn = pooled(results, recipe, "combined|out"), pooled(results, recipe, "combined|in")
        if recipe not in ("tfidf", DISTILLED) and out and inn:
            summary[recipe] = (out["macro_f1"], inn["macro_f1"])
    return summary


def per_fold_table(results: dict[str, Any], recipe: str) -> str:
    header = ["fold", "held-out writers", "out macro-F1", "out ROC AUC", "out 3-verdict F1", "in macro-F1"]
    rows = []
    for index, fold in sorted(results["folds"].items()):
        run = fold.get(recipe)
        if not run:
            continue
        out, inn = run["combined|out"]["metrics"], run["combined|in"]["metrics"]
        rows.append(
            [
                index,
                ", ".join(results["writers"][index]),
                f"{out['macro_f1']:.3f}",
                "-" if out["roc_auc"] is None else f"{out['roc_auc']:.3f}",
                f"{out['verdict_macro_f1']:.3f}",
                f"{inn['macro_f1']:.3f}",
            ]
        )
    return markdown_table(header, rows)


def shallow_base(base_model: str, layers: Sequence[int]) -> str:
    """A copy of the base encoder keeping only `layers` (in that order, renumbered from 0), made once in the
    cache folder beside the converted base; its directory."""
    import hashlib

    from notecheck.model.errors import ConfigError
    from notecheck.training.encoder.build import cache_dir, ensure_base_model
    from notecheck.training.encoder.layers import check_layers, keep_layers

    source = Path(ensure_base_model(base_model))
    try:
        check_layers(source, layers)
    except ConfigError as exc:
        raise SystemExit(f"--keep-layers: {exc}") from None
    where = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:8]  # two bases of one folder name differ
    target = cache_dir() / "shallow_bases" / f"{source.name}-{where}-layers-{'-'.join(map(str, layers))}"
    if not (target / "model.safetensors").is_file():
        keep_layers(source, layers, target)
        log.info("a %d-layer copy of %s in %s", len(layers), source, target)
    return str(target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["data/notes"])
    parser.add_argument("--split-file", default="data/splits.json", help="its test writers are left out")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--train-notes", type=int, default=1600, help="training notes per fold (0: all)")
    parser.add_argument("--validation-notes", type=int, default=800, help="validation notes per fold (0: all)")
    parser.add_argument("--in-notes", type=int, default=500, help="in-distribution test notes per fold (0: all)")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per fine-tuning run")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--base-model", default="multilingual-e5-small")
    recipes = [r for r in RECIPES if r not in ("wise_ft", DISTILLED)]
    parser.add_argument("--recipes", nargs="+", default=recipes, choices=list(RECIPES))
    parser.add_argument(
        "--out", help=".json, or .json.gz (default: generalization.json.gz, or generalization_N_layers.json.gz)"
    )
    parser.add_argument("--model", help="ignored: this benchmark trains its own models (accepted for make bench)")
    parser.add_argument(
        "--keep-layers", default="", help="comma-separated layers of the base to keep (a shallower encoder)"
    )
    parser.add_argument(
        "--distill-layers",
        default="",
        help=f"comma-separated layers of each fold's lp_ft model that a distilled student keeps ({DISTILLED})",
    )
    args = parser.parse_args(argv)
    setup_logging()
    from notecheck.training.pipeline import data_files, load_training_notes

    layers = [int(i) for i in args.keep_layers.split(",") if i.strip()]
    distill = [int(i) for i in args.distill_layers.split(",") if i.strip()]
    if layers and distill:
        raise SystemExit("--keep-layers and --distill-layers: one at a time")
    base_model = shallow_base(args.base_model, layers) if layers else args.base_model
    name = f"generalization_{len(layers)}_layers" if layers else "generalization"  # never the full-depth results
    if DISTILLED in args.recipes and not distill:
        raise SystemExit(f"{DISTILLED}: needs --distill-layers (the student keeps those layers of each fold's lp_ft)")
    if distill:
        from notecheck.model.errors import ConfigError
        from notecheck.training.encoder.build import ensure_base_model
        from notecheck.training.encoder.layers import check_layers

        try:  # before any fold trains: a student needs layers its teacher (of the base's depth) has
            check_layers(Path(ensure_base_model(args.base_model)), distill, "--distill-layers")
        except ConfigError as exc:
            raise SystemExit(str(exc)) from None
        name = f"generalization_distilled_{len(distill)}_layers"
        args.recipes = ["tfidf", DISTILLED]  # the fold's lp_ft teacher is trained and reported with its student
    args.out = args.out or str(RESULTS_DIR / f"{name}.json.gz")
    base = {
        "data": [str(p) for p in data_files(args.data)],
        "split_file": "",
        "base_model": base_model,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "epochs": 1,
        "patience": 1,
        "checkpoint_every": 10**9,
        "version": "crosswriter",
    }
    notes = load_training_notes(TrainConfig.from_dict(base))
    exclude = frozen_test_writers(notes, args.split_file)
    folds = make_folds(
        notes,
        args.folds,
        exclude=exclude,
        max_train=args.train_notes,
        max_validation=args.validation_notes,
        max_in=args.in_notes,
    )
    keys = ("folds", "train_notes", "validation_notes", "in_notes", "steps", "max_length", "batch_size", "base_model")
    settings: dict[str, Any] = {k: getattr(args, k) for k in keys}
    if layers:
        settings["keep_layers"] = layers
    if distill:
        settings["distill_layers"] = distill
    # results are reused only for the same notes, the same held-out writers and the same rules
    settings["data_hash"] = content_hash(notes)[:16]
    settings["excluded"] = sorted(exclude)
    settings["code"] = rules_fingerprint(notes)
    out = Path(args.out)
    results = read_results(out) if out.is_file() else {}
    if results.get("settings") != settings:
        results = {"settings": settings, "folds": {}}
    results["writers"] = {str(f.index): f.test_writers for f in folds}
    results["excluded_test_writers"] = sorted(exclude)
    for fold in folds:
        log.info(fold.describe())
        done = results["folds"].setdefault(str(fold.index), {})
        for name in args.recipes:
            if name in done or name == "wise_ft":
                continue
            log.info("fold %d: %s", fold.index, name)
            if name == DISTILLED:
                done.update(run_distilled(fold, base, args.steps, distill))
            else:
                done.update(run_recipe(name, fold, base, args.steps))
            results["machine"] = machine_info(0)
            out.parent.mkdir(parents=True, exist_ok=True)
            write_results(results, out)
    table = render(results)
    Path(str(out).removesuffix(".gz")).with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    print(table)  # a benchmark's output is its table
    return 0


def rules_fingerprint(notes: Sequence[LabelledNote]) -> str:
    """What the rules make of the notes, hashed: every note's disclosure rating and combiner features, and
    the verdict rule's source. A change to the rules' behaviour invalidates saved results; a refactor that
    keeps their behaviour does not."""
    import hashlib
    import inspect

    from notecheck.model.classifier import decide
    from notecheck.model.combiner import FEATURES
    from notecheck.training.combine import note_features

    plain = [n.note for n in notes]
    rated = [rate(n.text, n.title) for n in plain]
    h = hashlib.sha256(inspect.getsource(decide).encode() + repr(FEATURES).encode())
    for d, features in zip(rated, note_features(plain, rated), strict=True):
        h.update(f"{d.rating}|{sorted(features.items())}\n".encode())
    return h.hexdigest()[:16]


def frozen_test_writers(notes: Sequence[LabelledNote], split_file: str) -> list[str]:
    """Writers whose notes are in the frozen test split: kept out of recipe selection."""
    from notecheck.training.crosswriter import writer_of
    from notecheck.training.splits import FrozenSplit

    path = Path(split_file)
    if not split_file or not path.is_file():
        return []
    test_ids = set(FrozenSplit.load(path).test_ids)
    return sorted({writer_of(n) for n in notes if n.note.id in test_ids})


if __name__ == "__main__":
    sys.exit(main())
