"""`notecheck checklist --model DIR`: behavioural tests (CheckList) grouped by capability, with pass rates.

notecheck checklist --model runs/default
notecheck checklist --model runs/default --json -o checklist.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import JsonOutput, ModelDir


def checklist(
    model: ModelDir,
    as_json: JsonOutput = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="also write the results, failing cases included, as JSON"),
    ] = None,
) -> None:
    """Run the behavioural test suite (CheckList), with pass rates.

    Capabilities: funnels, complaints, disclosures, invariances, directions.
    """
    from dataclasses import asdict

    from notecheck.model.classifier import Classifier
    from notecheck.training.checklist import build_cases, markdown, run_checklist, save

    classifier = Classifier.from_pretrained(model)
    results = run_checklist(classifier, build_cases())
    if output is not None:
        save(results, output)
    if as_json:
        print(json.dumps([asdict(r) | {"pass_rate": r.pass_rate} for r in results], ensure_ascii=False, indent=2))
    else:
        print(f"model {classifier.version}\n\n{markdown(results)}")
