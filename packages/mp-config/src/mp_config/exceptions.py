"""Errors raised by mp-config.

The hierarchy::

    ConfigError (ValueError)
    ├── SettingsValidationError   one or more variables are missing or invalid
    ├── EnvFileError              MP_ENV_FILE names a file that cannot be read
    └── MissingDependencyError    an optional dependency (an extra) is not installed

No error from this package ever carries a setting's value: validation problems are reported by
variable name and rule only, because the value may be a password.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "EnvFileError",
    "MissingDependencyError",
    "SettingProblem",
    "SettingsValidationError",
]


class ConfigError(ValueError):
    """Root of every mp-config error."""


@dataclass(frozen=True, slots=True)
class SettingProblem:
    """One invalid or missing setting.

    Attributes:
        variable: the environment variable that feeds the setting, e.g. ``MP_PG_PORT``.
        message: what is wrong, never including the value itself.
    """

    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


class SettingsValidationError(ConfigError):
    """Settings could not be loaded; ``problems`` names each bad variable."""

    def __init__(self, settings_name: str, problems: list[SettingProblem], source: str) -> None:
        self.settings_name = settings_name
        self.problems = tuple(problems)
        self.source = source
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"invalid {settings_name} ({len(self.problems)} problem(s); read from {source}):\n"
            f"{lines}"
        )


class EnvFileError(ConfigError):
    """``MP_ENV_FILE`` is set but does not name a readable file."""


class MissingDependencyError(ConfigError, ImportError):
    """An optional dependency is needed for this call; the message says which extra installs it."""
