"""Finding the ``.env`` file that feeds every settings class.

Order: ``MP_ENV_FILE`` when set (an empty value turns env files off), else the nearest ``.env``
in the working directory or its parents, stopping at the first folder that is a repository root.
Walking up matters because nox and pytest run from a package's folder, several levels below the
repository's ``.env``; stopping at the repository root keeps a stray ``.env`` in a home folder
from leaking into a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from mp_config.exceptions import EnvFileError

__all__ = ["ENV_FILE_VARIABLE", "find_env_file"]

ENV_FILE_VARIABLE = "MP_ENV_FILE"
_ENV_FILE_NAME = ".env"
_REPOSITORY_MARKERS = (".git", ".hg")


def find_env_file(start: Path | None = None) -> Path | None:
    """Return the env file to read, or ``None`` when there is none.

    Args:
        start: folder to search from; the working directory when omitted.

    Raises:
        EnvFileError: ``MP_ENV_FILE`` names something that is not a readable file.
    """
    explicit = os.environ.get(ENV_FILE_VARIABLE)
    if explicit is not None:
        if explicit.strip() == "":
            return None
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise EnvFileError(
                f"{ENV_FILE_VARIABLE} is set to {path}, which is not a file; "
                f"create it (copy .env.example) or unset {ENV_FILE_VARIABLE}"
            )
        if not os.access(path, os.R_OK):
            raise EnvFileError(f"{ENV_FILE_VARIABLE} names {path}, which cannot be read")
        return path.resolve()

    folder = (start or Path.cwd()).resolve()
    for candidate_folder in (folder, *folder.parents):
        candidate = candidate_folder / _ENV_FILE_NAME
        if candidate.is_file():
            return candidate
        if any((candidate_folder / marker).exists() for marker in _REPOSITORY_MARKERS):
            return None
    return None
