"""A brute-force model of the point-in-time contract (issue 11), standard library only.

Everything is computed the slow, obvious way from the contract's sentences: ingest merges each
observation's stored rows with the batch in knowledge-time order (rule 3), and every read
walks all stored rows. Rows come out as plain dicts (column -> value) so they can be compared
with ``FactRow.as_dict()`` minus the columns the model cannot know (``ingested_at``,
``ingest_id``).

Ingests carry an id; an ingest's rows are visible to reads only once it is committed, and a
cutoff is the set of ingest ids committed when it was taken (replay is exact with respect to
commits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reference.tables import TableShape

__all__ = ["LEGACY_INGEST", "Model", "ModelReport", "Publication", "Row", "StoredRow"]

#: The ingest id of rows stored before mp logged ingests (docs/pit-guide.md: they count for
#: every Cutoff, and for a datetime when their ingested_at is at or before it).
LEGACY_INGEST = 0
#: An observation: series_id, obs_time and the entity values.
ObservationKey = tuple[Any, ...]
#: A row as reads return it: column -> value.
Row = dict[str, Any]


def _utc(moment: datetime) -> datetime:
    assert moment.tzinfo is not None, "the model only takes aware datetimes"
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Publication:
    """One batch row, normalized: observation + knowledge_time + values (+ source)."""

    series_id: int
    obs_time: datetime
    entities: tuple[Any, ...]
    knowledge_time: datetime
    values: tuple[Any, ...]
    source: str

    @property
    def observation(self) -> ObservationKey:
        return (self.series_id, self.obs_time, *self.entities)


@dataclass(frozen=True)
class StoredRow:
    """A stored publication with its revision and the ingest that stored it."""

    publication: Publication
    revision: int
    ingest_id: int

    @property
    def knowledge_time(self) -> datetime:
        return self.publication.knowledge_time


@dataclass(frozen=True)
class ModelReport:
    """The counts the contract defines for one ingest call."""

    received: int
    inserted: int
    revisions: int
    republications: int
    unchanged: int
    already_stored: int
    conflicts: int
    duplicates_dropped: int

    def invariant_holds(self) -> bool:
        """``received`` and ``inserted`` add up as the contract says."""
        return self.received == (
            self.inserted
            + self.unchanged
            + self.already_stored
            + self.conflicts
            + self.duplicates_dropped
        )


class Model:
    """The stored rows of one fact table and every read over them."""

    def __init__(self, shape: TableShape) -> None:
        self.shape = shape
        self._stored: dict[ObservationKey, dict[datetime, StoredRow]] = {}
        self._committed: list[int] = []
        self._pending: set[int] = set()

    # -- ingest ---------------------------------------------------------------------------------

    def publication(self, row: Mapping[str, Any], default_source: str = "vendor") -> Publication:
        """A batch row (a mapping as given to ingest) in normalized form."""
        entities = tuple(
            row.get(entity, 0) if entity == "instrument_id" else row[entity]
            for entity in self.shape.entities
        )
        values = tuple(
            _utc(row[column]) if isinstance(row.get(column), datetime) else row.get(column)
            for column in self.shape.values
        )
        return Publication(
            series_id=int(row["series_id"]),
            obs_time=_utc(row["obs_time"]),
            entities=entities,
            knowledge_time=_utc(row["knowledge_time"]),
            values=values,
            source=str(row.get("knowledge_time_source", default_source)),
        )

    def ingest(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        ingest_id: int,
        keep_republications: bool = False,
        commit: bool = True,
    ) -> ModelReport:
        """Apply one batch as the contract's ingest rules 1-5 say; return its report.

        With ``commit=False`` the rows are stored but invisible to reads until :meth:`commit`
        (an ingest in flight).
        """
        assert ingest_id not in self._committed, f"ingest {ingest_id} already ran"
        assert ingest_id not in self._pending, f"ingest {ingest_id} already ran"
        batch: dict[tuple[Any, ...], Publication] = {}
        duplicates = 0
        for row in rows:
            publication = self.publication(row)
            key = (*publication.observation, publication.knowledge_time)
            earlier = batch.get(key)
            if earlier is None:
                batch[key] = publication
            elif earlier == publication:
                duplicates += 1
            else:
                raise ValueError(f"the batch repeats key {key} with other values (duplicate_key)")
        by_observation: dict[ObservationKey, list[Publication]] = {}
        for publication in batch.values():
            by_observation.setdefault(publication.observation, []).append(publication)
        counts = dict.fromkeys(
            ("inserted", "revisions", "republications", "unchanged", "already", "conflicts"), 0
        )
        for observation, publications in by_observation.items():
            stored = self._stored.setdefault(observation, {})
            remaining = []
            for publication in publications:
                existing = stored.get(publication.knowledge_time)
                if existing is None:
                    remaining.append(publication)
                elif existing.publication.values == publication.values:
                    counts["already"] += 1  # rule 1
                else:
                    counts["conflicts"] += 1  # rule 2: ignored entirely
            self._merge(stored, remaining, counts, keep_republications, ingest_id)
        if commit:
            self._committed.append(ingest_id)
        else:
            self._pending.add(ingest_id)
        return ModelReport(
            received=len(rows),
            inserted=counts["inserted"],
            revisions=counts["revisions"],
            republications=counts["republications"],
            unchanged=counts["unchanged"],
            already_stored=counts["already"],
            conflicts=counts["conflicts"],
            duplicates_dropped=duplicates,
        )

    @staticmethod
    def _merge(
        stored: dict[datetime, StoredRow],
        remaining: list[Publication],
        counts: dict[str, int],
        keep_republications: bool,
        ingest_id: int,
    ) -> None:
        """Rules 3 and 4: merge the remaining batch rows with the stored ones in kt order."""
        new = {publication.knowledge_time: publication for publication in remaining}
        merged = sorted({*stored, *new})
        changes = 0
        previous: tuple[Any, ...] | None = None
        for position, moment in enumerate(merged):
            values = stored[moment].publication.values if moment in stored else new[moment].values
            changed = position > 0 and values != previous
            if changed:
                changes += 1
            previous = values
            if moment not in new:
                continue
            if position == 0 or changed:
                counts["inserted"] += 1
                counts["revisions"] += int(changed)
            elif keep_republications:
                counts["inserted"] += 1
                counts["republications"] += 1
            else:
                counts["unchanged"] += 1
                continue
            stored[moment] = StoredRow(new[moment], changes, ingest_id)

    def commit(self, ingest_id: int) -> None:
        """An ingest in flight commits: its rows become visible, in commit order."""
        self._pending.remove(ingest_id)
        self._committed.append(ingest_id)

    def cutoff(self) -> frozenset[int]:
        """What a cutoff taken now covers: every ingest committed so far, and rows stored
        before the ingest log existed (``LEGACY_INGEST``), which every Cutoff counts. (A
        datetime ``ingested_before`` counts those only when stored at or before it: a test
        passing one builds its covered set itself.)"""
        return frozenset({*self._committed, LEGACY_INGEST})

    def stored(self) -> list[StoredRow]:
        """Every stored row (in flight included), in key order: what the table must hold."""
        return [rows[moment] for _, rows in sorted(self._stored.items()) for moment in sorted(rows)]

    # -- helpers --------------------------------------------------------------------------------

    def row(self, stored: StoredRow) -> Row:
        """A stored row as a read returns it."""
        publication = stored.publication
        row: Row = {
            "series_id": publication.series_id,
            "obs_time": publication.obs_time,
            "knowledge_time": publication.knowledge_time,
            "revision": stored.revision,
            "knowledge_time_source": publication.source,
        }
        row.update(zip(self.shape.entities, publication.entities, strict=True))
        row.update(zip(self.shape.values, publication.values, strict=True))
        return row

    def _visible(
        self, ingested_before: frozenset[int] | None
    ) -> dict[ObservationKey, list[StoredRow]]:
        """Per observation, the stored rows a read may see, in knowledge-time order."""
        committed = set(self._committed)
        if ingested_before is not None:
            committed &= ingested_before
        result = {}
        for observation, rows in self._stored.items():
            seen = [rows[moment] for moment in sorted(rows) if rows[moment].ingest_id in committed]
            if seen:
                result[observation] = seen
        return dict(sorted(result.items()))

    @staticmethod
    def _ids(series_ids: int | Iterable[int]) -> set[int]:
        return {series_ids} if isinstance(series_ids, int) else {int(item) for item in series_ids}

    @staticmethod
    def _in_range(obs_time: datetime, start: datetime | None, end: datetime | None) -> bool:
        return (start is None or _utc(start) <= obs_time) and (end is None or obs_time < _utc(end))

    def _changes(self, rows: list[StoredRow], as_of: datetime | None) -> list[StoredRow]:
        """The value changes among ``rows`` (kt order) known at ``as_of``."""
        known = [row for row in rows if as_of is None or row.knowledge_time <= _utc(as_of)]
        kept = []
        for position, row in enumerate(known):
            if position == 0 or row.publication.values != known[position - 1].publication.values:
                kept.append(row)
        return kept

    # -- reads ----------------------------------------------------------------------------------

    def as_of(
        self,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        ingested_before: frozenset[int] | None = None,
    ) -> list[Row]:
        """Each observation in [start, end) at its stored row with the greatest kt <= T."""
        ids, moment = self._ids(series_ids), _utc(as_of)
        result = []
        for (series_id, obs_time, *_), rows in self._visible(ingested_before).items():
            if series_id not in ids or not self._in_range(obs_time, start, end):
                continue
            known = [row for row in rows if row.knowledge_time <= moment]
            if known:
                result.append(self.row(known[-1]))
        return result

    def latest(
        self,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime,
        ingested_before: frozenset[int] | None = None,
    ) -> list[Row]:
        """Per series, every entity of its newest observation known at T, newest version."""
        ids, moment = self._ids(series_ids), _utc(as_of)
        known: dict[ObservationKey, StoredRow] = {}
        for observation, rows in self._visible(ingested_before).items():
            seen = [row for row in rows if row.knowledge_time <= moment]
            if observation[0] in ids and seen:
                known[observation] = seen[-1]
        result: list[Row] = []
        for series_id in sorted(ids):
            mine = {key: row for key, row in known.items() if key[0] == series_id}
            if not mine:
                continue
            newest = max(key[1] for key in mine)
            result.extend(self.row(row) for key, row in sorted(mine.items()) if key[1] == newest)
        return result

    def first_release(
        self,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None = None,
        ingested_before: frozenset[int] | None = None,
    ) -> list[Row]:
        """Per observation in range, its row with the smallest kt, if that kt <= as_of."""
        ids = self._ids(series_ids)
        result = []
        for (series_id, obs_time, *_), rows in self._visible(ingested_before).items():
            if series_id not in ids or not self._in_range(obs_time, start, end):
                continue
            if as_of is None or rows[0].knowledge_time <= _utc(as_of):
                result.append(self.row(rows[0]))
        return result

    def vintages(
        self,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None = None,
        ingested_before: frozenset[int] | None = None,
    ) -> list[Row]:
        """The value changes of each observation in range known at as_of."""
        return [row for row, _ in self._intervals(series_ids, start, end, as_of, ingested_before)]

    def intervals(
        self,
        series_ids: int | Iterable[int],
        *,
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None = None,
        ingested_before: frozenset[int] | None = None,
    ) -> list[tuple[Row, datetime, datetime | None]]:
        """Each value change with realtime_start (its kt) and realtime_end (the next one's)."""
        return [
            (row, row["knowledge_time"], end_time)
            for row, end_time in self._intervals(series_ids, start, end, as_of, ingested_before)
        ]

    def _intervals(
        self,
        series_ids: int | Iterable[int],
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None,
        ingested_before: frozenset[int] | None,
    ) -> list[tuple[Row, datetime | None]]:
        ids = self._ids(series_ids)
        result: list[tuple[Row, datetime | None]] = []
        for (series_id, obs_time, *_), rows in self._visible(ingested_before).items():
            if series_id not in ids or not self._in_range(obs_time, start, end):
                continue
            changes = self._changes(rows, as_of)
            for position, row in enumerate(changes):
                following = changes[position + 1] if position + 1 < len(changes) else None
                result.append(
                    (self.row(row), None if following is None else following.knowledge_time)
                )
        return result

    def vintage_dates(
        self,
        series_ids: int | Iterable[int],
        *,
        as_of: datetime | None = None,
        ingested_before: frozenset[int] | None = None,
    ) -> list[datetime] | dict[int, list[datetime]]:
        """Sorted distinct kts of the value changes: a list for one id, a dict for many."""
        ids = self._ids(series_ids)
        dates: dict[int, set[datetime]] = {series_id: set() for series_id in ids}
        for observation, rows in self._visible(ingested_before).items():
            if observation[0] in ids:
                dates[observation[0]].update(
                    row.knowledge_time for row in self._changes(rows, as_of)
                )
        if isinstance(series_ids, int):
            return sorted(dates[series_ids])
        return {series_id: sorted(dates[series_id]) for series_id in sorted(ids)}

    def cross_section(
        self,
        obs_time: datetime,
        *,
        as_of: datetime,
        series_ids: int | Iterable[int] | None = None,
        ingested_before: frozenset[int] | None = None,
    ) -> list[Row]:
        """Every (or each chosen) series at exactly obs_time: each entity at its newest kt <= T."""
        ids = None if series_ids is None else self._ids(series_ids)
        moment, period = _utc(as_of), _utc(obs_time)
        result = []
        for (series_id, observed, *_), rows in self._visible(ingested_before).items():
            if observed != period or (ids is not None and series_id not in ids):
                continue
            known = [row for row in rows if row.knowledge_time <= moment]
            if known:
                result.append(self.row(known[-1]))
        return result

    def backtest(
        self,
        series_ids: int | Iterable[int],
        decision_times: Sequence[datetime],
        *,
        ingested_before: frozenset[int] | None = None,
    ) -> list[tuple[datetime, int, Row | None]]:
        """Per decision time in the order given, per series ascending: latest's rows, or None."""
        result: list[tuple[datetime, int, Row | None]] = []
        for moment in decision_times:
            for series_id in sorted(self._ids(series_ids)):
                rows = self.latest(series_id, as_of=moment, ingested_before=ingested_before)
                if rows:
                    result.extend((moment, series_id, row) for row in rows)
                else:
                    result.append((moment, series_id, None))
        return result

    def join_as_of(
        self, rows: Sequence[Row], decision_times: Sequence[datetime]
    ) -> list[tuple[datetime, int, Row | None]]:
        """``backtest`` over a release stream: the series are those present in ``rows``."""
        result: list[tuple[datetime, int, Row | None]] = []
        series = sorted({row["series_id"] for row in rows})
        for moment in decision_times:
            for series_id in series:
                known = [
                    row
                    for row in rows
                    if row["series_id"] == series_id and row["knowledge_time"] <= _utc(moment)
                ]
                if not known:
                    result.append((moment, series_id, None))
                    continue
                newest = max(row["obs_time"] for row in known)
                best: dict[tuple[Any, ...], Row] = {}
                for row in known:
                    if row["obs_time"] != newest:
                        continue
                    entity = tuple(row[column] for column in self.shape.entities)
                    if entity not in best or row["knowledge_time"] > best[entity]["knowledge_time"]:
                        best[entity] = row
                result.extend((moment, series_id, best[entity]) for entity in sorted(best))
        return result
