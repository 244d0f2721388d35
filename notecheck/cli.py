"""`notecheck <command> ...`: one console script, one module per subcommand.

Each subcommand lives in `notecheck/commands/<name>.py` and defines `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Only the chosen command's module is imported, so `notecheck serve` never loads the
training stack and `notecheck --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from notecheck.model.errors import NotecheckError

#: command name -> module under notecheck.commands
COMMANDS: dict[str, str] = {
    "base-model": "base_model",
    "train": "train",
    "evaluate": "evaluate",
    "retrain": "retrain",
    "rollback": "rollback",
    "demo": "demo",
    "predict": "predict",
    "serve": "serve",
    "score": "score",
    "explain": "explain",
    "faithfulness": "faithfulness",
    "checklist": "checklist",
    "kol": "kol",
}


def _available() -> dict[str, str]:
    found = {}
    for name, module in COMMANDS.items():
        if importlib.util.find_spec(f"notecheck.commands.{module}") is not None:
            found[name] = module
    return found


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notecheck", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in _available().items():
        if only is not None and name != only:
            sub.add_parser(name)  # listed, but its arguments are only built when chosen
            continue
        module = importlib.import_module(f"notecheck.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def quiet_libraries(verbose: bool) -> None:
    """Library chatter (per-file progress bars, load reports) drowns our own progress bars.

    Set through the libraries' environment variables, before they are imported, so no command pays for
    importing a library it does not use.
    """
    if verbose:
        return
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(only=chosen if chosen is not None else "")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_libraries(verbose=args.verbose)
    try:
        return int(args._run(args) or 0)
    except NotecheckError as exc:
        print(f"notecheck {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"notecheck {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
