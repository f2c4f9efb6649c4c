"""The part of PEP 440 / PEP 508 the CI scripts need, on ``packaging``.

``packaging`` is a dependency of nox (and of pip's own tooling), so it is there wherever these
scripts run: in nox sessions, in ``.ci/run`` after its first step, and in the CI workflow's
matrix job, which installs it first. The thin layer below only keeps the scripts' vocabulary:
requirement records with a normalized name and extras, and "does this specifier set admit this
version" with pre-releases admitted (a release check asks "would this version satisfy the
range", not "would a resolver pick it by default").
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "InvalidSpecifierError",
    "Requirement",
    "normalize_name",
    "parse_requirement",
    "parse_version",
    "specifier_admits",
    "split_specifier",
]


class InvalidSpecifierError(ValueError):
    """A version, specifier or requirement string that PEP 440 / PEP 508 do not allow."""


def parse_version(text: str) -> Version:
    """The PEP 440 version ``text``.

    Raises:
        InvalidSpecifierError: not a version.
    """
    try:
        return Version(text)
    except InvalidVersion as error:
        raise InvalidSpecifierError(f"{text!r} is not a PEP 440 version") from error


def _specifier_set(specifier: str) -> SpecifierSet:
    try:
        return SpecifierSet(specifier)
    except InvalidSpecifier as error:
        raise InvalidSpecifierError(f"{specifier!r} is not a PEP 440 specifier") from error


def split_specifier(specifier: str) -> list[tuple[str, str]]:
    """The ``(operator, version)`` clauses of a comma-joined specifier set."""
    return [(clause.operator, clause.version) for clause in _specifier_set(specifier)]


def specifier_admits(specifier: str, version: str | Version) -> bool:
    """Whether ``version`` satisfies ``specifier`` (pre-releases admitted)."""
    candidate = version if isinstance(version, Version) else parse_version(version)
    return _specifier_set(specifier).contains(candidate, prereleases=True)


def normalize_name(name: str) -> str:
    """The PEP 503 normalized project name (``MP_Config`` -> ``mp-config``)."""
    return canonicalize_name(name)


@dataclass(frozen=True, slots=True)
class Requirement:
    """A PEP 508 requirement: normalized name and extras, specifier, URL and marker as text."""

    text: str
    name: str
    extras: frozenset[str]
    specifier: str
    url: str | None
    marker: str | None


def parse_requirement(text: str) -> Requirement:
    """The requirement ``text`` (``name[extras] specifiers ; marker`` or ``name @ url``).

    Raises:
        InvalidSpecifierError: not a PEP 508 requirement.
    """
    try:
        parsed = PackagingRequirement(text)
    except InvalidRequirement as error:
        raise InvalidSpecifierError(f"{text!r} is not a PEP 508 requirement: {error}") from error
    return Requirement(
        text=text,
        name=normalize_name(parsed.name),
        extras=frozenset(normalize_name(extra) for extra in parsed.extras),
        specifier=str(parsed.specifier),
        url=parsed.url,
        marker=str(parsed.marker) if parsed.marker is not None else None,
    )
