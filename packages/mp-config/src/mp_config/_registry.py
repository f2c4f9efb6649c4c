"""The cached settings accessor: each settings class is read once, until reset.

All of mp-config's mutable state lives in the one ``_SettingsCache`` instance below, so a test
fixture can put the process back to a clean slate with :func:`reset_settings`.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from mp_config._base import MpSettings

__all__ = ["get_settings", "reset_settings"]

SettingsT = TypeVar("SettingsT", bound=MpSettings)


class _SettingsCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[type[MpSettings], MpSettings] = {}

    def get(self, settings_type: type[SettingsT]) -> SettingsT:
        with self._lock:
            cached = self._values.get(settings_type)
            if cached is None:
                cached = settings_type.load()
                self._values[settings_type] = cached
        assert isinstance(cached, settings_type)  # the dict is keyed by type
        return cached

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_CACHE = _SettingsCache()


def get_settings(settings_type: type[SettingsT]) -> SettingsT:
    """Return the process-wide instance of ``settings_type``, loading it on first use.

    Example:
        >>> from mp_config import PostgresSettings, get_settings
        >>> get_settings(PostgresSettings).port > 0
        True
    """
    return _CACHE.get(settings_type)


def reset_settings() -> None:
    """Forget every cached settings instance (tests call this between cases)."""
    _CACHE.clear()
