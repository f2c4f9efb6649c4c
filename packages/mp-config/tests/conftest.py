"""Every test starts from an empty ``MP_*`` environment, no env file and no cached settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mp_config import reset_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove every MP_ variable so the developer's own .env cannot change a result."""
    for name in list(os.environ):
        if name.upper().startswith("MP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MP_ENV_FILE", "")
    reset_settings()
    yield
    reset_settings()
