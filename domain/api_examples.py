"""Example bodies the OpenAPI document shows for the partner and regulator routes (one
place, so the models and the route declarations share them). The values are those of a
demo consortium: a distributor receiving a pallet of hip prostheses from a manufacturer."""

from __future__ import annotations

from typing import Any, Final

from pydantic import ConfigDict

__all__ = [
    "ADDRESS",
    "LOT_CODE",
    "PENDING_EXAMPLE",
    "PROBLEM_EXAMPLE",
    "SIGNATURE",
    "UNIT_CODE",
    "example",
    "HISTORY_EXAMPLE",
    "INVENTORY_EXAMPLE",
    "ITEM_ID",
    "LOT_STOCK_EXAMPLE",
    "MANUFACTURER",
    "DISTRIBUTOR",
    "OPERATION_EXAMPLE",
    "SHIPMENT_EXAMPLE",
    "TX_HASH",
    "CAPTURE_JOB_EXAMPLE",
    "SITE_EXAMPLE",
    "SITES_EXAMPLE",
    "GLN",
]

ITEM_ID: Final = "0x92011e751aa9e5bb6e0c1c9b2cf76e8e06a1f0bc0f1b3fda57a1e0f2f1a6c2d4"
TX_HASH: Final = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
MANUFACTURER: Final[dict[str, str]] = {
    "address": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
    "name": "上海骨科器械有限公司 Shanghai Orthopaedics Co.",
}
DISTRIBUTOR: Final[dict[str, str]] = {
    "address": "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2",
    "name": "华东医疗器械配送有限公司 East China Medical Distribution",
}

INVENTORY_EXAMPLE: Final[dict[str, Any]] = {
    "gtin": "09506000134352",
    "lot_number": "L2026-07",
    "expiry": "2029-06-30",
    "status": "active",
    "units": 12,
    "recalled": True,
    "recall_id": 3,
    "holds": [{"kind": "recalled", "recall_id": 3, "level": 2}],
}

LOT_STOCK_EXAMPLE: Final[dict[str, Any]] = {
    "gtin": "06971234500019",
    "name_zh": "一次性使用无菌注射器",
    "name_en": "Sterile single-use syringe",
    "model": "5 mL",
    "lot_number": "S2026-11",
    "expiry": "2028-10-31",
    "active": 400,
    "quarantined": 0,
    "in_transit": 100,
    "cases": 2,
    "case_units": 200,
    "total": 700,
    "recalled": False,
    "recall_id": None,
    "holds": [],
}

HISTORY_EXAMPLE: Final[dict[str, Any]] = {
    "kind": "received",
    "block_number": 412,
    "at": "2026-12-05T10:42:17+08:00",
    "tx_hash": TX_HASH,
    "log_index": 3,
    "holder": DISTRIBUTOR,
    "status": "active",
    "parent": None,
    "via": None,
    "shipment_id": 17,
}

SHIPMENT_EXAMPLE: Final[dict[str, Any]] = {
    "shipment_id": 17,
    "sender": MANUFACTURER,
    "receiver": DISTRIBUTOR,
    "direction": "inbound",
    "status": "received",
    "item_count": 24,
    "document_hash": "0x" + "00" * 32,
    "sent_block": 405,
    "sent_at": "2026-12-05T09:15:02+08:00",
    "settled_block": 412,
    "settled_at": "2026-12-05T10:42:17+08:00",
    "accepted_count": 24,
    "rejected_count": 0,
    "temperature_min": {"value": 2.5, "unit": "Cel"},
    "temperature_max": {"value": 7.0, "unit": "Cel"},
    "excursion_seconds": 0,
    "quarantined": False,
}

OPERATION_EXAMPLE: Final[dict[str, Any]] = {
    "tx_hash": TX_HASH,
    "block_number": 412,
    "signed_by": "custodial",
    "events": [{"name": "ShipmentReceived", "args": {"shipmentId": 17, "accepted": 24}}],
    "item_ids": None,
    "lot_key": None,
    "container_id": None,
    "shipment_id": 17,
    "recall_id": None,
    "report_id": None,
    "record_id": None,
    "indexed": True,
}


