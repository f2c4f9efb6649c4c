"""The local stack's pieces: .env creation, the native backend, the status table."""

from __future__ import annotations

import contextlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mp_config import PostgresSettings, RedisSettings
from mp_stack import (
    NativeStack,
    ServiceStatus,
    backup_status,
    ensure_env_file,
    is_secret_variable,
    parse_target,
    placeholder_secrets,
    render_table,
    run_backup,
    run_restore,
    stack_up,
)
from mp_stack._cli import main
from mp_stack._status import postgres_status, redis_status
from mp_stack.exceptions import MpStackError
from mp_stack.native import free_port

TEMPLATE = (
    "MP_PG_PORT=55432\nMP_PG_PASSWORD=change-me\n# comment\nMP_S3_SECRET_ACCESS_KEY=change-me\n"
)


def test_env_file_gets_fresh_random_secrets(tmp_path: Path) -> None:
    """Secrets are replaced by distinct random values; other lines are copied unchanged."""
    template = tmp_path / ".env.example"
    template.write_text(TEMPLATE)
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    assert ensure_env_file(first, template) is True
    assert ensure_env_file(second, template) is True
    text = first.read_text()
    assert "MP_PG_PORT=55432" in text
    assert "# comment" in text
    assert "change-me" not in text
    assert first.read_text() != second.read_text()
    assert stat.S_IMODE(first.stat().st_mode) == 0o600


def test_env_file_is_never_overwritten(tmp_path: Path) -> None:
    """An existing .env (the user's) is left alone."""
    template = tmp_path / ".env.example"
    template.write_text(TEMPLATE)
    env_file = tmp_path / ".env"
    env_file.write_text("MP_PG_PASSWORD=mine\n")
    assert ensure_env_file(env_file, template) is False
    assert env_file.read_text() == "MP_PG_PASSWORD=mine\n"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("MP_PG_PASSWORD", True),
        ("MP_S3_SECRET_ACCESS_KEY", True),
        ("MP_PG_PORT", False),
        ("MP_S3_ACCESS_KEY_ID", False),
    ],
)
def test_secret_variables_are_recognised(name: str, secret: bool) -> None:
    """Passwords and secret keys are secrets; ports and key ids are not."""
    assert is_secret_variable(name) is secret


