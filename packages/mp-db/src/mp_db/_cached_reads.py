"""Point-in-time reads through mp's cache: :class:`CachedReader` and :class:`AsyncCachedReader`.

Same methods, arguments, answers and errors as :class:`~mp_db.Reader` for the reads they
cover (``latest``, ``as_of``, ``first_release``, ``backtest``); the rest pass straight through.

Coherence has two layers:

1. **Invalidation by construction** (mp-cache's generations): every mp ingest that commits
   its own transaction replaces the generation of each series it stored rows for, before it
   returns (``MP_REDIS_CACHE_ENABLED``). While Redis is reachable, no read that starts after
   the ingest returned is answered from an entry computed before the commit.
2. **A bounded window when that invalidation never arrives** (Redis down at that moment, an
   ingest that joined its caller's transaction, a writer outside mp, a replica that had not
   replayed the commit yet): every entry records the newest ``commit_seq`` of ``mp.ingest_log``
   this reader knew BEFORE it loaded the answer. At most every ``max_staleness_seconds`` (0:
   before every read) the reader asks the log for the commits after the newest it knows (one
   indexed query) and remembers, per series, the newest commit that touched it. An entry
   whose series was touched by a commit newer than the entry's watermark is a miss (and its
   generation is replaced, so other readers stop using it too). A commit by a writer that did
   not log its series (plain SQL) makes every older entry a miss. So an entry can outlive a
   commit by at most ``max_staleness_seconds`` plus the log query's own time (plus the replica's
   lag when the reader reads a replica).

Commit order is visibility order in ``mp.ingest_log`` (migration 0004), so a commit numbered
at or below a watermark was visible when the watermark was read, and its rows are in every
answer loaded after that. A new reader learns the commits of the last TTL (plus a margin)
once, then only the new ones; an entry loaded before those (it outlived that TTL: another
reader's cache had a longer one) is a miss.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from mp_config.steps import Steps, async_method, run, run_async, sync_method
from mp_db._arguments import BEGINNING, END_OF_TIME
from mp_db._cutoff import Cutoff
from mp_db._read_queries import Query, Ranged, Replay, _Queries
from mp_db._reads import AsyncReader, Fetch, Reader, _Reads
from mp_db._rows import ROW_TYPES, AsOfValue, FactRow, build, row_fields
from mp_db._tables import TableRef, resolve_table

if TYPE_CHECKING:
    # Named in strings in the readers' bases: mp-cache is an optional dependency.
    from mp_cache import AsyncCache, Cache  # noqa: F401

T = TypeVar("T")
RD = TypeVar("RD", Reader, AsyncReader)
CA = TypeVar("CA")  # the mp_cache Cache or AsyncCache

__all__ = ["DEFAULT_MAX_STALENESS_SECONDS", "AsyncCachedReader", "CachedReader"]

#: How often, at most, a reader checks ``mp.ingest_log`` (``MP_REDIS_CACHE_MAX_STALENESS_SECONDS``).
DEFAULT_MAX_STALENESS_SECONDS: Final = 1.0

#: Added to the TTL when a new reader learns past commits: covers clock drift between Redis
#: and PostgreSQL and the time between a commit's stamp and its visibility.
_LOG_MARGIN_SECONDS: Final = 60.0

# The newest commit (seen); a commit stamped before the last :window seconds (floor); and
# every commit numbered in between, with its series (one snapshot). Entries loaded at or before
# the floor are treated as stale, since not all their later commits were read. Exact whatever
# the clocks do: the commits read are chosen by number; the clock only picks where to start
# (the newest by committed_at, found on its index).
_SEED_SQL: Final = """
WITH top AS (SELECT coalesce(max(commit_seq), 0) AS seen FROM mp.ingest_log),
old AS (
  SELECT coalesce((
    SELECT commit_seq FROM mp.ingest_log
    WHERE committed_at < now() - make_interval(secs => :window)
    ORDER BY committed_at DESC LIMIT 1
  ), 0) AS floor
)
SELECT top.seen, old.floor, log.commit_seq, log.series_ids
FROM top CROSS JOIN old LEFT JOIN mp.ingest_log AS log
  ON log.commit_seq > old.floor AND log.commit_seq <= top.seen
