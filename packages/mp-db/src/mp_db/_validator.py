"""One validator per fact table, compiled once from its registry entry.

:func:`compiled_validator` turns a table's :class:`~mp_schema.FactSpec` into a
:class:`CompiledValidator`: one :class:`ColumnStep` per input column (its type, whether it may
be absent, its default, its rules) and the table's row rules. Nothing here knows a table or a
column by name; what differs between tables is in the steps.

A validator checks a row two ways, with the same outcome:

* :meth:`CompiledValidator.fast`, a function generated from the steps (as :mod:`dataclasses`
  generates ``__init__``), accepts rows of exact types (``int``, ``float``, aware
  ``datetime``, ``str``) with no branching on rules at run time, and returns ``None`` for
  anything else;
* :meth:`CompiledValidator.check`, which handles every type and names every problem.

Frames are checked a third way, from the same steps and rules: :mod:`mp_db._column_checks`
checks whole columns with numpy and either accepts every row at once or hands the batch to
these two paths, which then name every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from math import isfinite
from re import Pattern
from typing import Any

from mp_db._row_checks import RowChecker
from mp_db._tables import FactTable
from mp_db.exceptions import RowProblem
from mp_schema import FactSpec
from mp_schema._rules import AtLeast, AtLeastOne, Column, Matches, NonNegative, NotBelow, OneOf

__all__ = ["ColumnStep", "CompiledValidator", "compiled_validator"]

_KINDS = {"int2": "int", "int4": "int", "int8": "int", "timestamptz": "timestamp"}
_KINDS |= {"float8": "number", "varchar": "text"}


@dataclass(frozen=True, slots=True)
class ColumnStep:
    """How one input column is read and checked.

    Attributes:
        name: the column.
        kind: ``int``, ``timestamp``, ``number`` or ``text`` (from its SQL type).
        nullable: absent values are allowed (stored as NULL).
        missing_code: the problem code of a missing required value.
        default: used when the row omits the column (``None``: no default).
        minimum: integers only: the smallest allowed value.
        allowed: texts only: the allowed values (an enum).
        pattern: texts only: a format the whole text must match.
        expected: what ``pattern`` means, for the message.
        limit: texts only: the column's length.
        accepts_date: a ``date`` is read as 00:00 UTC (the period of a dated table).
        uses_default_source: the default is the call's ``default_source``.
    """

    name: str
    kind: str
    nullable: bool
    missing_code: str
    default: Any = None
    minimum: int = 0
    allowed: frozenset[str] | None = None
    pattern: Pattern[str] | None = None
    expected: str = ""
    limit: int | None = None
    accepts_date: bool = False
    uses_default_source: bool = False


def _step(spec: FactSpec, column: Column) -> ColumnStep:
    kind = _KINDS[column.type.name]
    in_key = column.name in spec.key_columns
    # A missing timestamp has always been reported as a missing key, value columns included;
    # codes are part of the contract, so that stays.
    key_like = in_key or kind in {"int", "timestamp"}
    minimum = column.rule(AtLeast)
    allowed = column.rule(OneOf)
    pattern = column.rule(Matches)
    return ColumnStep(
        name=column.name,
        kind=kind,
        nullable=column.nullable,
        missing_code="missing_key" if key_like else "missing_value",
        default=column.default,
        minimum=minimum.minimum if isinstance(minimum, AtLeast) else 0,
        allowed=allowed.values if isinstance(allowed, OneOf) else None,
        pattern=pattern.compiled if isinstance(pattern, Matches) else None,
        expected=pattern.expected if isinstance(pattern, Matches) else "a valid code",
        limit=column.type.length,
        accepts_date=column.accepts_date and spec.dated,
        uses_default_source=column.default_from_call,
    )


@dataclass(frozen=True)
class CompiledValidator:
    """A fact table's checks, compiled once (see the module docstring).

    Attributes:
        table: the fact table.
        steps: input columns, in the order their problems are reported.
        staged: output record layout (``FactTable.staged``).
        allowed: field names a row may carry.
        presence: row rules that speak only when nothing else is wrong with the row.
        row_rules: the other row rules, in registry order.
        fast: the generated exact-type path; returns ``None`` for a row it cannot accept
            (the caller then runs :meth:`check`).
        source: the generated function's source, for reading and debugging.
    """

    table: FactTable
    steps: tuple[ColumnStep, ...]
    staged: tuple[str, ...]
    allowed: frozenset[str]
    presence: tuple[AtLeastOne, ...]
    row_rules: tuple[NotBelow | NonNegative, ...]
    fast: Callable[[Mapping[str, Any], str], tuple[Any, ...] | None]
    source: str

    def check(
        self,
        index: int,
        data: Mapping[str, Any],
        default_source: str,
        problems: list[RowProblem],
    ) -> tuple[Any, ...] | None:
        """The normalized record of one row, or ``None`` with its problems appended."""
        check = RowChecker(self.table.qualified, index, problems)
        for name in data:
            if name not in self.allowed:
                check.problem(
                    str(name),
                    "unknown_field",
                    f"{name!r} is not a column of {self.table.qualified}",
                )
        values = {
            step.name: check.value(
                step,
                data.get(step.name, default_source if step.uses_default_source else step.default),
            )
            for step in self.steps
        }
        self._row_checks(check, values)
        if check.failed:
            return None
        return tuple(values[column] for column in self.staged)

    def _row_checks(self, check: RowChecker, values: dict[str, Any]) -> None:
        spec = self.table.spec
        obs, known = values["obs_time"], values["knowledge_time"]
        if (
            obs is not None
            and spec.dated
            and (obs.hour, obs.minute, obs.second, obs.microsecond) != (0, 0, 0, 0)
        ):
            check.problem(
                "obs_time",
                "obs_not_midnight",
                f"obs_time {obs.isoformat()} is not 00:00 UTC ({self.table.qualified} is dated)",
            )
        if obs is not None and known is not None and spec.knowledge_after_obs and known < obs:
            check.problem(
                "knowledge_time",
                "knowledge_before_obs",
                f"knowledge_time {known.isoformat()} is before obs_time {obs.isoformat()}",
            )
        for presence in self.presence:
            if not check.failed and all(values[column] is None for column in presence.columns):
                check.problem("", presence.code, presence.message)
        for rule in self.row_rules:
            if isinstance(rule, NotBelow):
                upper, lower = values[rule.upper], values[rule.lower]
                if upper is not None and lower is not None and upper < lower:
                    check.problem(
                        rule.upper,
                        "high_below_low",
                        f"{rule.upper} {upper} is below {rule.lower} {lower}",
                    )
            else:
                for column in rule.columns:
                    number = values[column]
                    if number is not None and number < 0:
                        check.problem(column, "negative", f"{column} {number} is negative")


def _step_lines(step: ColumnStep, var: str, constant: str) -> list[str]:
    """Straight-line checks of one column: assign ``var`` or ``return None``."""
    if step.uses_default_source:
        lines = [f"{var} = data.get({step.name!r}, default_source)"]
    else:
        lines = [f"{var} = data.get({step.name!r}, {step.default!r})"]
    if step.kind == "int":
        body = [f"if type({var}) is not int or {var} < {step.minimum!r}:", "    return None"]
    elif step.kind == "timestamp":
        body = [
            f"if type({var}) is not datetime:",
            "    return None",
            f"if {var}.tzinfo is not UTC:",
            f"    if {var}.tzinfo is None or {var}.utcoffset() is None:",
            "        return None",
            f"    {var} = {var}.astimezone(UTC)",
        ]
    elif step.kind == "number":
        return [
            *lines,
            f"if type({var}) is float:",
            f"    if not isfinite({var}):",
            "        return None",
            f"elif {var} is None:",
            "    pass" if step.nullable else "    return None",
            f"elif type({var}) is int:",
            f"    {var} = float({var})",
            "else:",
            "    return None",
        ]
    elif step.allowed is not None:
        # Maps each allowed value (and an enum member, equal to it) to the plain string.
        body = [
            f"{var} = {constant}.get({var}) if isinstance({var}, str) else None",
            f"if {var} is None:",
            "    return None",
        ]
    else:
        condition = f"type({var}) is not str or len({var}) > {step.limit!r} or '\\x00' in {var}"
        if step.pattern is not None:
            condition += f" or not {constant}.fullmatch({var})"
        body = [f"if {condition}:", "    return None"]
    if step.nullable:
        return [*lines, f"if {var} is not None:", *(f"    {line}" for line in body)]
    return [*lines, *body]


def _generate(
    spec: FactSpec,
    steps: tuple[ColumnStep, ...],
    *,
    staged: tuple[str, ...],
    allowed: frozenset[str],
    presence: tuple[AtLeastOne, ...],
    row_rules: tuple[NotBelow | NonNegative, ...],
) -> tuple[Callable[[Mapping[str, Any], str], tuple[Any, ...] | None], str]:
    names = {step.name: f"v{position}" for position, step in enumerate(steps)}
    namespace: dict[str, Any] = {"allowed": allowed, "datetime": datetime, "UTC": UTC}
    namespace["isfinite"] = isfinite
    lines = [
        "def fast(data, default_source):",
        "    if not data.keys() <= allowed:",
        "        return None",
    ]
    for position, step in enumerate(steps):
        constant = f"c{position}"
        if step.allowed is not None:
            fits = (value for value in step.allowed if len(value) <= (step.limit or len(value)))
            namespace[constant] = {value: value for value in fits if "\x00" not in value}
        else:
            namespace[constant] = step.pattern
        lines += [f"    {line}" for line in _step_lines(step, names[step.name], constant)]
    obs, known = names["obs_time"], names["knowledge_time"]
    if spec.dated:
        lines += [f"    if {obs}.hour or {obs}.minute or {obs}.second or {obs}.microsecond:"]
        lines += ["        return None"]
    if spec.knowledge_after_obs:
        lines += [f"    if {known} < {obs}:", "        return None"]
    for rule in presence:
        lines += [f"    if {' and '.join(f'{names[c]} is None' for c in rule.columns)}:"]
        lines += ["        return None"]
    for row_rule in row_rules:
        if isinstance(row_rule, NotBelow):
            upper, lower = names[row_rule.upper], names[row_rule.lower]
            lines += [f"    if {upper} is not None and {lower} is not None and {upper} < {lower}:"]
            lines += ["        return None"]
        else:
            for column in row_rule.columns:
                lines += [f"    if {names[column]} is not None and {names[column]} < 0:"]
                lines += ["        return None"]
    lines += [f"    return ({', '.join(names[column] for column in staged)},)"]
    source = "\n".join(lines) + "\n"
    # Generated from registry data only (names are checked identifiers, values are repr'd),
    # the way dataclasses generates __init__: one straight-line function per table.
    exec(compile(source, f"<mp_db fast validator: {spec.name}>", "exec"), namespace)  # noqa: S102
    function: Callable[[Mapping[str, Any], str], tuple[Any, ...] | None] = namespace["fast"]
    return function, source


@cache
def compiled_validator(table: FactTable) -> CompiledValidator:
    """The validator of ``table``, compiled on first use and kept."""
    spec = table.spec
    by_name = {column.name: column for column in spec.columns}
    staged = table.staged
    entities = set(spec.entity_columns)
    # Problems are reported in this order: series, times, entities, values, source.
    order = (
        *(name for name in spec.key_columns if name not in entities),
        *spec.entity_columns,
        *spec.value_columns,
        *(
            name
            for name in staged
            if name not in spec.key_columns and name not in spec.value_columns
        ),
    )
    steps = tuple(_step(spec, by_name[name]) for name in order)
    allowed = frozenset(staged) | frozenset(spec.ignored_on_input)
    presence = tuple(rule for rule in spec.rules if isinstance(rule, AtLeastOne))
    row_rules = tuple(rule for rule in spec.rules if isinstance(rule, NotBelow | NonNegative))
    fast, source = _generate(
        spec, steps, staged=staged, allowed=allowed, presence=presence, row_rules=row_rules
    )
    # Positional, in field order (see the class): the names are the fields' own.
    return CompiledValidator(table, steps, staged, allowed, presence, row_rules, fast, source)
