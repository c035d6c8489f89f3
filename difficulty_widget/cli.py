"""Command line: ``difficulty-widget demo`` and ``difficulty-widget measures``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from .pipeline.demo import DATASETS

#: Training dynamics (data maps, forgetting events, AUM) compare epochs, so the demo needs at least two.
MIN_EPOCHS = 2
#: Seeds are passed to NumPy and scikit-learn, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def _epochs(text: str) -> int:
    value = _integer(text)
    if value < MIN_EPOCHS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_EPOCHS}, got {value}: the demo records training dynamics (data maps, forgetting "
            "events, area under the margin), which compare epochs"
        )
    return value


def _seed(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {MAX_SEED} (2**32 - 1), got {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The `difficulty-widget` command line: its subcommands and their options."""
    parser = argparse.ArgumentParser(prog="difficulty-widget", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train a small model, score every instance, save and summarise")
    demo.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits (embedded)")
    demo.add_argument("--out", default="demo-output", help="output folder (default: demo-output)")
    demo.add_argument(
        "--epochs",
        type=_epochs,
        default=None,
        help=f"training epochs, at least {MIN_EPOCHS} (default: 20 digits, 2 fashion)",
    )
    demo.add_argument("--seed", type=_seed, default=0, help=f"random seed, 0 .. {MAX_SEED} (default: 0)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.add_argument("--open", action="store_true", help="then write explore.ipynb and open it in JupyterLab")
    demo.set_defaults(subparser=demo)
    commands.add_parser("measures", help="print the table of registered measures (Markdown)")
    return parser


def check_out_folder(out: str) -> Path:
    """The output folder ``out`` (``~`` expanded), or a ValueError saying why the demo could not write there:
    it is a file, a folder above it is a file, it or the nearest existing folder above it is not writable, or
    its ``analysis.parquet`` is a folder."""
    if not out:
        raise ValueError("must be a folder path, got an empty string")
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is an existing file, not a folder; give a folder for the demo's files")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{str(folder)!r} cannot be created: {str(existing)!r} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise ValueError(f"cannot write to {str(existing)!r} ({err.strerror or err})") from None
    if (folder / "analysis.parquet").is_dir():
        raise ValueError(f"{str(folder / 'analysis.parquet')!r} is a folder; the demo writes its analysis there")
    return folder


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: the process arguments); the exit status.

    Bad arguments end in argparse's way, before any work: a usage line, a one-line error naming the argument,
    and exit status 2 (``SystemExit(2)``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .data import DatasetNotFoundError
        from .pipeline.demo import main_demo

        demo_parser = args.subparser  # errors get the subcommand's own usage line
        try:
            out = check_out_folder(args.out)
        except ValueError as err:
            demo_parser.error(f"argument --out: {err}")
        if args.open and importlib.util.find_spec("jupyterlab") is None:
            demo_parser.error("argument --open: JupyterLab is not installed (pip install jupyterlab)")
        try:
            return main_demo(args.dataset, os.fspath(out), args.epochs, args.seed, not args.no_progress, args.open)
        except DatasetNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    from .measures import registry

    print(registry.markdown_table(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