"""

# The commits after the newest one known (ix_ingest_log_commit_seq).
_NEWER_SQL: Final = """
SELECT commit_seq, NULL, commit_seq, series_ids FROM mp.ingest_log WHERE commit_seq > :seen
"""

_TIME_FIELDS: Final = frozenset({"obs_time", "knowledge_time", "ingested_at", "scheduled_at"})


class _Log:
    """What a reader knows of ``mp.ingest_log``: the newest commit, and per series the newest
    commit that touched it."""

    def __init__(self, max_staleness_seconds: float, window_seconds: float) -> None:
        if max_staleness_seconds < 0:
            raise ValueError("max_staleness_seconds must be >= 0")
        self.max_staleness = max_staleness_seconds
        self.window = window_seconds
        self.seen: int | None = None
        self.touched: dict[int, int] = {}
        #: The newest commit of a writer that did not log its series: everything older is stale.
        self.unlogged = 0
        #: Commits up to here were not read (older than the window): older entries are stale.
        self.floor = 0
        self._checked = 0.0

    def due(self) -> tuple[str, dict[str, Any]] | None:
        """The statement to run before this read, or None when the last check is recent."""
        now = time.monotonic()
        if self.seen is not None and now - self._checked < self.max_staleness:
            return None
        # Stamped before the query runs: every commit visible now is in its answer.
        self._checked = now
        if self.seen is None:
            return _SEED_SQL, {"window": self.window}
        return _NEWER_SQL, {"seen": self.seen}

    def absorb(self, rows: Sequence[Sequence[Any]]) -> None:
        seen = self.seen or 0
        for newest, floor, commit, series_ids in rows:
            seen = max(seen, int(newest))
            if floor is not None:
                self.floor = max(self.floor, int(floor))
            if commit is None:
                continue
            if series_ids is None:
                self.unlogged = max(self.unlogged, int(commit))
                continue
            for series_id in series_ids:
                self.touched[series_id] = max(self.touched.get(series_id, 0), int(commit))
        self.seen = seen

    def fresh(self, series_id: int, watermark: int) -> bool:
        """Whether an entry loaded at ``watermark`` reflects every commit known to touch it."""
        return watermark >= max(self.touched.get(series_id, 0), self.unlogged, self.floor)


# --- payloads: [table, watermark, answer], JSON only ---------------------------------------------


#: Field names per row class, filled on first use: a table registered after import is cached
#: like the built-in ones.
_FIELDS: dict[type[FactRow], tuple[str, ...]] = {}


def _fields(row_type: type[FactRow]) -> tuple[str, ...]:
    names = _FIELDS.get(row_type)
    if names is None:
        names = _FIELDS[row_type] = row_fields(row_type)
    return names


def _encode_row(row: FactRow) -> list[Any]:
    return [
        value.isoformat() if isinstance(value, datetime) else value
        for value in (getattr(row, name) for name in _fields(type(row)))
    ]


def _decode_rows(row_type: type[FactRow], rows: Iterable[list[Any]]) -> list[FactRow]:
    names = _fields(row_type)
    decoded: list[list[Any]] = [
        [
            datetime.fromisoformat(value) if name in _TIME_FIELDS and value is not None else value
            for name, value in zip(names, values, strict=True)
        ]
        for values in rows
    ]
    return build(row_type, decoded)


def _payload(table: str, watermark: int, answer: Any) -> list[Any]:
    return [table, watermark, answer]


def _valid(payload: Any, table: str, series_id: int, log: _Log) -> bool:
    """A cached payload answers this read: right table, and no later commit touched it."""
    return (
        isinstance(payload, list)
        and len(payload) == 3
        and payload[0] == table
        and isinstance(payload[1], int)
        and log.fresh(series_id, payload[1])
    )


def _replay_part(ingested_before: Replay) -> str:
    if ingested_before is None:
        return "-"
    if isinstance(ingested_before, Cutoff):
        return str(ingested_before)
    return f"t{ingested_before.isoformat()}"


def _times_digest(times: Iterable[datetime]) -> str:
    text_ = "|".join(moment.isoformat() for moment in times)
    return hashlib.sha256(text_.encode()).hexdigest()[:32]


# --- the logic, written once: generators yielding the requests the two drivers carry out --------

#: The plain reads' logic: its steps yield :class:`~mp_db._reads.Fetch` requests that the
#: reader's driver runs (it holds no state of its own).
_READS: Final = _Reads()


@dataclass(frozen=True, slots=True)
class _Load:
    """Run a plain read's steps on the reader (its driver, its connection); send the answer."""

    steps: Steps[Any]


