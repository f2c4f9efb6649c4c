"""Benchmark mp-cache against raw redis-py on a throwaway redis-server, side by side.

    python bench_cache.py --out results/ [--quick]

Measures, in one run and interleaved (each repeat runs every variant once, so drift on a shared
machine hits them all alike), the median time of:

* batched latest-value reads: ``Cache.latest_many`` (all hits) against raw MGET of the same keys
  (bytes, undecoded), raw pipelined GETs, and MGET + ``json.loads`` per value (what a caller
  writes by hand to get values back);
* plain batched reads: ``Cache.get_many`` against the same raw MGET;
* single reads: ``Cache.latest`` and ``Cache.get`` against raw GET;
* rate-limiter checks: sequential, pipelined (``acquire_many``) and concurrent asyncio tasks,
  against raw EVALSHA of the same script.

Writes ``cache.json`` (figures, ratios, machine, versions, sizes) and ``cache.md`` (a table) to
``--out``. It never fails because something was slow: speed is reported, not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import redis.utils

from mp_cache import (
    AsyncRateLimiter,
    Cache,
    LatestValue,
    RateLimiter,
    SeriesId,
    create_client,
    create_client_async,
)
from mp_cache._scripts import TOKEN_BUCKET
from mp_config import RateLimit, RedisSettings
from mp_stack.native import RedisServer, free_port

KNOWN_AT = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
#: A limit no benchmark reaches: every check does the full script work and is granted.
OPEN_LIMIT = RateLimit(requests=1e12, period_seconds=1)


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    batch: int
    repeats: int
    single_reads: int
    limiter_checks: int
    limiter_batch: int
    limiter_tasks: int


FULL = Sizes(
    batch=1000,
    repeats=30,
    single_reads=2000,
    limiter_checks=2000,
    limiter_batch=100,
    limiter_tasks=32,
)
QUICK = Sizes(
    batch=200, repeats=5, single_reads=200, limiter_checks=200, limiter_batch=50, limiter_tasks=8
)


def _interleaved(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each variant, run round-robin after one warm-up each."""
    for function in variants.values():
        function()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            started = time.perf_counter()
            variants[name]()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def _machine(client: redis.Redis, sizes: Sizes) -> dict[str, Any]:
    try:
        import hiredis

        hiredis_version: str | None = getattr(hiredis, "__version__", "present")
    except ImportError:
        hiredis_version = None
    info = client.info("server")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "redis_py": redis.__version__,
        "hiredis": hiredis_version,
        "hiredis_parser_in_use": bool(redis.utils.HIREDIS_AVAILABLE),
        "redis_server": info.get("redis_version"),
        "sizes": sizes.__dict__,
    }


def _batched_reads(client: redis.Redis, cache: Cache, sizes: Sizes) -> dict[str, Any]:
    series: list[SeriesId] = [f"SERIES{index:05d}" for index in range(sizes.batch)]
    # A knowledge_time of its own per series: the decoder's per-batch time memo gets no help.
    values = {
        item: LatestValue({"value": 1.25 + index}, KNOWN_AT + timedelta(minutes=index))
        for index, item in enumerate(series)
    }

    def load(missing: list[SeriesId], as_of: datetime | None) -> dict[SeriesId, LatestValue]:
        return {item: values[item] for item in missing}

    assert len(cache.latest_many(series, load)) == len(series)
    keys = [cache.keys.latest(item) for item in series]
    plain = {f"plain{index}": {"value": 1.25 + index} for index in range(sizes.batch)}
    cache.set_many(plain)
    plain_keys = list(plain)

    def pipeline_get() -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        return pipe.execute()

    def mget_and_decode() -> list[Any]:
        return [json.loads(raw) for raw in client.mget(keys) if raw is not None]

    def cached() -> dict[SeriesId, LatestValue]:
        found = cache.latest_many(series, load)
        assert len(found) == len(series)
        return found

    medians = _interleaved(
        {
            "raw_mget": lambda: client.mget(keys),
            "raw_pipeline_get": pipeline_get,
            "raw_mget_json_loads": mget_and_decode,
            "cache_latest_many": cached,
            "cache_get_many": lambda: cache.get_many(plain_keys),
        },
        sizes.repeats,
    )
    per_key = {name: seconds / sizes.batch for name, seconds in medians.items()}
    return {
        "keys": sizes.batch,
        "median_seconds_per_batch": medians,
        "keys_per_second": {name: 1 / seconds for name, seconds in per_key.items()},
        "ratios": {
            "latest_many_vs_raw_mget": medians["cache_latest_many"] / medians["raw_mget"],
            "latest_many_vs_mget_json_loads": medians["cache_latest_many"]
            / medians["raw_mget_json_loads"],
            "latest_many_vs_pipeline_get": medians["cache_latest_many"]
            / medians["raw_pipeline_get"],
            "get_many_vs_raw_mget": medians["cache_get_many"] / medians["raw_mget"],
        },
    }