def example(value: dict[str, Any]) -> ConfigDict:
    """A model's `model_config` carrying `value` as its OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [value]})


UNIT_CODE: Final = "(01)09506000134352(21)SN0001"
LOT_CODE: Final = "(01)09506000134352(10)L2026-07"
SIGNATURE: Final = "0x" + "ab" * 65
ADDRESS: Final = DISTRIBUTOR["address"]

PROBLEM_EXAMPLE: Final[dict[str, Any]] = {
    "type": "urn:medledger:problem:invalid_code",
    "title": "Invalid GS1 code",
    "status": 400,
    "detail": "'SN-0001' is neither a 32-byte hex id nor a GS1 code",
    "code": "invalid_code",
}
PENDING_EXAMPLE: Final[dict[str, Any]] = {
    "type": "urn:medledger:problem:transaction_pending",
    "title": "Accepted",
    "status": 202,
    "detail": "the ledger node accepted the transaction; it is not mined yet",
    "code": "transaction_pending",
    "tx_hash": TX_HASH,
    "status_url": f"/v1/partner/transactions/{TX_HASH}",
}

SUBSCRIPTION_IN_EXAMPLE: Final[dict[str, Any]] = {
    "url": "https://erp.example.com/medledger/hooks",
    "kinds": ["shipment.inbound", "recall.issued"],
    "gtin": "09506000134352",
}
SUBSCRIPTION_EXAMPLE: Final[dict[str, Any]] = {
    "id": "sub_7QkX2mV9bL4pTzA1",
    "url": "https://erp.example.com/medledger/hooks",
    "kinds": ["shipment.inbound", "recall.issued"],
    "filter": {"gtin": "09506000134352"},
    "status": "active",
    "cursor": 1842,
    "created_by": "distributor-qa",
    "created_at": 1796371200,
    "updated_at": 1796371200,
}
EVENT_EXAMPLE: Final[dict[str, Any]] = {
    "id": "31337:1843",
    "seq": 1843,
    "type": "shipment.inbound",
    "occurred_at": "2026-12-06T10:15:02+08:00",
    "block": 5120,
    "tx": TX_HASH,
    "subject": {
        "gtin": "09506000134352",
        "lot": "L2026-07",
        "shipment_id": 57,
        "counterparty": MANUFACTURER,
        "location": {"gln": "6977008000011"},
    },
    "data": {"sender": MANUFACTURER, "receiver": DISTRIBUTOR, "items": 24},
}
DELIVERY_EXAMPLE: Final[dict[str, Any]] = {
    "seq": 1843,
    "attempts": 3,
    "state": "pending",
    "last_status": 503,
    "last_error": "HTTP 503",
    "next_attempt_at": 1796371262000,
    "updated_at": 1796371254000,
}
IMPORT_JOB_EXAMPLE: Final[dict[str, Any]] = {
    "id": "imp_4f1c2a9e0b7d",
    "kind": "commissioning",
    "filename": "commissioning-L2026-07.xlsx",
    "state": "invalid",
    "total_rows": 10000,
    "done_rows": 0,
    "percent": 0,
    "error_count": 1,
    "problem": None,
    "created_at": 1796371200,
    "finished_at": None,
    "errors": [
        {
            "row": 101,
            "column": "产品标识",
            "code": "bad_check_digit",
            "value": "09506000134353",
            "message_zh": "校验位错误",
            "message_en": "The check digit is wrong.",
        }
    ],
}

GLN: Final = "6901234000016"

SITE_EXAMPLE: Final[dict[str, Any]] = {
    "gln": "6901234000023",
    "name": "华东医疗器械配送有限公司 嘉定仓库",
    "name_en": "East China Medical Distribution, Jiading warehouse",
    "address": "上海市嘉定区叶城路 1288 号",
}

SITES_EXAMPLE: Final[dict[str, Any]] = {
    "member": DISTRIBUTOR["address"],
    "primary_gln": GLN,
    "sites": [
        {
            **SITE_EXAMPLE,
            "sgln": "urn:epc:id:sgln:6901234.00002.0",
            "active": True,
            "primary": False,
            "block_number": 398,
        }
    ],
}

CAPTURE_JOB_EXAMPLE: Final[dict[str, Any]] = {
    "captureID": "3f1c9a2b7d4e4f0a9b6c5d8e7f1a2b3c",
    "createdAt": "2026-12-05T09:15:02+08:00",
    "finishedAt": "2026-12-05T09:15:09+08:00",
    "running": False,
    "success": True,
    "captureErrorBehaviour": "rollback",
    "errors": [],
    "state": "success",
    "eventCount": 1,
    "events": [
        {
            "index": 0,
            "eventID": "urn:uuid:6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "state": "applied",
            "event_hash": "0x" + "8a" * 32,
            "tx_hashes": [TX_HASH],
        }
    ],
    "location": "/v1/epcis/capture/3f1c9a2b7d4e4f0a9b6c5d8e7f1a2b3c",
}
