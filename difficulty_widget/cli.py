"""Command line: ``difficulty-widget demo`` and ``difficulty-widget measures``."""

from __future__ import annotations

import argparse
import sys

from .pipeline.demo import DATASETS


def build_parser() -> argparse.ArgumentParser:
    """The `difficulty-widget` command line: its subcommands and their options."""
    parser = argparse.ArgumentParser(prog="difficulty-widget", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train a small model, score every instance, save and summarise")
    demo.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits (embedded)")
    demo.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs (default: 20 digits, 2 fashion)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.add_argument("--open", action="store_true", help="then write explore.ipynb and open it in JupyterLab")
    commands.add_parser("measures", help="print the table of registered measures (Markdown)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: the process arguments); the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .data import DatasetNotFoundError
        from .pipeline.demo import main_demo

        try:
            return main_demo(args.dataset, args.out, args.epochs, args.seed, not args.no_progress, args.open)
        except DatasetNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    from .measures import registry

    print(registry.markdown_table(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
