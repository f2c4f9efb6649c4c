"""The small part of PEP 440 / PEP 508 the CI scripts need, in the standard library only.

The scripts in this folder run under whatever Python a nox session or a CI step has, before
anything is installed, so they cannot count on ``packaging``. What they need is narrow: parse
``name[extras] specifiers ; marker`` requirement strings and answer "does this specifier set
admit this version" for the operators of PEP 440 (``==`` with ``.*``, ``!=``, ``<``, ``<=``,
``>``, ``>=``, ``~=``, ``===``), comma-joined.

Containment follows ``packaging``'s ``SpecifierSet.contains(version, prereleases=True)``: a
pre-release is admitted when the operators admit it (a release check asks "would this version
satisfy the range", not "would a resolver pick it by default"). infra/tests compare the two on a
grid of cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_VERSION = re.compile(
    r"""
    ^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_letter>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_number>\d*))?
    (?:-(?P<post_implicit>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post_number>\d*))?
    (?:[-_.]?(?P<dev>dev)[-_.]?(?P<dev_number>\d*))?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}

_REQUIREMENT = re.compile(
    r"""
    ^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)
    \s*(?:\[(?P<extras>[^\]]*)\])?
    \s*(?:@\s*(?P<url>[^;\s]+)|\(?(?P<specifier>[^;()]*)\)?)
    \s*(?:;(?P<marker>.*))?$
    """,
    re.VERBOSE,
)
_CLAUSE = re.compile(r"^\s*(?P<operator>===|==|!=|<=|>=|~=|<|>)\s*(?P<version>\S+)\s*$")


class InvalidSpecifierError(ValueError):
    """A version, specifier or requirement string this module cannot parse."""


@dataclass(frozen=True, order=False)
class Version:
    """A parsed PEP 440 version; compare with ``key``, never with the text."""

    text: str
    epoch: int
    release: tuple[int, ...]
    pre: tuple[int, int] | None
    post: int | None
    dev: int | None
    local: str | None

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    @property
    def is_postrelease(self) -> bool:
        return self.post is not None

    @property
    def key(self) -> tuple[object, ...]:
        """Sort key in PEP 440 order (the same layout ``packaging`` uses)."""
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        # A dev release of a final version (1.0.dev1) sorts before its pre-releases (1.0a1).
        if self.pre is None and self.post is None and self.dev is not None:
            pre: tuple[int, int] = (-1, 0)
        elif self.pre is None:
            pre = (3, 0)
        else:
            pre = self.pre
        post = (0, 0) if self.post is None else (1, self.post)
        dev = (1, 0) if self.dev is None else (0, self.dev)
        return (self.epoch, tuple(release), pre, post, dev)

    @property
    def base_key(self) -> tuple[object, ...]:
        """Epoch and release only: what ``<V`` and ``>V`` compare their exclusions against."""
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return (self.epoch, tuple(release))


def parse_version(text: str) -> Version:
    """Parse ``text`` as a PEP 440 version or raise :class:`InvalidSpecifierError`."""
    match = _VERSION.match(text)
    if match is None:
        raise InvalidSpecifierError(f"not a PEP 440 version: {text!r}")
    pre = None
    if match["pre_letter"]:
        pre = (_PRE_RANK[match["pre_letter"].lower()], int(match["pre_number"] or 0))
    post = None
    if match["post_implicit"]:
        post = int(match["post_implicit"])
    elif match["post_number"] is not None:
        post = int(match["post_number"] or 0)
    dev = int(match["dev_number"] or 0) if match["dev"] else None
    return Version(
        text=text.strip(),
        epoch=int(match["epoch"] or 0),
        release=tuple(int(part) for part in match["release"].split(".")),
        pre=pre,
        post=post,
        dev=dev,
        local=match["local"].lower() if match["local"] else None,
    )


def _padded(release: tuple[int, ...], length: int) -> tuple[int, ...]:
    return release + (0,) * (length - len(release))


