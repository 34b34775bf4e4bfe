"""What the demo's members type beside their ledger writes (QC releases, procedure and
ward records, inspection notes, recall reasons), sealed in the partner API's records store
(`domain.records`) as the portal seals them: the chain gets only each record's salted
commitment, never a hash of the text."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from medledger.domain import records
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.sdk.ledger import Ledger

__all__ = ["DemoNotes", "unkept_commitment"]


class DemoNotes:
    """Seal a note as member `who` (a slug of the demo's members), for `readers` too."""

    def __init__(self, services: Services, members: Mapping[str, Ledger]) -> None:
        self._services = services
        self._members = members

    def __call__(
        self,
        who: str,
        kind: RecordKind,
        subject_id: bytes,
        body: Mapping[str, Any],
        readers: Sequence[str] = (),
    ) -> bytes:
        """The sealed record's commitment, to pass as the contract call's hash."""
        sealed = records.seal(
            self._services,
            kind=kind,
            author=self._members[who].address,
            readers=[self._members[r].address for r in readers],
            subject_id=subject_id,
            body=body,
        )
        return sealed.commitment


def unkept_commitment(body: Mapping[str, Any]) -> bytes:
    """For the in-process demos that keep no records store: the salted commitment of
    `body` (its salt thrown away), so the chain still holds nothing a guess could be
    checked against."""
    return records.commitment_of(os.urandom(32), records.canonical(body))
