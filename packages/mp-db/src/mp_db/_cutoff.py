"""Replay cutoffs: what a reader could see, recorded so a later read sees exactly that.

A :class:`Cutoff` names exactly the ingests a reader could see when it was taken: every
ingest whose ``commit_seq`` is at most ``commit_seq`` (commits are numbered in commit order,
see ``mp.ingest_log``), none with a larger ``ingest_id`` than ``ingest_id``. A run that takes a
cutoff and reads with it, and a replay that reads with the same cutoff later, get the same
answers whatever was committed in between, including ingests that were in flight when the
cutoff was taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mp_db._arguments import END_OF_TIME
from mp_db.exceptions import BadInputError

__all__ = ["Cutoff"]

_TEXT = re.compile(r"mp-cutoff:1:(\d+):(\d+)")


@dataclass(frozen=True, slots=True)
class Cutoff:
    """What a reader could see at one moment: pass it as ``ingested_before=`` to any read.

    Take one with ``Reader.cutoff()``, record ``str(cutoff)`` with the run, and replay with
    ``Cutoff.parse(text)``.

    Attributes:
        commit_seq: the newest commit seen (ingests committed later are excluded).
        ingest_id: the newest ingest seen (ingests started later are excluded).
    """

    commit_seq: int
    ingest_id: int

    def __str__(self) -> str:
        return f"mp-cutoff:1:{self.commit_seq}:{self.ingest_id}"

    @classmethod
    def parse(cls, text: str) -> Cutoff:
        """The cutoff ``str(cutoff)`` wrote.

        Raises:
            BadInputError: ``text`` is not a cutoff.
        """
        match = _TEXT.fullmatch(str(text).strip())
        if match is None:
            raise BadInputError(
                f"{text!r} is not a replay cutoff; expected 'mp-cutoff:1:<commit>:<ingest>' "
                "as str(Reader.cutoff()) writes it"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def parameters(self) -> dict[str, Any]:
        """The bound parameters of the replay statements."""
        return {
            "cutoff_commit": self.commit_seq,
            "cutoff_ingest": self.ingest_id,
            "cutoff_time": END_OF_TIME,
        }
