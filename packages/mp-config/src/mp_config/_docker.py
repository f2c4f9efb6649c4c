"""Does a Docker engine answer? (A ``docker`` client alone is not enough.)

Both Docker-backed choices read it: ``MP_STACK_BACKEND=auto`` (compose or native, in mp-stack)
and the test fixtures' ``container`` backend (mp-testing).
"""

from __future__ import annotations

import functools
import shutil
import subprocess

__all__ = ["docker_engine_available"]


@functools.cache
def docker_engine_available(timeout: float = 5.0) -> bool:
    """True when ``docker version`` reaches a server; cached for the process.

    testcontainers fails at construction time without an engine, and ``docker compose up``
    fails at once, so both paths are gated on this probe.
    """
    client = shutil.which("docker")
    if client is None:
        return False
    try:
        result = subprocess.run(
            [client, "version", "--format", "{{.Server.Version}}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())
