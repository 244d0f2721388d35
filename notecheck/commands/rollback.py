"""`notecheck rollback`: make the previously promoted model current again."""

from __future__ import annotations

import argparse

HELP = "switch a registry's current model back to the one promoted before it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", required=True, help="model registry directory")
    parser.add_argument("--reason", default="manual rollback", help="recorded in the registry's history")


def run(args: argparse.Namespace) -> int:
    from notecheck.training.registry import Registry

    registry = Registry(args.registry)
    before = registry.current_version()
    after = registry.rollback(args.reason)
    print(f"rolled back from {before} to {after}")
    print(f"current {after}")
    return 0
