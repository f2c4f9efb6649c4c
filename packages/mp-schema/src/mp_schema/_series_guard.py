"""Series existence for every writer, without a per-row foreign key.

A foreign key from a fact table to ``mp.series`` made binary COPY 2.2-3.1 times slower and
served no read (docs/performance.md, "What the schema costs"). Its guarantee is kept by three
parts instead:

* mp's ingest checks every row's series (and its kind) before writing, naming each refused row
  (``unknown_series``, ``wrong_series_kind``). It reads them through ``mp.hold_series``, which
  locks those series rows ``FOR KEY SHARE`` until it commits (the lock a foreign key's check
  takes, once per batch instead of once per row; a SECURITY DEFINER function because the
  ingest role may not lock rows of ``mp.series`` itself). It then declares the check with
  ``SET LOCAL mp.series_checked = 'on'``.
* every other writer (a plain ``INSERT`` or ``COPY`` by any role) meets a row trigger on each
  fact hypertable (``series_exists``, propagated to chunks by TimescaleDB) that refuses a row
  whose series is missing or of another kind. Its ``WHEN`` clause skips it while
  :data:`SERIES_CHECKED_SETTING` is ``on``: the setting is a writer's declaration that it
  checked, as mp's ingest does; any role can make it, so only code that checks should.
* deleting a series, or changing its ``series_id`` or ``kind``, is refused while a fact table
  holds rows of it (``series_in_use``). The guard first takes SHARE on each fact hypertable,
  which waits for writers in flight (they hold ROW EXCLUSIVE) and holds new ones off until it
  commits, so no row can land between its look and the deletion.

The SQL here is what a migration pastes as literal text (``mp-schema revision`` adds it for a
database without it, and a trigger for each new fact table).
"""

from __future__ import annotations

from mp_schema._specs import FactSpec

__all__ = [
    "SERIES_CHECKED_SETTING",
    "TRIGGER_NAME",
    "drop_function_statements",
    "function_statements",
    "grant_templates",
    "table_trigger_sql",
]

#: The transaction setting by which a writer declares it checked every row's series.
SERIES_CHECKED_SETTING = "mp.series_checked"
#: The row trigger's name on each fact hypertable (and, by TimescaleDB, on each chunk).
TRIGGER_NAME = "series_exists"

_CHECK_FUNCTION = """CREATE FUNCTION mp.check_series_exists() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
DECLARE
    found_kind text;
BEGIN
    -- TG_ARGV: the series kind the table holds, and the table (the trigger fires on a chunk).
    SELECT kind INTO found_kind FROM mp.series WHERE series_id = NEW.series_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no series has series_id % (a row for mp.%)', NEW.series_id, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation',
                HINT = 'create the series in mp.series first';
    END IF;
    IF found_kind IS DISTINCT FROM TG_ARGV[0] THEN
        RAISE EXCEPTION 'series % is a % series; mp.% holds % series',
            NEW.series_id, found_kind, TG_ARGV[1], TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$mp$"""

_GUARD_FUNCTION = """CREATE FUNCTION mp.guard_series_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
DECLARE
    fact regclass;
    used boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.series_id = OLD.series_id AND NEW.kind = OLD.kind THEN
        RETURN NEW;
    END IF;
    -- The fact hypertables: the tables of schema mp carrying the series trigger (chunks live
    -- in TimescaleDB's own schema). SHARE waits for writers in flight and holds new ones off.
    FOR fact IN
        SELECT t.tgrelid::regclass FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.tgname = '{trigger}' AND n.nspname = 'mp' ORDER BY c.relname
    LOOP
        EXECUTE format('LOCK TABLE ONLY %s IN SHARE MODE', fact);
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE series_id = $1)', fact)
            INTO used USING OLD.series_id;
        IF used THEN
            RAISE EXCEPTION 'series % still has rows in %: it cannot be %',
                OLD.series_id, fact, CASE TG_OP WHEN 'DELETE' THEN 'deleted'
                ELSE 'given another series_id or kind' END
                USING ERRCODE = 'foreign_key_violation',
                    HINT = 'series are meant to be kept (set discontinued_at instead)';
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$mp$"""

_HOLD_FUNCTION = """CREATE FUNCTION mp.hold_series(series_ids integer[])
RETURNS TABLE (series_id integer, kind text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $mp$
    SELECT s.series_id, s.kind::text FROM mp.series s WHERE s.series_id = ANY(series_ids)
    FOR KEY SHARE
$mp$"""

_GUARD_TRIGGER = (
    "CREATE TRIGGER series_in_use BEFORE DELETE OR UPDATE OF series_id, kind ON mp.series"
    " FOR EACH ROW EXECUTE FUNCTION mp.guard_series_delete()"
)


def function_statements() -> list[str]:
    """The check, hold and guard functions and the guard's trigger on ``mp.series``."""
    return [
        _CHECK_FUNCTION,
        _GUARD_FUNCTION.replace("{trigger}", TRIGGER_NAME),
        _HOLD_FUNCTION,
        "REVOKE ALL ON FUNCTION mp.check_series_exists() FROM PUBLIC",
        "REVOKE ALL ON FUNCTION mp.guard_series_delete() FROM PUBLIC",
        "REVOKE ALL ON FUNCTION mp.hold_series(integer[]) FROM PUBLIC",
        _GUARD_TRIGGER,
    ]


def drop_function_statements() -> list[str]:
    """What :func:`function_statements` creates, dropped (the table triggers first)."""
    return [
        "DROP TRIGGER series_in_use ON mp.series",
        "DROP FUNCTION mp.hold_series(integer[])",
        "DROP FUNCTION mp.guard_series_delete()",
        "DROP FUNCTION mp.check_series_exists()",
    ]


def grant_templates() -> list[str]:
    """What the ingest role may run (``{ingest}``: its name, filled in by the migration)."""
    return ["GRANT EXECUTE ON FUNCTION mp.hold_series(integer[]) TO {ingest}"]


def table_trigger_sql(spec: FactSpec) -> str:
    """The ``series_exists`` trigger of ``spec``'s table.

    The ``WHEN`` clause is evaluated in C for every row; while the writer has declared its
    check (:data:`SERIES_CHECKED_SETTING`), the function is never called.
    """
    return (
        f"CREATE TRIGGER {TRIGGER_NAME} BEFORE INSERT OR UPDATE OF series_id ON mp.{spec.name}"
        f" FOR EACH ROW WHEN (current_setting('{SERIES_CHECKED_SETTING}', true)"
        f" IS DISTINCT FROM 'on') EXECUTE FUNCTION mp.check_series_exists("
        f"'{spec.kind.value}', '{spec.name}')"
    )