@dataclass(frozen=True, slots=True)
class _CachedAsOf:
    """``cache.as_of(series_id, as_of, loader, query=query)``; the loader runs ``load()``'s
    steps on the reader."""

    series_id: int
    as_of: datetime
    query: str
    load: Callable[[], Steps[Any]]


@dataclass(frozen=True, slots=True)
class _CachedLatest:
    """``cache.latest_many(series_ids, loader, as_of=as_of)``; the loader runs
    ``load(missing, as_of)``'s steps on the reader."""

    series_ids: list[int]
    as_of: datetime | None
    load: Callable[[list[Any], datetime | None], Steps[Any]]


@dataclass(frozen=True, slots=True)
class _Drop:
    """Replace the generations of stale entries; sends True, or False if Redis was not told."""

    series_ids: list[int]


class _Windowed(Enum):
    """The cached reads over an observation window, and the plain read that answers a miss."""

    AS_OF = "as_of"
    FIRST_RELEASE = "first_release"

    def read(self, name: str, series_id: int, **options: Any) -> Steps[list[FactRow]]:
        if self is _Windowed.AS_OF:
            return _READS._as_of(name, series_id, **options)
        return _READS._first_release(name, series_id, **options)


def _statement(sql: str, parameters: dict[str, Any]) -> Steps[Any]:
    return (yield Fetch(sql, parameters))


def _check(log: _Log) -> Steps[None]:
    statement = log.due()
    if statement is not None:
        rows = yield _Load(_statement(*statement))
        log.absorb(rows)


class _Plan:
    """A read answered per series: its table, its part of the key, and how to load one series
    (steps giving its encoded answer)."""

    def __init__(
        self, table: str, query: str, as_of: datetime, load: Callable[[int], Steps[Any]]
    ) -> None:
        self.table, self.query, self.as_of, self.load = table, query, as_of, load
        self.row_type = ROW_TYPES[table]

    def rows(self, payload: list[Any]) -> list[FactRow]:
        return _decode_rows(self.row_type, payload[2])


def _per_series(log: _Log, plan: _Plan, ids: list[int]) -> Steps[dict[int, list[Any]]]:
    """Each series' payload: the cache's when valid, else loaded (and cached)."""
    yield from _check(log)
    watermark = log.seen or 0

    def loader(series_id: int) -> Steps[list[Any]]:
        answer = yield from plan.load(series_id)
        return _payload(plan.table, watermark, answer)

    payloads: dict[int, list[Any]] = {}
    for series_id in ids:
        cached = _CachedAsOf(series_id, plan.as_of, plan.query, partial(loader, series_id))
        payload = yield cached
        if not _valid(payload, plan.table, series_id, log):
            dropped = _same_table(payload, plan.table) and (yield _Drop([series_id]))
            payload = (yield cached) if dropped else None
            if not _valid(payload, plan.table, series_id, log):
                payload = yield _Load(loader(series_id))
        payloads[series_id] = payload
    return payloads


def _same_table(payload: Any, table: str) -> bool:
    # An entry of this series written by a read of another table (a wrong-kind read) is not
    # stale: leave it to its own readers, and answer this read from the database.
    return isinstance(payload, list) and len(payload) == 3 and payload[0] == table


