"""`notecheck <command> ...`: one console script, one module per command under `notecheck/commands/`.

Commands are plain typed functions, registered on the Typer app below from a static table. Command modules
import only light things at the top and the model, training and serving stacks inside the function, so
`notecheck --help` never loads torch. `main(argv)` runs the app and returns the exit code: 0 on success,
2 for a usage error, a `NotecheckError` or a file that cannot be read or written (one line on stderr; `-vv`
logs the traceback of the last), 130 when interrupted.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from notecheck.commands.base_model import base_model
from notecheck.commands.checklist import checklist
from notecheck.commands.demo import demo
from notecheck.commands.distill import distill
from notecheck.commands.evaluate import evaluate
from notecheck.commands.explain import explain
from notecheck.commands.faithfulness import faithfulness
from notecheck.commands.kol import kol
from notecheck.commands.predict import predict
from notecheck.commands.quantize import quantize
from notecheck.commands.retrain import retrain
from notecheck.commands.review import app as review_app
from notecheck.commands.rollback import rollback
from notecheck.commands.score import score
from notecheck.commands.serve import serve
from notecheck.commands.train import train
from notecheck.commands.trim_vocab import trim_vocab
from notecheck.model.errors import NotecheckError

USE, BUILD, CHECK = "Use a model", "Build and manage models", "Check a model"

#: (name, function, help panel), in the order `notecheck --help` lists them.
COMMANDS: tuple[tuple[str, Callable[..., Any], str], ...] = (
    ("predict", predict, USE),
    ("explain", explain, USE),
    ("score", score, USE),
    ("serve", serve, USE),
    ("kol", kol, USE),
    ("demo", demo, BUILD),
    ("base-model", base_model, BUILD),
    ("train", train, BUILD),
    ("evaluate", evaluate, BUILD),
    ("retrain", retrain, BUILD),
    ("rollback", rollback, BUILD),
    ("trim-vocab", trim_vocab, BUILD),
    ("quantize", quantize, BUILD),
    ("distill", distill, BUILD),
    ("faithfulness", faithfulness, CHECK),
    ("checklist", checklist, CHECK),
)

#: Global flags Click only reads before the command name; `main` moves them there from anywhere on the line.
GLOBAL_FLAG = re.compile(r"-v+|--verbose")

app = typer.Typer(
    name="notecheck",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for _name, _function, _panel in COMMANDS:
    app.command(_name, rich_help_panel=_panel)(_function)
app.add_typer(review_app, rich_help_panel=USE)


def version() -> str:
    return importlib.metadata.version("notecheck")


def _print_version(value: bool) -> None:
    if value:
        print(f"notecheck {version()}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="more log lines on stderr: -v info, -vv debug; before or after the command",
        ),
    ] = 0,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Tell genuine lifestyle notes from undisclosed ads (Chinese and English)."""
    configure_logging(verbose)


def configure_logging(verbosity: int) -> None:
    """Warnings only by default (each command prints its own summary on stdout); -v adds info, -vv debug.

    Progress bars (tqdm, on stderr) show either way.
    """
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_libraries(verbose=verbosity >= 2)


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


def hoist_global_flags(args: Sequence[str]) -> list[str]:
    """Move `-v`/`--verbose` in front of the command, so `notecheck train -v` works like `notecheck -v train`.

    Arguments after `--` are left alone (`notecheck predict -- -v` predicts the note "-v").

    >>> hoist_global_flags(["train", "--epochs", "1", "-vv", "--", "-v"])
    ['-vv', 'train', '--epochs', '1', '--', '-v']
    """
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if GLOBAL_FLAG.fullmatch(a)]
    rest = [a for a in args[:end] if not GLOBAL_FLAG.fullmatch(a)]
    return [*flags, *rest, *args[end:]]


def one_line(message: str) -> str:
    """An error message on one line, whatever a library put in it.

    >>> one_line("weights do not load:\\n  header too small\\n")
    'weights do not load: header too small'
    """
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run `notecheck` with `argv` (default: the process's arguments) and return the exit code."""
    args = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    command = next((a for a in args if not a.startswith("-")), "")
    try:
        result = app(args=args, prog_name="notecheck", standalone_mode=False)
    except NotecheckError as exc:
        print(f"notecheck {command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file no command checked first: still one line naming it, never a traceback
        logging.getLogger("notecheck").debug("%s failed", command, exc_info=True)
        named = f"{exc.filename}: " if exc.filename else ""
        print(f"notecheck {command}: error: {named}{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except typer.TyperException as exc:  # Click's usage errors (an unknown command, a missing option, ...)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"notecheck: error: {exc.format_message()}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        result = 130
    if result == 130:  # Typer turns an interrupt inside a command into exit code 130
        print(f"notecheck {command}: interrupted", file=sys.stderr)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
