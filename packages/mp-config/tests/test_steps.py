"""mp's one sans-I/O runtime (:mod:`mp_config.steps`), driven by scripted executors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mp_config.steps import Steps, async_method, run, run_async, sync_method


def _doubling() -> Steps[list[Any]]:
    seen = [(yield "first")]
    try:
        seen.append((yield "fails"))
    except LookupError as error:
        seen.append(f"absorbed {error.args[0]}")
    seen.append((yield "last"))
    return seen


def _script(request: str) -> str:
    if request == "fails":
        raise LookupError("missing")
    return request.upper()


async def _script_async(request: str) -> str:
    return _script(request)


def test_run_sends_answers_and_throws_errors_in() -> None:
    """Each answer is sent back, and an executor's exception is raised at its yield."""
    assert run(_doubling(), _script) == ["FIRST", "absorbed missing", "LAST"]


def test_run_async_gives_the_same_answer() -> None:
    """The async loop runs the same logic to the same answer."""
    assert asyncio.run(run_async(_doubling(), _script_async)) == [
        "FIRST",
        "absorbed missing",
        "LAST",
    ]


def test_unabsorbed_error_propagates_and_closes() -> None:
    """An error the logic does not catch reaches the caller unchanged."""

    def steps() -> Steps[None]:
        yield "fails"

    with pytest.raises(LookupError, match="missing"):
        run(steps(), _script)


def test_base_exception_is_not_thrown_in() -> None:
    """A KeyboardInterrupt closes the logic (its finally runs) instead of entering it."""
    events: list[str] = []

    def steps() -> Steps[None]:
        try:
            yield "one"
        except KeyboardInterrupt:  # pragma: no cover - the point is that it never runs
            events.append("caught")
            raise
        finally:
            events.append("closed")

    def interrupt(request: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(steps(), interrupt)
    assert events == ["closed"]


class _Base:
    def _echo(self, value: int, *, twice: bool = False) -> Steps[int]:
        """Echo a value."""
        answer = yield value
        return int(answer) * (2 if twice else 1)


class _Sync(_Base):
    def _drive(self, steps: Steps[Any]) -> Any:
        return run(steps, lambda request: request + 1)

    echo = sync_method(_Base._echo)


class _Async(_Base):
    async def _drive(self, steps: Steps[Any]) -> Any:
        async def execute(request: int) -> int:
            return request + 1

        return await run_async(steps, execute)

    echo = async_method(_Base._echo)


def test_methods_made_from_one_logic() -> None:
    """sync_method and async_method give the same answers, named and documented as public."""
    assert _Sync().echo(1, twice=True) == 4
    assert asyncio.run(_Async().echo(1, twice=True)) == 4
    assert _Sync.echo.__name__ == "echo"
    assert _Async.echo.__doc__ == "Echo a value."