def _range_steps(
    log: _Log,
    *,
    read: _Windowed,
    table: TableRef,
    parameters: Mapping[str, Any],
    as_of: datetime,
    ingested_before: Replay,
) -> Steps[list[FactRow]]:
    name = resolve_table(table).name
    start, end = parameters["start"], parameters["end"]
    replay = _replay_part(ingested_before)
    query = f"{name}:{read.value}:{start.isoformat()}:{end.isoformat()}:{replay}"

    def load(series_id: int) -> Steps[list[list[Any]]]:
        options = {"as_of": as_of, "start": start, "end": end, "ingested_before": ingested_before}
        return _encode_rows((yield from read.read(name, series_id, **options)))

    plan = _Plan(name, query, as_of, load)
    ids = _ids(parameters)
    payloads = yield from _per_series(log, plan, ids)
    return [row for series_id in ids for row in plan.rows(payloads[series_id])]


def _encode_rows(rows: Iterable[FactRow]) -> list[list[Any]]:
    return [_encode_row(row) for row in rows]


def _backtest_steps(
    log: _Log, table: TableRef, times: list[datetime], ids: list[int], ingested_before: Replay
) -> Steps[list[AsOfValue]]:
    name = resolve_table(table).name
    unique = sorted(set(times))
    query = f"{name}:backtest:{_times_digest(unique)}:{_replay_part(ingested_before)}"

    def load(series_id: int) -> Steps[list[list[list[Any]]]]:
        found = yield from _READS._backtest(
            name, series_id, unique, ingested_before=ingested_before
        )
        # One list of rows per distinct decision time (empty: nothing known yet).
        by_time: dict[datetime, list[list[Any]]] = {moment: [] for moment in unique}
        for value in found:
            if value.row is not None:
                by_time[value.decision_time].append(_encode_row(value.row))
        return [by_time[moment] for moment in unique]

    plan = _Plan(name, query, unique[-1], load)
    payloads = yield from _per_series(log, plan, ids)
    position = {moment: index for index, moment in enumerate(unique)}
    result: list[AsOfValue] = []
    for moment in times:
        for series_id in ids:
            rows = payloads[series_id][2][position[moment]]
            if not rows:
                result.append(AsOfValue(moment, series_id, None))
            result.extend(
                AsOfValue(moment, series_id, row) for row in _decode_rows(plan.row_type, rows)
            )
    return result


#: ``latest`` as of a time this recent (or later) also fills the series' latest-value entry,
#: which then answers every later T >= its knowledge_time: a performance choice, not a rule.
_LIVE_SECONDS: Final = 300.0


def _latest_steps(
    log: _Log, table: TableRef, ids: list[int], moment: datetime, ingested_before: Replay
) -> Steps[list[FactRow]]:
    name = resolve_table(table).name
    if ingested_before is not None:

        def load_one(series_id: int) -> Steps[list[list[Any]]]:
            found = yield from _READS._latest(
                name, series_id, as_of=moment, ingested_before=ingested_before
            )
            return _encode_rows(found)

        plan = _Plan(name, f"{name}:latest:{_replay_part(ingested_before)}", moment, load_one)
        payloads = yield from _per_series(log, plan, ids)
        return [row for series_id in ids for row in plan.rows(payloads[series_id])]

    from mp_cache import LatestValue

    yield from _check(log)
    watermark = log.seen or 0

    def load(missing: list[int], as_of: datetime | None) -> Steps[dict[int, LatestValue]]:
        # as_of None: the latest of every stored row. Its answer equals the answer as of any T
        # at or after its newest knowledge_time (the cache serves it only for those).
        when = END_OF_TIME if as_of is None else as_of
        found = yield from _READS._latest(name, missing, as_of=when)
        by_series: dict[int, list[FactRow]] = {series_id: [] for series_id in missing}
        for row in found:
            by_series[row.series_id].append(row)
        # A series with nothing known is an answer too ("nothing"), valid from the beginning.
        return {
            series_id: LatestValue(
                _payload(name, watermark, _encode_rows(rows)),
                max((row.knowledge_time for row in rows), default=BEGINNING),
            )
            for series_id, rows in by_series.items()
        }

    live = moment.timestamp() >= time.time() - _LIVE_SECONDS
    found: dict[int, LatestValue] = {}
    for as_of in (None, moment) if live else (moment,):
        wanted = [series_id for series_id in ids if series_id not in found]
        if not wanted:
            break
        cached = _CachedLatest(wanted, as_of, load)
        answers: Mapping[int, LatestValue] = yield cached
        stale = []
        for series_id, value in answers.items():
            if _valid(value.data, name, series_id, log) and value.knowledge_time <= moment:
                found[series_id] = value
            elif _same_table(value.data, name) and not log.fresh(series_id, value.data[1]):
                stale.append(series_id)
        if stale and (yield _Drop(stale)):
            again: Mapping[int, LatestValue] = yield replace(cached, series_ids=stale)
            found.update(
                (series_id, value)
                for series_id, value in again.items()
                if _valid(value.data, name, series_id, log) and value.knowledge_time <= moment
            )
    missing = [series_id for series_id in ids if series_id not in found]
    if missing:
        found.update((yield _Load(load(missing, moment))))
    return _decode_rows(
        ROW_TYPES[name], (values for series_id in ids for values in found[series_id].data[2])
    )


