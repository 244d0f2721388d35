"""`notecheck explain "text"`: one note's verdict, with the words the model used highlighted and the rule signals.

    notecheck explain "原价399现在199，私信我拿优惠码，冲！" --title "油皮救星" --method ig --top-k 8
    notecheck explain - --html why.html < note.txt

Colours (background by score, signals underlined) when writing to a terminal; otherwise, or with --no-color,
the top evidence words are put in [brackets].
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from notecheck.commands.params import DEFAULT_MODEL, ModelDir, RuntimeOption
from notecheck.model.options import DEFAULT_RUNTIME, ExplainMethod


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def explain(
    text: Annotated[str, typer.Argument(metavar="TEXT", help='the note text ("-" reads it from stdin)')],
    title: Annotated[str, typer.Option(help="the note title")] = "",
    model: ModelDir = DEFAULT_MODEL,
    method: Annotated[
        ExplainMethod, typer.Option(help="attribution method (occlusion is the only one for TF-IDF models)")
    ] = "ig",
    top_k: Annotated[int, typer.Option(min=1, help="evidence words to show")] = 8,
    html: Annotated[Path | None, typer.Option(metavar="FILE", help="also write an HTML page")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="plain text, top evidence in brackets")] = False,
    runtime: RuntimeOption = DEFAULT_RUNTIME,
) -> None:
    """Explain one note's verdict: evidence words and rule signals."""
    from notecheck.model.classifier import Classifier
    from notecheck.model.errors import NotecheckError
    from notecheck.model.explain import Explainer
    from notecheck.model.highlight import explanation_ansi, html_page
    from notecheck.model.schema import Note

    body = sys.stdin.read() if text == "-" else text
    if not body.strip():
        raise NotecheckError("text: the note is empty")
    classifier = Classifier.from_pretrained(model, runtime=runtime)  # bf16 (auto) halves the cost of IG
    (e,) = Explainer(classifier).explain([Note(text=body, title=title)], method=method, top_k=top_k)
    p = e.prediction
    print(
        f"{p.verdict}  P(commercial) {p.p_commercial:.3f}  action {p.action}  "
        f"disclosure {p.disclosure.rating} ({p.disclosure.reason})"
    )
    print(f"method {e.method}, model {e.model_version}" + (", truncated" if p.truncated else "") + "\n")
    print(explanation_ansi(e, color=use_color(no_color)) + "\n")
    print("top words (calibrated log-odds of commercial):" if e.evidence else "no word raised P(commercial)")
    for rank, w in enumerate(e.evidence, 1):
        print(f"  {rank:2d}. {w.score:+8.3f}  {w.text}  ({w.field} {w.start}:{w.end})")
    print("signals:" if e.signals else "signals: none")
    for s in e.signals:
        print(f"  {s.kind:15s} {s.text!r}  ({s.field} {s.start}:{s.end}; {s.detail})")
    if html is not None:
        html.write_text(html_page([e]), encoding="utf-8")
        print(f"\nHTML written to {html}")
