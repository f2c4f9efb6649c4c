"""Carry out :mod:`mp_cache._ops` requests on a sync or an asyncio redis-py client.

The two executors are the only I/O code in mp-cache that exists twice; the loop that runs the
logic is mp's one runtime (:mod:`mp_config.steps`). They differ in ``await`` and in how they
sleep, nothing else. An exception from Redis or from the loader is thrown into
the logic at the point of the request, which decides whether it is absorbed (a cache read) or
propagates (a loader failure, a lock or limiter call). A ``BaseException`` such as
``asyncio.CancelledError`` is never thrown in: the logic is closed and the cancellation goes on,
so no half-finished step can run after it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from typing import Any, TypeVar

import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import NoScriptError, ResponseError

from mp_cache._clients import AsyncClient, SyncClient
from mp_cache._ops import Command, Eval, Mget, Op, Pipeline, Sleep, Steps
from mp_cache.exceptions import CacheConfigError
from mp_config import steps as runtime

__all__ = ["AsyncDriver", "SyncDriver", "run_async", "run_sync"]

T = TypeVar("T")


def _eval_args(op: Eval) -> tuple[Any, ...]:
    return (len(op.keys), *op.keys, *op.args)


def _pipeline_args(op: Pipeline) -> list[tuple[Any, ...]]:
    # Through execute_command: cluster pipelines block the evalsha() method (a keyless script
    # has no slot), while ours always name their keys and route by them.
    return [
        ("EVALSHA", item.script.sha, *_eval_args(item)) if isinstance(item, Eval) else item.args
        for item in op.ops
    ]


# --- sync -------------------------------------------------------------------------------------


def _eval_sync(client: Any, op: Eval) -> Any:
    try:
        return client.evalsha(op.script.sha, *_eval_args(op))
    except NoScriptError:
        # EVAL also caches the script, so the next EVALSHA finds it (after a restart or
        # SCRIPT FLUSH, and on each cluster node the first time).
        return client.eval(op.script.source, *_eval_args(op))


def _pipeline_sync(client: Any, op: Pipeline) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for args in _pipeline_args(op):
        pipe.execute_command(*args)
    results: list[Any] = pipe.execute(raise_on_error=False)
    for index, (item, result) in enumerate(zip(op.ops, results, strict=True)):
        if isinstance(item, Eval) and isinstance(result, NoScriptError):
            try:
                results[index] = _eval_sync(client, item)
            except ResponseError as error:
                results[index] = error
    return results


def _execute_sync(client: SyncClient, op: Op) -> Any:
    # execute_command is unannotated in redis-py; an Any view keeps strict mypy quiet.
    raw: Any = client
    if isinstance(op, Mget):
        if isinstance(client, redis.cluster.RedisCluster):
            return client.mget_nonatomic(list(op.keys))
        return raw.execute_command("MGET", *op.keys)
    if isinstance(op, Command):
        return raw.execute_command(*op.args)
    if isinstance(op, Eval):
        return _eval_sync(client, op)
    if isinstance(op, Pipeline):
        return _pipeline_sync(client, op)
    if isinstance(op, Sleep):
        time.sleep(max(op.seconds, 0.0))
        return None
    result = op.function(*op.args)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise CacheConfigError("loader", "returned an awaitable: use the Async* class for it")
    return result


def run_sync(client: SyncClient, steps: Steps[T]) -> T:
    """Run ``steps`` to completion against a sync client and return its answer."""
    return runtime.run(steps, functools.partial(_execute_sync, client))


# --- asyncio ----------------------------------------------------------------------------------


async def _eval_async(client: Any, op: Eval) -> Any:
    try:
        return await client.evalsha(op.script.sha, *_eval_args(op))
    except NoScriptError:
        return await client.eval(op.script.source, *_eval_args(op))


async def _pipeline_async(client: Any, op: Pipeline) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for args in _pipeline_args(op):
        pipe.execute_command(*args)
    results: list[Any] = await pipe.execute(raise_on_error=False)
    for index, (item, result) in enumerate(zip(op.ops, results, strict=True)):
        if isinstance(item, Eval) and isinstance(result, NoScriptError):
            try:
                results[index] = await _eval_async(client, item)
            except ResponseError as error:
                results[index] = error
    return results


async def _execute_async(client: AsyncClient, op: Op) -> Any:
    raw: Any = client
    if isinstance(op, Mget):
        if isinstance(client, redis.asyncio.cluster.RedisCluster):
            return await client.mget_nonatomic(list(op.keys))
        return await raw.execute_command("MGET", *op.keys)
    if isinstance(op, Command):
        return await raw.execute_command(*op.args)
    if isinstance(op, Eval):
        return await _eval_async(client, op)
    if isinstance(op, Pipeline):
        return await _pipeline_async(client, op)
    if isinstance(op, Sleep):
        await asyncio.sleep(max(op.seconds, 0.0))
        return None
    result = op.function(*op.args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def run_async(client: AsyncClient, steps: Steps[T]) -> T:
    """Run ``steps`` to completion against an asyncio client and return its answer."""
    return await runtime.run_async(steps, functools.partial(_execute_async, client))


class SyncDriver:
    """Mixin of mp-cache's sync classes: runs their steps on their sync client."""

    _client: SyncClient

    def _drive(self, steps: Steps[T]) -> T:
        return run_sync(self._client, steps)


class AsyncDriver:
    """Mixin of mp-cache's asyncio classes: runs their steps on their asyncio client."""

    _client: AsyncClient

    async def _drive(self, steps: Steps[T]) -> T:
        return await run_async(self._client, steps)