def _single_reads(client: redis.Redis, cache: Cache, sizes: Sizes) -> dict[str, Any]:
    value = LatestValue({"value": 2.5}, KNOWN_AT)
    cache.latest_many(["SINGLE"], lambda missing, as_of: dict.fromkeys(missing, value))
    cache.set("single", {"value": 2.5})
    key = cache.keys.latest("SINGLE")
    count = sizes.single_reads

    def loop(read: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(count):
                read()

        return run

    def unused_loader(series: SeriesId, as_of: datetime | None) -> LatestValue:
        raise AssertionError("a hit was expected")

    medians = _interleaved(
        {
            "raw_get": loop(lambda: client.get(key)),
            "cache_latest": loop(lambda: cache.latest("SINGLE", unused_loader)),
            "cache_get": loop(lambda: cache.get("single")),
        },
        max(3, sizes.repeats // 6),
    )
    return {
        "reads": count,
        "reads_per_second": {name: count / seconds for name, seconds in medians.items()},
        "ratios": {
            "latest_vs_raw_get": medians["cache_latest"] / medians["raw_get"],
            "get_vs_raw_get": medians["cache_get"] / medians["raw_get"],
        },
    }


def _limiter(client: redis.Redis, settings: RedisSettings, sizes: Sizes) -> dict[str, Any]:
    limiter = RateLimiter(client, settings, limits={"bench": OPEN_LIMIT})
    count, batch = sizes.limiter_checks, sizes.limiter_batch
    bucket = limiter.keys.rate_limit("bench")
    sha = client.script_load(TOKEN_BUCKET.source)
    arguments = [repr(OPEN_LIMIT.requests), repr(OPEN_LIMIT.per_second), "1.0"]

    def raw_sequential() -> None:
        for _ in range(count):
            client.evalsha(sha, 1, bucket, *arguments)

    def sequential() -> None:
        for _ in range(count):
            limiter.acquire("bench")

    def pipelined() -> None:
        for _ in range(count // batch):
            limiter.acquire_many([("bench", 1)] * batch)

    def concurrent() -> None:
        asyncio.run(_concurrent_checks(settings, count, sizes.limiter_tasks))

    medians = _interleaved(
        {
            "raw_evalsha_sequential": raw_sequential,
            "sequential": sequential,
            "pipelined": pipelined,
            "asyncio_concurrent": concurrent,
        },
        max(3, sizes.repeats // 6),
    )
    done = {
        "raw_evalsha_sequential": count,
        "sequential": count,
        "pipelined": (count // batch) * batch,
        "asyncio_concurrent": count,
    }
    per_second = {name: done[name] / seconds for name, seconds in medians.items()}
    return {
        "checks": count,
        "pipeline_batch": batch,
        "asyncio_tasks": sizes.limiter_tasks,
        "checks_per_second": per_second,
        "ratios": {
            "sequential_vs_raw_evalsha": per_second["raw_evalsha_sequential"]
            / per_second["sequential"]
        },
    }


async def _concurrent_checks(settings: RedisSettings, count: int, tasks: int) -> None:
    client = create_client_async(settings)
    limiter = AsyncRateLimiter(client, settings, limits={"bench": OPEN_LIMIT})

    async def worker(share: int) -> None:
        for _ in range(share):
            await limiter.acquire("bench")

    try:
        await asyncio.gather(*[worker(count // tasks) for _ in range(tasks)])
    finally:
        await client.aclose()


def _markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    batched, single, limiter = results["batched_reads"], results["single_reads"], results["limiter"]
    lines = [
        "# mp-cache benchmark",
        "",
        f"{machine['date']}, {machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"redis-py {machine['redis_py']}, hiredis {machine['hiredis'] or 'absent'}, "
        f"redis-server {machine['redis_server']}. Medians; ratios are mp-cache time / baseline "
        "time (lower is better) measured in the same run.",
        "",
        f"## Batched reads ({batched['keys']} keys)",
        "",
        "| path | keys/s | ms per batch |",
        "| --- | ---: | ---: |",
    ]
    for name, seconds in batched["median_seconds_per_batch"].items():
        lines.append(f"| {name} | {batched['keys_per_second'][name]:,.0f} | {seconds * 1000:.3f} |")
    lines += ["", "| ratio | value |", "| --- | ---: |"]
    lines += [f"| {name} | {value:.2f}x |" for name, value in batched["ratios"].items()]
    lines += ["", f"## Single reads ({single['reads']} per sample)", "", "| path | reads/s |"]
    lines += ["| --- | ---: |"]
    lines += [f"| {name} | {value:,.0f} |" for name, value in single["reads_per_second"].items()]
    lines += [f"| ratio {name} | {value:.2f}x |" for name, value in single["ratios"].items()]
    lines += [
        "",
        f"## Rate limiter ({limiter['checks']} checks; pipeline batch "
        f"{limiter['pipeline_batch']}; {limiter['asyncio_tasks']} asyncio tasks)",
        "",
        "| path | checks/s |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {value:,.0f} |" for name, value in limiter["checks_per_second"].items()]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write cache.json and cache.md to --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    root = Path(tempfile.mkdtemp(prefix="mp-cache-bench-"))
    server = RedisServer(root / "redis", free_port(), password=secrets.token_urlsafe(12))
    server.start()
    try:
        settings = RedisSettings.load(
            env_file=None,
            host=server.host,
            port=server.port,
            password=server.password,
            key_prefix="mp-bench:",
        )
        client = create_client(settings)
        assert isinstance(client, redis.Redis)
        cache = Cache(client, settings, namespace="bench")
        results = {
            "machine": _machine(client, sizes),
            "batched_reads": _batched_reads(client, cache, sizes),
            "single_reads": _single_reads(client, cache, sizes),
            "limiter": _limiter(client, settings, sizes),
        }
        client.close()
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "cache.json").write_text(json.dumps(results, indent=2) + "\n")
    (options.out / "cache.md").write_text(_markdown(results))
    print(_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
