"""The README's Quickstart has exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.strip().splitlines()]


def test_quickstart_has_two_commands_demo_then_tests():
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    assert "difficulty-widget demo" in commands[0]
    assert ".[test]" in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert quickstart_commands()[1] in ci.splitlines()
