"""Building EPCIS 2.0 documents for the capture tests: GS1's worked examples (copied
unchanged into `epcis_examples/`), events of the demo consortium's product, and capture
as a signed-in member."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: the attack suite imports `doc` without the API fixtures
    from tests.api.conftest import ApiEnv
    from tests.api.partner_env import PartnerEnv

EXAMPLES = Path(__file__).resolve().parent / "epcis_examples"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
SSCC_URN = "urn:epc:id:sscc:9506000.1000000042"  # SSCC 195060000000000425


def example(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return found


def doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-05T10:00:00.000Z",
        "epcisBody": {"eventList": list(events)},
    }


def event(etype: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": etype,
        "eventTime": "2026-01-05T10:00:00.000Z",
        "eventTimeZoneOffset": "+08:00",
        **fields,
    }


def dl(api: ApiEnv, serial: str, lot: str | None = None) -> str:
    lot_part = f"/10/{lot}" if lot else ""
    return f"https://id.example.com/01/{api.consortium.gtin}{lot_part}/21/{serial}"


def party(api: ApiEnv, address: str) -> str:
    return f"did:pkh:eip155:{api.consortium.deployment.chain_id}:{address}"


def post_as(partner: PartnerEnv, member: str, document: Any) -> Any:
    """Capture `document` signed in as `member`, with its custodial key, synchronously
    (`sync=true`: the answer is the outcome, not a job to poll)."""
    headers = partner.login(partner.api.consortium.by_name(member))
    return partner.api.client.post(
        "/v1/epcis/capture", json=document, headers=headers, params={"sync": "true"}
    )