def _ids(parameters: Mapping[str, Any]) -> list[int]:
    if "series_id" in parameters:
        return [int(parameters["series_id"])]
    return [int(series_id) for series_id in parameters["series_ids"]]


# --- the readers: argument checks as the Reader's, then the logic on a driver ---------------------


class _CachedReads(Generic[RD, CA]):
    """The read methods of both cached readers, written once as steps (arguments checked
    exactly as :class:`~mp_db.Reader` checks them, before anything else happens)."""

    def __init__(
        self,
        reader: RD,
        cache: CA,
        *,
        max_staleness_seconds: float = DEFAULT_MAX_STALENESS_SECONDS,
    ) -> None:
        self.reader: RD = reader
        self.cache: CA = cache
        ttl_seconds: float = cache.ttl_seconds  # type: ignore[attr-defined]  # a Cache
        self._log = _Log(max_staleness_seconds, ttl_seconds + _LOG_MARGIN_SECONDS)

    @property
    def max_staleness_seconds(self) -> float:
        """How often, at most, this reader checks ``mp.ingest_log`` for missed invalidations."""
        return self._log.max_staleness

    def _cutoff(self, *, at: datetime | None = None) -> Steps[Cutoff]:
        """See :meth:`mp_db.Reader.cutoff`."""
        cutoff: Cutoff = yield _Load(_READS._cutoff(at=at))
        return cutoff

    def _as_of(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """See :meth:`mp_db.Reader.as_of`."""
        query = _Queries.as_of(
            table,
            series_ids=series_ids,
            as_of=as_of,
            start=start,
            end=end,
            ingested_before=ingested_before,
        )
        return (yield from self._windowed(_Windowed.AS_OF, table, query, ingested_before))

    def _first_release(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """See :meth:`mp_db.Reader.first_release`."""
        query = _Queries.ranged(
            table,
            Ranged.FIRST_RELEASE,
            series_ids=series_ids,
            start=start,
            end=end,
            as_of=as_of,
            ingested_before=ingested_before,
        )
        return (yield from self._windowed(_Windowed.FIRST_RELEASE, table, query, ingested_before))

    def _windowed(
        self, read: _Windowed, table: TableRef, query: Query[Any], ingested_before: Replay
    ) -> Steps[list[Any]]:
        found: list[Any] = yield from _range_steps(
            self._log,
            read=read,
            table=table,
            parameters=query.parameters,
            as_of=query.parameters["as_of"],
            ingested_before=ingested_before,
        )
        return found

    def _latest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: Replay = None,
    ) -> Steps[list[Any]]:
        """See :meth:`mp_db.Reader.latest`."""
        query = _Queries.latest(table, series_ids, as_of, ingested_before)
        moment = query.parameters["as_of"]
        found: list[Any] = yield from _latest_steps(
            self._log, table, _ids(query.parameters), moment, ingested_before
        )
        return found

    def _backtest(
        self,
        table: TableRef,
        series_ids: int | Iterable[int],
        decision_times: Sequence[datetime],
        *,
        ingested_before: Replay = None,
    ) -> Steps[list[AsOfValue]]:
        """See :meth:`mp_db.Reader.backtest`."""
        _query, times, ids = _Queries.backtest_stream(
            table, series_ids, decision_times, ingested_before
        )
        if not times:
            return []
        return (yield from _backtest_steps(self._log, table, times, ids, ingested_before))


class CachedReader(_CachedReads[Reader, "Cache"]):
    """A :class:`~mp_db.Reader` answered from mp's cache where the cache can answer.

    Over a connection held in one long (REPEATABLE READ) transaction, a hit can be newer than
    that transaction's snapshot: the cache is shared, the snapshot is not. Read such snapshots
    with the plain reader.

    ``latest``, ``as_of``, ``first_release`` and ``backtest`` take the reader's arguments and
    give its answers and errors; ``cutoff`` is the reader's, and every other read is on
    :attr:`reader`. See :mod:`mp_db._cached_reads` (or mp-cache's README) for what coherence
    holds and for how long an entry can outlive a commit whose invalidation was lost.

    Args:
        reader: answers misses; its bind also answers the ``mp.ingest_log`` checks.
        cache: an :class:`mp_cache.Cache` in the namespace ingest invalidates
            (``MP_REDIS_CACHE_NAMESPACE``).
        max_staleness_seconds: how often, at most, to check ``mp.ingest_log`` for commits whose
            invalidation did not arrive (``MP_REDIS_CACHE_MAX_STALENESS_SECONDS``; 0: before
            every read).
    """

    def _drive(self, steps: Steps[T]) -> T:
        return run(steps, self._execute)

    def _execute(self, request: Any) -> Any:
        drive = self.reader._drive
        if isinstance(request, _Load):
            return drive(request.steps)
        if isinstance(request, _CachedAsOf):
            load = request.load
            return self.cache.as_of(
                request.series_id, request.as_of, lambda: drive(load()), query=request.query
            )
        if isinstance(request, _CachedLatest):
            load_many = request.load
            return self.cache.latest_many(
                request.series_ids,
                lambda missing, as_of: drive(load_many(missing, as_of)),
                as_of=request.as_of,
            )
        from mp_cache import CacheUnavailableError

        try:
            self.cache.invalidate(request.series_ids)
        except CacheUnavailableError:
            return False
        return True

    cutoff = sync_method(_CachedReads._cutoff)
    as_of = sync_method(_CachedReads._as_of)
    first_release = sync_method(_CachedReads._first_release)
    latest = sync_method(_CachedReads._latest)
    backtest = sync_method(_CachedReads._backtest)


class AsyncCachedReader(_CachedReads[AsyncReader, "AsyncCache"]):
    """The asyncio counterpart of :class:`CachedReader` over an :class:`~mp_db.AsyncReader`
    and an :class:`mp_cache.AsyncCache`: same methods, same answers, awaited."""

    async def _drive(self, steps: Steps[T]) -> T:
        return await run_async(steps, self._execute)

    async def _execute(self, request: Any) -> Any:
        drive = self.reader._drive
        if isinstance(request, _Load):
            return await drive(request.steps)
        if isinstance(request, _CachedAsOf):
            load = request.load

            async def loader() -> Any:
                return await drive(load())

            return await self.cache.as_of(
                request.series_id, request.as_of, loader, query=request.query
            )
        if isinstance(request, _CachedLatest):
            load_many = request.load

            async def many(missing: list[Any], as_of: datetime | None) -> Any:
                return await drive(load_many(missing, as_of))

            return await self.cache.latest_many(request.series_ids, many, as_of=request.as_of)
        from mp_cache import CacheUnavailableError

        try:
            await self.cache.invalidate(request.series_ids)
        except CacheUnavailableError:
            return False
        return True

    cutoff = async_method(_CachedReads._cutoff)
    as_of = async_method(_CachedReads._as_of)
    first_release = async_method(_CachedReads._first_release)
    latest = async_method(_CachedReads._latest)
    backtest = async_method(_CachedReads._backtest)