def _equal(candidate: Version, spec: str) -> bool:
    if spec.endswith(".*"):
        prefix = parse_version(spec[:-2])
        size = len(prefix.release)
        return (
            candidate.epoch == prefix.epoch
            and _padded(candidate.release, size)[:size] == prefix.release
        )
    wanted = parse_version(spec)
    if wanted.local is None and candidate.local is not None:
        # ``==1.0`` admits ``1.0+local``: a specifier without a local label ignores it.
        candidate = parse_version(candidate.text.split("+", 1)[0])
    return candidate.key == wanted.key and candidate.local == wanted.local


def _clause_admits(operator: str, spec: str, candidate: Version) -> bool:
    if operator == "===":
        return candidate.text.lower() == spec.lower()
    if operator == "==":
        return _equal(candidate, spec)
    if operator == "!=":
        return not _equal(candidate, spec)
    if operator == "~=":
        wanted = parse_version(spec)
        if len(wanted.release) < 2:
            raise InvalidSpecifierError(f"~= needs at least two release segments: ~={spec}")
        prefix = ".".join(str(part) for part in wanted.release[:-1])
        epoch = f"{wanted.epoch}!" if wanted.epoch else ""
        return candidate.key >= wanted.key and _equal(candidate, f"{epoch}{prefix}.*")
    wanted = parse_version(spec)
    if operator == ">=":
        return candidate.key >= wanted.key
    if operator == "<=":
        return candidate.key <= wanted.key
    same_release = candidate.base_key == wanted.base_key
    if operator == "<":
        # ``<V`` means ``< V.dev0`` unless V is a pre-release: ``<2.0`` admits no 2.0a1.
        if same_release and not wanted.is_prerelease:
            return candidate.key < replace(wanted, dev=0).key
        return candidate.key < wanted.key
    if operator == ">":
        # ``>V`` excludes V's own post-releases (1.0.post1 for >1.0, 1.0a1.post1 for >1.0a1)
        # and local versions, unless V is itself a post or dev release.
        own_family = same_release and wanted.dev is None and wanted.post is None
        if (
            own_family
            and candidate.pre == wanted.pre
            and (candidate.post is not None or candidate.local)
        ):
            return False
        return candidate.key > wanted.key
    raise InvalidSpecifierError(f"unknown operator {operator!r}")


def split_specifier(specifier: str) -> list[tuple[str, str]]:
    """``">=0.1,<0.2"`` -> ``[(">=", "0.1"), ("<", "0.2")]``; an empty string admits all."""
    clauses: list[tuple[str, str]] = []
    for part in specifier.split(","):
        if not part.strip():
            continue
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidSpecifierError(f"not a version specifier: {part.strip()!r}")
        clauses.append((match["operator"], match["version"]))
    return clauses


def specifier_admits(specifier: str, version: str | Version) -> bool:
    """True if every comma-joined clause of ``specifier`` admits ``version``."""
    candidate = version if isinstance(version, Version) else parse_version(version)
    return all(
        _clause_admits(operator, spec, candidate) for operator, spec in split_specifier(specifier)
    )


def normalize_name(name: str) -> str:
    """PEP 503 normalization: ``Pydantic_Settings`` and ``pydantic-settings`` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """One PEP 508 requirement string, split into the parts the checks look at."""

    text: str
    name: str
    extras: frozenset[str]
    specifier: str
    url: str | None
    marker: str | None


def parse_requirement(text: str) -> Requirement:
    """Parse ``name[extra,...] specifiers ; marker`` (or ``name @ url``)."""
    match = _REQUIREMENT.match(text)
    if match is None:
        raise InvalidSpecifierError(f"not a PEP 508 requirement: {text!r}")
    extras = frozenset(
        normalize_name(extra) for extra in (match["extras"] or "").split(",") if extra.strip()
    )
    specifier = (match["specifier"] or "").strip()
    split_specifier(specifier)  # fail here, naming the requirement, not later
    return Requirement(
        text=text,
        name=normalize_name(match["name"]),
        extras=extras,
        specifier=specifier,
        url=match["url"],
        marker=match["marker"].strip() if match["marker"] else None,
    )
