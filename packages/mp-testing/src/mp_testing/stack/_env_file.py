"""Creating ``.env`` from ``.env.example`` with fresh random secrets.

A new clone has no ``.env``; ``mp-stack up`` writes one so that the stack, compose and every
settings class read the same values, and no secret is ever committed.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

__all__ = ["ensure_env_file", "is_secret_variable"]

_ASSIGNMENT = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_SECRET_SUFFIXES = ("_PASSWORD", "_SECRET_ACCESS_KEY", "_SECRET")


def is_secret_variable(name: str) -> bool:
    """True for variables whose value is a secret (passwords, secret keys)."""
    return name.endswith(_SECRET_SUFFIXES)


def ensure_env_file(env_file: Path, template: Path) -> bool:
    """Write ``env_file`` from ``template`` unless it exists; returns True when it was created.

    Every secret variable in the template gets a new random value (URL-safe, so it needs no
    quoting in an env file or a URL). The file is created readable by its owner only.
    """
    if env_file.exists():
        return False
    if not template.is_file():
        raise FileNotFoundError(f"{template} is missing: cannot create {env_file}")
    lines = []
    for line in template.read_text().splitlines():
        match = _ASSIGNMENT.match(line)
        if match and is_secret_variable(match.group("name")):
            lines.append(f"{match.group('name')}={secrets.token_urlsafe(24)}")
        else:
            lines.append(line)
    descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return True
