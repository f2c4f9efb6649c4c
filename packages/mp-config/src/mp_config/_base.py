"""The base class every mp settings class derives from, and its loader.

Each service has its own small class and prefix, so a connector that talks only to Redis
validates only ``MP_REDIS_*``. Loading goes through :meth:`MpSettings.load`, which finds the env
file (see :mod:`mp_config._env_file`) and turns pydantic's validation errors into a
:class:`~mp_config.exceptions.SettingsValidationError` that names environment variables and
never values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mp_config._env_file import find_env_file
from mp_config.exceptions import EnvFileError, SettingProblem, SettingsValidationError

__all__ = ["SECRETS_DIR_VARIABLE", "MpSettings"]

SECRETS_DIR_VARIABLE = "MP_SECRETS_DIR"


class MpSettings(BaseSettings):
    """Common configuration: immutable, unknown variables ignored, inputs hidden in errors."""

    model_config = SettingsConfigDict(
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        case_sensitive=False,
        validate_default=True,
        env_file_encoding="utf-8",
        # An empty `MP_PG_SSLMODE=` in .env means "not set", as the .env.example comments say.
        env_ignore_empty=True,
    )

    #: A one-line, human name used in error messages ("PostgreSQL settings").
    display_name: ClassVar[str] = "settings"

    @classmethod
    def env_variable(cls, field_name: str) -> str:
        """The environment variable that feeds ``field_name`` (e.g. ``MP_PG_PORT``)."""
        prefix = str(cls.model_config.get("env_prefix", ""))
        return f"{prefix}{field_name}".upper()

    @classmethod
    def load(cls, *, env_file: Path | bool | None = True, **overrides: Any) -> Self:
        """Read the settings from the environment, the env file and ``overrides``.

        Args:
            env_file: ``True`` to discover the env file (``MP_ENV_FILE`` or the nearest
                ``.env``), a path to read that file, ``None``/``False`` to read none.
            **overrides: field values that win over every other source.

        Raises:
            SettingsValidationError: a variable is missing or invalid; each one is named.
            EnvFileError: ``MP_ENV_FILE`` does not name a readable file.
        """
        if env_file is True:
            path: Path | None = find_env_file()
        elif env_file is False or env_file is None:
            path = None
        else:
            path = Path(env_file)
            if not path.is_file():
                raise EnvFileError(f"env file {path} does not exist")
        secrets_dir = os.environ.get(SECRETS_DIR_VARIABLE) or None
        if secrets_dir is not None and not Path(secrets_dir).is_dir():
            raise EnvFileError(f"{SECRETS_DIR_VARIABLE} is set to {secrets_dir}, not a folder")
        source = f"environment and {path}" if path else "environment (no env file)"
        try:
            return cls(_env_file=path, _secrets_dir=secrets_dir, **overrides)
        except ValidationError as error:
            # Rebuilt from scratch rather than chained: pydantic keeps the rejected input in
            # ``errors()``, and the input may be a password.
            raise SettingsValidationError(cls.display_name, _problems(cls, error), source) from None


def _problems(cls: type[MpSettings], error: ValidationError) -> list[SettingProblem]:
    problems = []
    for detail in error.errors(include_input=False, include_url=False):
        location = detail.get("loc", ())
        variable = cls.env_variable(str(location[0])) if location else cls.env_variable("*")
        message = str(detail.get("msg", "invalid value")).removeprefix("Value error, ")
        if detail.get("type") == "missing":
            message = "is required but not set"
        problems.append(SettingProblem(variable=variable, message=message))
    return problems
