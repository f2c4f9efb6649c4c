"""Creating ``.env`` from ``.env.example`` with fresh random secrets.

A new clone has no ``.env``; ``mp-stack up`` writes one so that the stack, compose and every
settings class read the same values, and no secret is ever committed.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

__all__ = [
    "PLACEHOLDERS",
    "ensure_env_file",
    "is_secret_variable",
    "placeholder_secrets",
    "placeholder_warning",
]

#: Values .env.example ships for secrets: fine in the template, never in a working .env.
PLACEHOLDERS = frozenset({"change-me", "changeme", "change_me"})

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


def placeholder_secrets(env_file: Path) -> list[str]:
    """Secret variables still set to a placeholder (``change-me``), in ``env_file`` or in the
    environment (which wins over the file, as for every settings class).

    A ``.env`` copied by hand from ``.env.example`` keeps them; ``mp-stack up`` warns loudly and
    ``status`` reports them.
    """
    values: dict[str, str] = {}
    if env_file.is_file():
        for line in env_file.read_text(errors="replace").splitlines():
            match = _ASSIGNMENT.match(line.strip())
            if match and is_secret_variable(match.group("name")):
                values[match.group("name")] = match.group("value").strip().strip("'\"")
    for name, value in os.environ.items():
        if name.startswith("MP_") and is_secret_variable(name):
            values[name] = value
    return sorted(name for name, value in values.items() if value.lower() in PLACEHOLDERS)


def placeholder_warning(env_file: Path) -> str | None:
    """The warning for :func:`placeholder_secrets`, or ``None`` when there is nothing to say."""
    names = placeholder_secrets(env_file)
    if not names:
        return None
    return (
        f"WARNING: {', '.join(names)} {'is' if len(names) == 1 else 'are'} still the"
        " placeholder 'change-me' from .env.example"
        f" (in {env_file} or the environment): anyone who has read the template knows them."
        " Put real secrets there, or delete that .env and run `python3 -m nox -s up`, which"
        " writes one with fresh random passwords (for an existing stack, change the passwords"
        " of its roles too)."
    )
