"""Shared fixtures of mp-stack's own tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def traversable_dir() -> Iterator[Path]:
    """A fresh folder the servers' OS user can enter, deleted afterwards.

    Not under pytest's tmp_path: every pytest session of root on the machine (other checkouts
    included) resets /tmp/pytest-of-root to mode 0700 when it starts, which locks the
    ``postgres`` user out of a cluster there in the middle of a test.
    """
    root = Path(tempfile.mkdtemp(prefix="mp-stack-test-"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
