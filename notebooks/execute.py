"""Execute the tutorial notebooks and keep their outputs, ready to commit.

    python notebooks/execute.py                     # every notebook, then the run-time table in README.md
    python notebooks/execute.py 02 05_class_similarity  # only those named (path, file name, stem or its start)
    python notebooks/execute.py --check             # exit 1 when a committed notebook is stale (no execution)

Each notebook runs top to bottom in a fresh kernel whose working folder is a temporary directory (nothing is
written into notebooks/). Its outputs are kept, less what must not be committed: widget state and widget views
(GitHub cannot render them; their text/plain fallback stays), execution timestamps, and progress-bar redraws.
Images over ``MAX_IMAGE_WIDTH`` pixels are downscaled and every PNG is re-encoded with a palette, so each file
stays under ``MAX_NOTEBOOK_BYTES``. The notebook's metadata ``difficulty_widget`` records the SHA-256 of its code
cells' sources (``code_sha256``), the cells that printed nothing (``no_output``) and the run time in seconds;
``tests/test_notebooks.py`` fails when the hash no longer matches the code, or a cell lost its outputs. The
run-time table in README.md (between the ``run-times`` markers) is written from those metadata.

The test suite calls :func:`execute_notebook` (and writes nothing back), so the tests and this script run the
notebooks the same way.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import platform
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
META = "difficulty_widget"
MAX_NOTEBOOK_BYTES = 1_000_000
MAX_IMAGE_WIDTH = 720
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
TABLE_START, TABLE_END = "<!-- run-times: written by notebooks/execute.py -->", "<!-- /run-times -->"
TIMEOUT = 900
PROGRESS = re.compile(r"\|\s*\d+/\d+ \[")
ADDRESS = re.compile(r" at 0x[0-9a-f]+>")
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+\s+(DEBUG|INFO)\b.*\n?", re.M)  # e.g. Ray's


def notebooks(names: list[str] | None = None) -> list[Path]:
    """The tutorial notebooks, sorted; with ``names``, those named (a path, a file name, a stem or its start)."""
    every = sorted(HERE.glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).stem
        match = [p for p in every if p.stem == stem] or [p for p in every if p.stem.startswith(stem)]
        if len(match) != 1:
            raise SystemExit(f"no single notebook {name!r} in {HERE} (there are: {', '.join(p.stem for p in every)})")
        chosen += match
    return chosen


def code_sha256(nb) -> str:
    """SHA-256 of the code cells' sources, in order: changes when code is edited, added, removed or moved."""
    sources = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode()).hexdigest()


def execute_notebook(path: Path, workdir: Path | None = None, timeout: int = TIMEOUT):
    """Run the notebook at ``path`` top to bottom; return the cleaned notebook and its run time in seconds.

    The file is not written. The kernel's working folder is ``workdir`` (default: a new temporary directory,
    removed afterwards). A cell that raises stops the run with ``nbclient.exceptions.CellExecutionError``.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory(prefix=f"nb-{path.stem}-") as tmp:
        folder = str(workdir or tmp)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}})
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
    clean(nb)
    nb.metadata[META] = {
        "code_sha256": code_sha256(nb),
        "no_output": [cell.id for cell in nb.cells if cell.cell_type == "code" and not cell.outputs],
        "run_seconds": round(seconds, 1),
        "measured_on": f"{os.cpu_count()} CPU cores, {platform.python_implementation()} {platform.python_version()}",
        "executed": date.today().isoformat(),
    }
    return nb, seconds


def _last_redraw(text: str) -> str:
    # a progress bar redraws its line with carriage returns: keep what the line shows last
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def clean(nb) -> None:
    """Strip what changes every run or renders nothing on GitHub, and downscale images (in place)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream":
                out.text = LOG_RECORD.sub("", _last_redraw(out.text))
                if not out.text.strip():
                    continue
            if out.output_type in ("display_data", "execute_result"):
                widget = out.data.pop(WIDGET_MIME, None) is not None
                text = out.data.get("text/plain", "")
                if widget and PROGRESS.search(text):
                    continue  # a tqdm bar as a widget: its fallback text shows it at 0%
                if text:
                    out.data["text/plain"] = ADDRESS.sub(">", text)  # "<... object at 0x7f...>" differs every run
                out.metadata.pop(WIDGET_MIME, None)
                out.metadata.pop("image/png", None)  # width/height hints of the original size
                if "image/png" in out.data:
                    out.data["image/png"] = shrink_png(out.data["image/png"])
                if not out.data:
                    continue
            kept.append(out)
        cell.outputs = kept


