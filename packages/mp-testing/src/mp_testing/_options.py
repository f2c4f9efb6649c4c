"""The plugin's options: ``--mp-testing-*`` on the command line, ``mp_testing_*`` in the pytest
configuration, ``MP_TESTING_*`` in the environment.

Each option is one field of :class:`~mp_testing._settings.TestingSettings`. Precedence is
pytest-django's: the command line, then the environment variable, then the ini option, then
the ``.env`` file and the field's default (what ``TestingSettings.load()`` reads). So CI can
override a repository's ini with ``MP_TESTING_REQUIRE_SERVICES=true``, and a developer either
with a flag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from mp_config import ConfigError
from mp_testing._settings import BACKENDS, TestingSettings

__all__ = ["OPTIONS", "Option", "ResolvedOptions", "add_options", "resolve_options"]


@dataclass(frozen=True)
class Option:
    """One setting of the plugin, with its three spellings.

    Attributes:
        field: the :class:`TestingSettings` field (``backend``).
        help: what it does, for ``pytest --help``.
        choices: the accepted values, when there is a fixed list.
        is_flag: a boolean: ``--mp-testing-...`` alone sets it true.
    """

    field: str
    help: str
    choices: tuple[str, ...] | None = None
    is_flag: bool = False

    @property
    def flag(self) -> str:
        """The command-line option (``--mp-testing-backend``)."""
        return "--mp-testing-" + self.field.replace("_", "-")

    @property
    def ini(self) -> str:
        """The ini option (``mp_testing_backend``); also the ``dest`` of the flag."""
        return f"mp_testing_{self.field}"

    @property
    def variable(self) -> str:
        """The environment variable (``MP_TESTING_BACKEND``)."""
        return f"MP_TESTING_{self.field.upper()}"


#: Every option the plugin reads, in the order ``pytest --help`` lists them.
OPTIONS: tuple[Option, ...] = (
    Option(
        "backend",
        "where the test servers come from: " + ", ".join(BACKENDS) + " (default auto)",
        choices=BACKENDS,
    ),
    Option(
        "require_services",
        "fail, instead of skipping, the tests whose service cannot be had (CI sets it)",
        is_flag=True,
    ),
    Option("keep_databases", "keep each test's database afterwards, for debugging", is_flag=True),
    Option("postgres_image", "the TimescaleDB image of the container backend"),
    Option("redis_image", "the Redis image of the container backend"),
)


def add_options(parser: pytest.Parser) -> None:
    """Register every option in pytest's ``mp`` group and as an ini option."""
    group = parser.getgroup("mp", "mp-testing: real PostgreSQL/TimescaleDB and Redis")
    for option in OPTIONS:
        where = f"(overrides {option.variable} and the {option.ini} ini option)"
        if option.is_flag:
            group.addoption(
                option.flag,
                dest=option.ini,
                action="store_const",
                const="true",
                default=None,
                help=f"{option.help} {where}",
            )
        else:
            group.addoption(
                option.flag,
                dest=option.ini,
                choices=option.choices,
                default=None,
                help=f"{option.help} {where}",
            )
        parser.addini(option.ini, help=f"{option.help}; {option.variable} overrides it", default="")


@dataclass(frozen=True)
class ResolvedOptions:
    """The settings this run uses and, per field, what chose each value.

    Attributes:
        settings: the fixtures' settings.
        sources: field -> ``--mp-testing-backend``, ``MP_TESTING_BACKEND``,
            ``mp_testing_backend (ini)`` or ``MP_TESTING_* settings (default ...)``.
    """

    settings: TestingSettings
    sources: Mapping[str, str]


_RESOLVED = pytest.StashKey[ResolvedOptions]()


def _checked(option: Option, value: str, given: str) -> object:
    """``value`` validated as the field's type; ``given`` says where it was written."""
    if option.choices is not None and value not in option.choices:
        raise pytest.UsageError(f"{given}; use one of " + ", ".join(option.choices))
    try:
        checked = TestingSettings.load(env_file=None, **{option.field: value})
    except ConfigError as error:
        raise pytest.UsageError(f"{given}: {error}") from None
    return getattr(checked, option.field)


def resolve_options(config: pytest.Config) -> ResolvedOptions:
    """The settings of this run, resolved once per run (cached on ``config``).

    Raises:
        pytest.UsageError: a value is invalid; the message names the option and its source.
    """
    cached = config.stash.get(_RESOLVED, None)
    if cached is not None:
        return cached
    overrides: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        given = config.getoption(option.ini, default=None)
        ini = str(config.getini(option.ini) or "").strip()
        if given is not None:
            overrides[option.field] = _checked(option, str(given), f"{option.flag} {given}")
            sources[option.field] = option.flag
        elif os.environ.get(option.variable):
            sources[option.field] = option.variable  # TestingSettings.load() reads it
        elif ini:
            given_in = f"{option.ini} = {ini!r} in the pytest configuration"
            overrides[option.field] = _checked(option, ini, given_in)
            sources[option.field] = f"{option.ini} (ini)"
    try:
        settings = TestingSettings.load(**overrides)
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None
    for option in OPTIONS:
        default = TestingSettings.model_fields[option.field].default
        sources.setdefault(option.field, f"MP_TESTING_* settings (default {default})")
    resolved = ResolvedOptions(settings, sources)
    config.stash[_RESOLVED] = resolved
    return resolved
