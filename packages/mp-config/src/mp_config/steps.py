"""The one sans-I/O runtime of mp: logic written once as generators, run sync or async.

A piece of logic (a read, an ingest, a cache lookup, a lock) is a generator that yields plain
request objects (``Fetch(sql, parameters)``, ``Eval(script, keys)``...) and receives each
request's answer, or has its exception thrown in at the ``yield``, where the logic decides
whether it is absorbed (a cache miss) or propagates. It returns its answer. The logic never
touches a socket, so it can be read, and tested with a scripted transport, without a server.

An *executor* carries out one request: a plain function for the sync side, a coroutine
function for the async side. :func:`run_async` holds the only loop; :func:`run` drives it
with an executor that never suspends. A ``BaseException`` that is not an ``Exception``
(``KeyboardInterrupt``, ``asyncio.CancelledError``) is never thrown in: the generator is
closed and it goes on, so no half-finished step runs after a cancellation.

:func:`sync_method` and :func:`async_method` turn one generator method into the public method
of a sync and of an async class, with the same parameters (and overloads) for static typing:
the class supplies ``_drive`` (see :class:`SyncDriven`), which runs the steps on its I/O.

mp-config holds this module because it is the one distribution every other mp package already
depends on (mp-db, mp-cache); it imports nothing beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeAlias, TypeVar

__all__ = [
    "AsyncDriven",
    "Steps",
    "SyncDriven",
    "async_method",
    "named_like",
    "run",
    "run_async",
    "sync_method",
]

P = ParamSpec("P")
T = TypeVar("T")
Q = TypeVar("Q")
S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])

#: Logic that yields requests, receives their answers and returns a ``T``.
Steps: TypeAlias = Generator[Any, Any, T]


def run(steps: Generator[Q, Any, T], execute: Callable[[Q], Any]) -> T:
    """Run ``steps`` to completion, each request carried out by ``execute``; return the answer.

    An ``Exception`` from ``execute`` is thrown into the logic at its request.
    """

    # The one loop is run_async's: with an executor that never suspends, its coroutine
    # finishes in a single send, so the sync and async sides cannot drift apart.
    async def now(request: Q) -> Any:
        return execute(request)

    coroutine = run_async(steps, now)
    try:
        coroutine.send(None)
    except StopIteration as finished:
        answer: T = finished.value
        return answer
    coroutine.close()  # pragma: no cover - now() never suspends
    raise AssertionError("a sync executor suspended")  # pragma: no cover


async def run_async(steps: Generator[Q, Any, T], execute: Callable[[Q], Awaitable[Any]]) -> T:
    """:func:`run` with an asynchronous ``execute``: each request's answer is awaited."""
    reply: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                request = steps.send(reply) if error is None else steps.throw(error)
            except StopIteration as finished:
                answer: T = finished.value
                return answer
            reply, error = None, None
            try:
                reply = await execute(request)
            except Exception as caught:  # noqa: BLE001 - handed to the logic, which decides
                error = caught
    finally:
        steps.close()


class SyncDriven(Protocol):
    """A sync class whose methods :func:`sync_method` makes: it runs steps on its own I/O."""

    def _drive(self, steps: Steps[T]) -> T: ...


class AsyncDriven(Protocol):
    """The async counterpart of :class:`SyncDriven`."""

    async def _drive(self, steps: Steps[T]) -> T: ...


def named_like(method: F, logic: Callable[..., Any]) -> F:
    """``method`` named and documented as the public face of ``logic``; returns it."""
    # The logic's docstring and module; its name without the underscore that keeps the logic
    # method itself out of the public API (``_as_of`` becomes ``as_of``).
    name = logic.__name__.lstrip("_")
    method.__name__ = name
    method.__qualname__ = f"{logic.__qualname__.rpartition('.')[0]}.{name}".lstrip(".")
    method.__doc__ = logic.__doc__
    method.__module__ = logic.__module__
    return method


def sync_method(
    logic: Callable[Concatenate[S, P], Steps[T]],
) -> Callable[Concatenate[S, P], T]:
    """The public sync method of one generator method: same parameters, returns its answer.

    ``logic`` is written once (usually on a base class both public classes share); the class
    this method is placed on must have ``_drive`` (:class:`SyncDriven`).
    """

    def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        driven: SyncDriven = self  # type: ignore[assignment]  # the class supplies _drive
        return driven._drive(logic(self, *args, **kwargs))

    return named_like(method, logic)


def async_method(
    logic: Callable[Concatenate[S, P], Steps[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The public async method of one generator method: same parameters, awaited answer."""

    async def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        driven: AsyncDriven = self  # type: ignore[assignment]  # the class supplies _drive
        return await driven._drive(logic(self, *args, **kwargs))

    return named_like(method, logic)