def shrink_png(data: str, max_width: int = MAX_IMAGE_WIDTH) -> str:
    """A base64 PNG at most ``max_width`` pixels wide, palette-encoded when that is smaller."""
    from PIL import Image

    raw = base64.b64decode(data)
    image = Image.open(io.BytesIO(raw))
    resized = image.width > max_width
    if resized:
        image = image.convert("RGB").resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
    if image.mode not in ("P", "L"):
        image = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    smaller = out.getvalue() if resized or len(out.getvalue()) < len(raw) else raw
    return base64.b64encode(smaller).decode()


def problems(path: Path) -> list[str]:
    """Why the committed notebook at ``path`` is not a fresh, clean execution of its code (empty when it is)."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get(META, {})
    found = []
    if path.stat().st_size >= MAX_NOTEBOOK_BYTES:
        found.append(f"{path.stat().st_size} bytes, over {MAX_NOTEBOOK_BYTES}")
    if meta.get("code_sha256") != code_sha256(nb):
        found.append("code changed since it was executed (or never executed by notebooks/execute.py)")
    silent = set(meta.get("no_output", []))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "id" not in cell:
            found.append("a code cell has no id")
        if not cell.outputs and cell.get("id") not in silent:
            found.append(f"cell {cell.get('id')} has no outputs")
        if cell.execution_count is None and cell.outputs:
            found.append(f"cell {cell.get('id')} has outputs but no execution count")
        for out in cell.outputs:
            if out.output_type == "error":
                found.append(f"cell {cell.get('id')} has an error output")
            if WIDGET_MIME in out.get("data", {}):
                found.append(f"cell {cell.get('id')} keeps a widget view")
    if "widgets" in nb.metadata:
        found.append("widget state in the notebook's metadata")
    return found


def run_time_table(paths: list[Path]) -> str:
    """The Markdown table of each notebook's recorded run time."""
    rows = ["| notebook | run time | measured on |", "| --- | ---: | --- |"]
    for path in paths:
        meta = nbformat.read(path, as_version=4).metadata.get(META, {})
        seconds = meta.get("run_seconds")
        shown = "not executed" if seconds is None else f"{seconds:.0f} s"
        where = f"{meta.get('measured_on', '')}, {meta.get('executed', '')}".strip(", ")
        rows.append(f"| [{path.stem}]({path.name}) | {shown} | {where} |")
    return "\n".join(rows)


def write_table(readme: Path = HERE / "README.md") -> None:
    """Replace the table between the run-time markers in ``readme`` (appended when the markers are missing)."""
    text = readme.read_text()
    block = f"{TABLE_START}\n{run_time_table(notebooks())}\n{TABLE_END}"
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to execute (default: all)")
    parser.add_argument("--check", action="store_true", help="only report stale notebooks; exit 1 if any")
    args = parser.parse_args(argv)
    paths = notebooks(args.names)
    if args.check:
        stale = {p.name: problems(p) for p in paths}
        for name, why in stale.items():
            print(f"{name}: {'; '.join(why) or 'ok'}")
        return int(any(stale.values()))
    for path in paths:
        print(f"{path.name} ...", end=" ", flush=True)
        nb, seconds = execute_notebook(path)
        nbformat.write(nb, path)
        print(f"{seconds:.0f} s, {path.stat().st_size / 1e3:.0f} kB", flush=True)
        if path.stat().st_size >= MAX_NOTEBOOK_BYTES:
            print(f"  {path.name} is over {MAX_NOTEBOOK_BYTES} bytes: shrink its images or outputs", file=sys.stderr)
    write_table()
    bad = {p.name: why for p in paths if (why := problems(p))}
    for name, why in bad.items():
        print(f"{name}: {'; '.join(why)}", file=sys.stderr)
    return int(bool(bad))


if __name__ == "__main__":
    sys.exit(main())
