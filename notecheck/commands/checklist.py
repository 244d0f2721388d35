"""`notecheck checklist --model DIR`: behavioural tests (CheckList) grouped by capability, with pass rates.

notecheck checklist --model runs/default
notecheck checklist --model runs/default --json --out checklist.json
"""

from __future__ import annotations

import argparse
import json

HELP = "run the behavioural test suite (funnels, complaints, disclosures, invariances, directions)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--out", help="also write the results (with failing cases) to this JSON file")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from notecheck.model.classifier import Classifier
    from notecheck.training.checklist import build_cases, markdown, run_checklist, save

    classifier = Classifier.from_pretrained(args.model)
    results = run_checklist(classifier, build_cases())
    if args.out:
        save(results, args.out)
    if args.json:
        print(json.dumps([asdict(r) | {"pass_rate": r.pass_rate} for r in results], ensure_ascii=False, indent=2))
    else:
        print(f"model {classifier.version}\n\n{markdown(results)}")
    return 0
