"""`notecheck explain "text"`: one note's verdict, with the words the model used highlighted and the rule signals.

    notecheck explain "原价399现在199，私信我拿优惠码，冲！" --title "油皮救星" --method ig --top-k 8
    notecheck explain - --html why.html < note.txt

Colours (background by score, signals underlined) when writing to a terminal; otherwise, or with --no-color,
the top evidence words are put in [brackets].
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "explain a note's verdict: the words the model used and the rule signals"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help='the note text ("-" reads it from stdin)')
    parser.add_argument("--title", default="", help="the note title")
    parser.add_argument("--model", default="runs/default", help="model directory")
    parser.add_argument("--method", default="ig", choices=("ig", "grad_x_input", "occlusion"))
    parser.add_argument("--top-k", type=int, default=8, help="evidence words to show")
    parser.add_argument("--html", metavar="FILE", help="also write the explanation as an HTML page")
    parser.add_argument("--no-color", action="store_true", help="plain text: top evidence in [brackets]")


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def run(args: argparse.Namespace) -> int:
    from notecheck.model.classifier import Classifier
    from notecheck.model.errors import NotecheckError
    from notecheck.model.explain import Explainer
    from notecheck.model.highlight import explanation_ansi, html_page
    from notecheck.model.schema import Note

    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise NotecheckError("text: the note is empty")
    classifier = Classifier.from_pretrained(args.model)
    (e,) = Explainer(classifier).explain([Note(text=text, title=args.title)], method=args.method, top_k=args.top_k)
    p = e.prediction
    print(
        f"{p.verdict}  P(commercial) {p.p_commercial:.3f}  action {p.action}  "
        f"disclosure {p.disclosure.rating} ({p.disclosure.reason})"
    )
    print(f"method {e.method}, model {e.model_version}" + (", truncated" if p.truncated else "") + "\n")
    print(explanation_ansi(e, color=use_color(args.no_color)) + "\n")
    print("top words (calibrated log-odds of commercial):" if e.evidence else "no word raised P(commercial)")
    for rank, w in enumerate(e.evidence, 1):
        print(f"  {rank:2d}. {w.score:+8.3f}  {w.text}  ({w.field} {w.start}:{w.end})")
    print("signals:" if e.signals else "signals: none")
    for s in e.signals:
        print(f"  {s.kind:15s} {s.text!r}  ({s.field} {s.start}:{s.end}; {s.detail})")
    if args.html:
        Path(args.html).write_text(html_page([e]), encoding="utf-8")
        print(f"\nHTML written to {args.html}")
    return 0
