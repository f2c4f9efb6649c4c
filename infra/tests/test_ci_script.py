"""`.ci/run` runs the README's own commands, so a missing install step shows in CI."""

from __future__ import annotations

import re
from pathlib import Path


def _readme_commands(root: Path) -> list[str]:
    text = (root / "README.md").read_text()
    block = re.search(r"<!-- quickstart -->\s*```(?:bash|sh)?\n(.*?)```", text, re.DOTALL)
    assert block is not None, "README.md needs a quickstart block after <!-- quickstart -->"
    return [
        line.strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_ci_runs_every_readme_quickstart_command(root: Path) -> None:
    """Each quickstart command appears verbatim in .ci/run, in the same order."""
    ci_lines = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()]
    positions = []
    for command in _readme_commands(root):
        assert command in ci_lines, f".ci/run does not run: {command}"
        positions.append(ci_lines.index(command))
    assert positions == sorted(positions)


def test_quickstart_has_two_commands(root: Path) -> None:
    """The quickstart is two commands: bring up and migrate, then test."""
    commands = _readme_commands(root)
    assert len(commands) == 2
    assert "up" in commands[0]
    assert "migrate" in commands[0]
    assert "-s test" in commands[1]
