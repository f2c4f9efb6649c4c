"""No secret is committed: a scan of every tracked file (runs in CI with the other tests)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.scenario("security")

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"),
    # A URL with an inline password that is not a mask or an obvious placeholder.
    "password in a URL": re.compile(
        r"\b(?:postgres(?:ql)?|redis|rediss|mongodb|amqp)(?:\+\w+)?://[^:/\s@]+:"
        r"(?!\*\*\*|change-me|password|secret|pw|p@ss|x@|\{)[^@\s/]{6,}@"
    ),
}
ENV_SECRET = re.compile(
    r"^(MP_[A-Z0-9_]*(?:PASSWORD|SECRET_ACCESS_KEY|SECRET))=(.+)$", re.MULTILINE
)
PLACEHOLDERS = {"", "change-me"}


def _tracked(root: Path) -> list[Path]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=False)
    if listing.returncode != 0:
        pytest.skip("not a git checkout: nothing to scan")
    return [root / name for name in listing.stdout.decode().split("\0") if name]


def test_no_env_file_is_tracked(root: Path) -> None:
    """Only .env.example may be committed; real env files hold secrets."""
    names = {path.name for path in _tracked(root)}
    assert {name for name in names if name.startswith(".env")} <= {".env.example"}


def test_no_secret_patterns_in_tracked_files(root: Path) -> None:
    """No private key, cloud token or password-bearing URL in any tracked text file."""
    findings = []
    for path in _tracked(root):
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for label, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                findings.append(f"{path.relative_to(root)}: {label}: {match.group(0)[:40]}")
    assert findings == []


def test_env_style_secrets_are_placeholders(root: Path) -> None:
    """Any MP_*_PASSWORD=... line in a tracked file holds a placeholder, not a value."""
    findings = []
    for path in _tracked(root):
        if (
            path.suffix
            not in {".example", ".env", ".md", ".yml", ".yaml", ".ini", ".toml", ".cfg", ".sh"}
            and path.name != ".env.example"
        ):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, value in ENV_SECRET.findall(text):
            if value.strip().strip("'\"") not in PLACEHOLDERS:
                findings.append(f"{path.relative_to(root)}: {name}")
    assert findings == []


def test_scanner_catches_a_planted_secret(tmp_path: Path) -> None:
    """The patterns do find what they are meant to (a scanner that finds nothing proves
    nothing)."""
    # Assembled at run time so this file itself holds nothing the scan would flag.
    planted = (
        "postgresql://mp:" + "Wk3jd9fQz2" + "@db.example.com/mp\n" + "AKIA" + "ABCDEFGHIJKLMNOP\n"
    )
    hits = [label for label, pattern in PATTERNS.items() if pattern.search(planted)]
    assert set(hits) == {"password in a URL", "AWS access key"}
    masked = "postgresql://mp:***@127.0.0.1:55432/mp"
    assert not PATTERNS["password in a URL"].search(masked)