def test_status_table_lists_every_row() -> None:
    """The table has a header, a rule and one row per service with its state."""
    table = render_table(
        [
            ServiceStatus("postgresql", "native", "127.0.0.1:1", True, "PostgreSQL 15"),
            ServiceStatus("mongodb", "native", "-", None, "compose only"),
            ServiceStatus("redis", "native", "127.0.0.1:2", False, "refused"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["service", "backend", "address", "state"]
    assert "healthy" in lines[2]
    assert "absent" in lines[3]
    assert "DOWN" in lines[4]


def test_native_stack_up_status_down(traversable_dir: Path) -> None:
    """A whole native stack comes up healthy on free ports, then stops; both idempotent."""
    tmp_path = traversable_dir
    data_dir = tmp_path / "stack"
    postgres = PostgresSettings.load(env_file=None, port=free_port(), password="pg-secret")
    redis = RedisSettings.load(env_file=None, port=free_port(), password="redis-secret")
    stack = NativeStack(tmp_path, postgres, redis, data_dir)
    messages: list[str] = []
    try:
        stack.up(messages.append)
        stack.up(messages.append)
        pg_status = postgres_status(postgres, "native")
        assert pg_status.healthy, pg_status.detail
        assert "TimescaleDB" in pg_status.detail
        assert redis_status(redis, "native").healthy
        assert any("PostgreSQL ready" in message for message in messages)
    finally:
        stack.down(messages.append)
        stack.down(messages.append)
    assert postgres_status(postgres, "native").healthy is False
    assert redis_status(redis, "native").healthy is False
    stack.down(messages.append, purge=True)
    assert not data_dir.exists()


def test_native_stack_refuses_remote_hosts(tmp_path: Path) -> None:
    """The native backend serves loopback only and says which variable to change."""
    from mp_stack.exceptions import StackError

    postgres = PostgresSettings.load(env_file=None, host="db.example.com")
    stack = NativeStack(tmp_path, postgres, RedisSettings.load(env_file=None), tmp_path)
    with pytest.raises(StackError, match="MP_PG_HOST"):
        stack.up(lambda message: None)


def _placeholder_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("MP_"):
            monkeypatch.delenv(name)
    (tmp_path / ".env.example").write_text(TEMPLATE)
    (tmp_path / ".env").write_text(
        f"MP_PG_PORT={free_port()}\nMP_PG_PASSWORD=change-me\nMP_REDIS_PORT={free_port()}\n"
        "MP_REDIS_PASSWORD=a-real-one\nMP_STACK_BACKEND=compose\n"
    )
    return tmp_path


def test_up_warns_loudly_about_placeholder_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .env copied by hand keeps change-me: up says so, naming the variable, before it
    starts anything (here compose, which then fails: no Docker engine is needed to see it)."""
    project = _placeholder_project(tmp_path, monkeypatch)
    assert placeholder_secrets(project / ".env") == ["MP_PG_PASSWORD"]
    messages: list[str] = []
    with contextlib.suppress(MpStackError):
        stack_up(project, progress=messages.append)
    warning = messages[0]
    assert warning.startswith("\n" + "!" * 78)
    assert "WARNING: MP_PG_PASSWORD is still the placeholder 'change-me'" in warning
    assert "MP_REDIS_PASSWORD" not in warning


def test_status_reports_placeholder_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """status prints the table, then the placeholder warning (the environment counts too)."""
    project = _placeholder_project(tmp_path, monkeypatch)
    monkeypatch.setenv("MP_S3_SECRET_ACCESS_KEY", "change-me")
    assert main(["--project-dir", str(project), "status"]) == 1  # nothing runs: DOWN
    output = capsys.readouterr().out
    assert "postgresql" in output
    assert "MP_PG_PASSWORD, MP_S3_SECRET_ACCESS_KEY are still the placeholder" in output
    (project / ".env").write_text("MP_PG_PASSWORD=fresh-and-random\n")
    monkeypatch.delenv("MP_S3_SECRET_ACCESS_KEY")
    main(["--project-dir", str(project), "status"])
    assert "placeholder" not in capsys.readouterr().out


def test_native_stack_backs_up_and_restores_to_a_point_in_time(traversable_dir: Path) -> None:
    """`up` makes the cluster archive its WAL; `backup` takes a full and an incremental backup
    the status row reports; `restore --to` brings back what was committed before the target
    and nothing after it; backups live outside the data folder, so `down --purge` keeps them."""
    tmp_path = traversable_dir
    postgres = PostgresSettings.load(env_file=None, port=free_port(), password="pg-secret")
    redis = RedisSettings.load(env_file=None, port=free_port(), password="redis-secret")
    stack = NativeStack(tmp_path, postgres, redis, tmp_path / "stack")
    messages: list[str] = []
    try:
        stack.up(messages.append)
        assert any("WAL archived by pgBackRest" in message for message in messages)
        before = backup_status(stack, "native")
        assert before.healthy is False
        assert "no backup yet" in before.detail
        cluster = stack.backups().cluster
        with cluster.connect_admin(postgres.database) as connection:
            connection.execute("CREATE TABLE drill (n int)")
            connection.execute("INSERT INTO drill VALUES (1)")
        full = run_backup(stack, "native", messages.append, kind="full")
        with cluster.connect_admin(postgres.database) as connection:
            # pgBackRest records a backup's end to the second: a target must come after it.
            connection.execute("SELECT pg_sleep(1.1)")
            connection.execute("INSERT INTO drill VALUES (2)")
            target = connection.execute("SELECT clock_timestamp()").fetchone()
            connection.execute("SELECT pg_sleep(0.2)")
            connection.execute("INSERT INTO drill VALUES (3)")
        incremental = run_backup(stack, "native", messages.append, kind="incr", verify=True)
        assert (full.kind, incremental.kind) == ("full", "incr")
        assert incremental.repository_bytes < full.repository_bytes
        after = backup_status(stack, "native")
        assert after.healthy is True, after.detail
        assert f"last backup incr {incremental.label}" in after.detail
        assert "segment(s) behind" in after.detail
        assert target is not None
        moment = target[0]
        assert isinstance(moment, datetime)
        run_restore(stack, "native", messages.append, target=parse_target(moment.isoformat()))
        with cluster.connect_admin(postgres.database) as connection:
            rows = connection.execute("SELECT n FROM drill ORDER BY n").fetchall()
            writable = connection.execute("SELECT NOT pg_is_in_recovery()").fetchone()
        assert [row[0] for row in rows] == [1, 2]
        assert writable == (True,)
    finally:
        stack.down(messages.append, purge=True)
    assert stack.resolve_backup_dir().is_dir()
    assert not (tmp_path / "stack").exists()


def test_backup_commands_refuse_other_backends_and_vague_targets() -> None:
    """Backups through mp-stack are the native backend's; a target needs a UTC offset."""
    from mp_stack.exceptions import StackError

    with pytest.raises(StackError, match="native backend"):
        run_backup(None, "compose", lambda message: None)
    assert backup_status(None, "compose").healthy is None
    with pytest.raises(StackError, match="no UTC offset"):
        parse_target("2026-12-01 20:30:00")
    with pytest.raises(StackError, match="not an ISO 8601 time"):
        parse_target("yesterday")
    assert parse_target("2026-12-01T21:30:00+01:00") == datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
