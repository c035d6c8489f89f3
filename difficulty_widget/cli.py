"""Command line: ``difficulty-widget demo`` and ``difficulty-widget measures``."""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .pipeline.demo import DATASETS

#: Training dynamics (data maps, forgetting events, AUM) compare epochs, so the demo needs at least two.
MIN_EPOCHS = 2
#: More epochs than any sensible demo run (the defaults are 20 on digits, 2 on Fashion-MNIST).
MAX_EPOCHS = 10_000
#: Seeds are passed to NumPy and scikit-learn, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def _epochs(text: str) -> int:
    value = _integer(text, f"must be from {MIN_EPOCHS} to {MAX_EPOCHS}")
    if value < MIN_EPOCHS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_EPOCHS}, got {value}: the demo records training dynamics (data maps, forgetting "
            "events, area under the margin), which compare epochs"
        )
    if value > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_EPOCHS}, got {value}")
    return value


def _seed(text: str) -> int:
    expected = f"must be an integer from 0 to {MAX_SEED} (2**32 - 1)"
    value = _integer(text, expected)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{expected}, got {value}")
    return value


#: What ``--epochs`` and ``--seed`` accept: plain ASCII decimal digits, optionally after a minus sign (so that a
#: negative number gets the "at least" message). Not ``int()``'s syntax: no ``2_0``, no fullwidth or other Unicode
#: digits, no spaces.
_INTEGER = re.compile(r"-?[0-9]+")
#: More digits than any accepted value has (the largest is MAX_SEED, 10 digits): longer numbers are refused as too
#: large without being converted.
_MAX_DIGITS = 20


def _integer(text: str, expected: str) -> int:
    """``text`` as an int, or an ArgumentTypeError: not plain digits, or ``expected`` (the range) for a number with
    more than :data:`_MAX_DIGITS` digits."""
    if not _INTEGER.fullmatch(text):
        shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
        raise argparse.ArgumentTypeError(f"must be an integer, got {shown} (plain decimal digits 0-9 only)")
    digits = len(text.lstrip("-"))
    if digits > _MAX_DIGITS:
        sign = "negative " if text.startswith("-") else ""
        raise argparse.ArgumentTypeError(f"{expected}, got a {sign}{digits}-digit number")
    return int(text)


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
        help=f"training epochs, {MIN_EPOCHS} .. {MAX_EPOCHS} (default: 20 digits, 2 fashion)",
    )
    demo.add_argument("--seed", type=_seed, default=0, help=f"random seed, 0 .. {MAX_SEED} (default: 0)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.add_argument("--open", action="store_true", help="then write explore.ipynb and open it in JupyterLab")
    demo.set_defaults(subparser=demo)
    commands.add_parser("measures", help="print the table of registered measures (Markdown)")
    return parser


#: The files the demo writes in its output folder (:func:`~difficulty_widget.pipeline.demo.run_demo`: the analysis
#: and the Explorer's inputs; ``--open`` adds the notebook), with what each holds, for the messages.
DEMO_FILES = {
    "analysis.parquet": "its analysis",
    "embeddings.npy": "the embeddings",
    "templates.npy": "the class templates",
}
NOTEBOOK_FILES = {"explore.ipynb": "the notebook for --open"}


def check_out_folder(out: str, files: Mapping[str, str] = DEMO_FILES) -> Path:
    """The output folder ``out`` (``~`` expanded), or a ValueError saying why the demo could not write there:
    the path is empty, holds a NUL character, or is one the system refuses (a name too long); it is a file; it or
    a folder above it is a symbolic link to nothing (or a loop); a folder above it is a file; it or the nearest
    existing folder above it is not writable; or one of the ``files`` the demo writes there (name: what it holds)
    is a folder, a broken link, not a regular file, or a file that cannot be overwritten. Everything is checked
    before any training, so that nothing fails after it."""
    if not out:
        raise ValueError("must be a folder path, got an empty string")
    if "\x00" in out:
        raise ValueError(f"{out!r} holds a NUL character, which no path can hold")
    try:
        return _check_out_folder(Path(out).expanduser(), files)
    except OSError as err:  # the system refuses the path itself (a name too long, an I/O error)
        shown = repr(out) if len(out) <= 100 else repr(out[:100]) + f"... ({len(out)} characters)"
        raise ValueError(f"cannot use {shown} ({err.strerror or err})") from None


def _check_out_folder(folder: Path, files: Mapping[str, str]) -> Path:
    _refuse_broken_link(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is an existing file, not a folder; give a folder for the demo's files")
    existing = folder
    while not existing.exists():
        _refuse_broken_link(existing)  # mkdir(parents=True) cannot create a folder where a broken link is
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{str(folder)!r} cannot be created: {str(existing)!r} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise ValueError(f"cannot write to {str(existing)!r} ({err.strerror or err})") from None
    for name, what in files.items():
        path = folder / name
        _refuse_broken_link(path)
        if path.is_dir():
            raise ValueError(f"{str(path)!r} is a folder; the demo writes {what} there, as a file")
        if path.exists() and not path.is_file():
            raise ValueError(f"{str(path)!r} is not a regular file (a device, pipe or socket); the demo writes {what}")
        if name != "analysis.parquet" and path.exists() and not os.access(path, os.W_OK):
            # analysis.parquet is replaced (a new file renamed over it); the others are overwritten in place
            raise ValueError(f"{str(path)!r} cannot be overwritten (no write permission); the demo writes {what}")
    return folder


def _refuse_broken_link(path: Path) -> None:
    """A ValueError when ``path`` is a symbolic link whose target does not exist, or a loop of links."""
    if not path.is_symlink() or path.exists():
        return
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError(f"{str(path)!r} is a symbolic link that loops (too many levels of links)") from None
    raise ValueError(f"{str(path)!r} is a symbolic link to {os.readlink(path)!r}, which does not exist")


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
            out = check_out_folder(args.out, {**DEMO_FILES, **(NOTEBOOK_FILES if args.open else {})})
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
