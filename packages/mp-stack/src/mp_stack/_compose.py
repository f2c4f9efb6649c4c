"""The compose backend: ``docker compose`` with the repository's docker-compose.yml."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mp_stack.exceptions import StackError

__all__ = ["ComposeStack", "compose_command"]


def compose_command() -> list[str] | None:
    """``docker compose`` (the v2 plugin) or a standalone ``docker-compose``, if present."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], check=False, capture_output=True, text=True
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


@dataclass
class ComposeStack:
    """The compose stack of one project folder."""

    project_dir: Path
    env_file: Path
    project_name: str = "mp"
    profiles: tuple[str, ...] = ()

    def _base(self) -> list[str]:
        command = compose_command()
        if command is None:
            raise StackError(
                "the compose backend needs `docker compose`; install Docker "
                "Compose v2 or use MP_STACK_BACKEND=native"
            )
        base = [
            *command,
            "--project-directory",
            str(self.project_dir),
            "--file",
            str(self.project_dir / "docker-compose.yml"),
            "--env-file",
            str(self.env_file),
            "--project-name",
            self.project_name,
        ]
        for profile in self.profiles:
            base += ["--profile", profile]
        return base

    def up(self, wait_seconds: float) -> None:
        """``up --detach --wait``: returns once every healthcheck passes."""
        result = subprocess.run(
            [*self._base(), "up", "--detach", "--wait", "--wait-timeout", str(round(wait_seconds))],
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                "docker compose up failed (see its output above); "
                "`docker compose logs` shows why a service is unhealthy"
            )

    def down(self, *, purge: bool = False) -> None:
        """``down`` (``--volumes`` with purge); idempotent."""
        command = [*self._base(), "down"] + (["--volumes"] if purge else [])
        result = subprocess.run(command, check=False)
        if result.returncode != 0:
            raise StackError("docker compose down failed (see its output above)")
