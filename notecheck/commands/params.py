"""Options several commands share, declared once so they read the same everywhere.

Naming rules: `--model DIR` is always a model directory; `--backend` picks what `train` builds; `-o/--output FILE`
is always the file holding a command's results; `--out DIR` is a directory a command writes (a model, a report).
Only light modules are imported here: `notecheck --help` must not load torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notecheck.model.options import Runtime
from notecheck.model.paths import bundled_path

#: where `notecheck demo` and `notecheck train` put the default model: ./runs/default, or the clone's from elsewhere
DEFAULT_MODEL = Path(bundled_path("runs/default"))

ModelDir = Annotated[Path, typer.Option("--model", metavar="DIR", help="model directory")]
#: `--split FILE` of the commands that copy a model and check the copy on its validation writers
HeldOutSplit = Annotated[
    Path | None,
    typer.Option(metavar="FILE", help="frozen split whose training and validation notes count (default: the model's)"),
]
RuntimeOption = Annotated[
    Runtime,
    typer.Option(
        help="inference runtime: auto = openvino (compiled once per model and cached; bf16 on CPUs with native "
        "bf16, else fp32), else torch bf16 or fp32; fp32 is exact; int8 is faster but loses accuracy"
    ),
]
DataFiles = Annotated[
    list[str] | None,
    typer.Option("--data", metavar="PATH", help="note file (.jsonl, .csv, .parquet) or directory; repeat for more"),
]
TextColumn = Annotated[str, typer.Option(metavar="NAME", help="input column holding the note text")]
LabelColumn = Annotated[
    str, typer.Option(metavar="NAME", help="input column holding the labels (verdicts, or commercial/genuine)")
]
IdColumn = Annotated[str, typer.Option(metavar="NAME", help="input column holding the note ids")]
TitleColumn = Annotated[str, typer.Option(metavar="NAME", help="input column holding the note titles")]
LabelMap = Annotated[str, typer.Option(metavar="PAIRS", help="extra RAW=LABEL pairs, comma separated")]
SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help="skip and count invalid rows instead of stopping")]
JsonOutput = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        envvar="NOTECHECK_DATABASE_URL",
        help="review database: sqlite:///FILE or postgresql://... (default: sqlite:///notecheck.db)",
    ),
]
