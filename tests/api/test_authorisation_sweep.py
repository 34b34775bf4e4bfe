"""Authorisation sweep driven by the app's own OpenAPI document, so a new route is covered
the day it is added: partner B (the distributor) owns items, a container, shipments, a
document, an API key and a lot it reached; partner A (hospital2) and an anonymous caller
try every operation with B's object ids in the path, query and body.

A cross-tenant success is a response that reveals one of B's objects (a marker the caller
did not send itself) or a call after which B's objects on chain or B's API keys changed.
Public routes (verification, the Digital Link resolver, /.well-known, sign-in step one)
are listed with their reason and checked to reveal no commercial document. Every JSON
write also refuses fields outside its schema, dangerous ones included.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_account.messages import encode_defunct
from eth_utils import keccak
from fastapi.testclient import TestClient
from httpx import Response

from medledger.api.epcis.jobs import capture_jobs
from medledger.sdk import gs1
from medledger.sdk.dates import day_of
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity
from medledger.sdk.model import MemberStatus
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.lot_products import register_gauze

partner = partner_env.partner
SWEEP_HOOK = "https://8.8.8.8/b-erp-sweep-hook"
SWEEP_QUERY = "b-sweep-query"  # a public literal address: no DNS

# Operations anyone may call, and why. Each is still called as A and anonymously, and
# must not reveal a commercial document.
PUBLIC = {
    "GET /healthz": "liveness probe, answers {'status': 'ok'}",
    "GET /v1/verify": "public verification of a scanned code (EU FMD), signed verdict",
    "POST /v1/verify": "public verification of a scanned code, with a coarse location",
    "GET /.well-known/medledger-verify-key": "the public key that signs verdicts",
    "GET /01/{gtin}/21/{serial}": "GS1 Digital Link resolver of a unit (public page)",
    "GET /01/{gtin}/10/{lot}/21/{serial}": "GS1 Digital Link resolver of a unit with lot",
    "GET /01/{gtin}/10/{lot}": "GS1 Digital Link resolver of a lot code (public page)",
    "GET /00/{sscc}": "GS1 Digital Link resolver of a logistic unit",
    "POST /v1/auth/challenge": "sign-in step one: a message to sign, for any address",
    "GET /v1/devices/{gtin}": "a product's public master data, as China's UDID publishes it",
}
# Operations that take no credentials but are swept like any other: A presents a
# challenge for B's address signed with A's own key.
SIGN_IN = {
    "POST /v1/auth/token": "exchanges a signed challenge for a token",
    "POST /v1/auth/certificate": "exchanges a certificate and a signed challenge for a token",
}
# JSON bodies whose schema is open on purpose: their extra members are not mass-assigned.
OPEN_BODIES = {
    "POST /v1/epcis/capture": "an EPCIS 2.0 document: unknown members are JSON-LD extensions",
}
# Fields added to every JSON write: unknown, and dangerous if they were assigned.
SMUGGLED = {"sweep_unknown_field": 1, "holder": None, "role": "regulator", "address": None}
DOCUMENT_TEXT = b"CONFIDENTIAL price list of partner B: 17.30 EUR per unit"
RECORD_TEXT = "CONFIDENTIAL service notes of partner B: valve replaced"
WRITES = {"post", "put", "patch", "delete"}


def h(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass
class World:
    """B's objects, and the values substituted for each parameter or body field name."""

    partner: PartnerEnv
    a: Ledger
    b: Ledger
    items: list[bytes]
    shipments: list[int]
    values: dict[str, Any]
    markers: set[str] = field(default_factory=set)
    document_markers: set[str] = field(default_factory=set)

    @property
    def client(self) -> TestClient:
        return self.partner.api.client


SWEEP_GLN = gs1.make_gln(company_prefix="6977008", location_reference=1)
SWEEP_JOB = "5e" * 16


def _values(partner: PartnerEnv, b: Ledger, ids: dict[str, Any]) -> dict[str, Any]:
    """Values by parameter/field name. A list is a list of candidates for a path/query
    parameter; bodies take the value itself."""
    c = partner.api.consortium
    now = partner.api.chain.now()
    sscc = gs1.make_sscc(extension=3, company_prefix=c.distributor_prefix, serial_reference=907)
    return {
        # B's objects
        "item_id": [ids["unit"], ids["case"], ids["packed"]],
        "item": [ids["unit"], ids["case"], ids["packed"], ids["moving"]],
        "container_id": [ids["case"]],
        "shipment_id": ids["shipments"],
        "tx_hash": [ids["tx"]],
        "document_id": [ids["document"]],
        "key_id": [ids["key"]],
        "recall_id": [ids["recall"]],
        "record_id": ids["records"],
        "sub_id": [ids["subscription"], ids["query_subscription"]],
        "query_name": [SWEEP_QUERY],
        "job_id": [ids["import_job"]],
        "seq": [1],
        "url": "https://8.8.8.8/a-sweep",
        "kinds": ["shipment.inbound"],
        "gtin": c.gtin,
        "lot": c.lot,
        "serial": ids["serial"],
        "sscc": sscc,
        "code": f"(01){c.gtin}(21){ids['serial']}",
        "MATCH_epc": f"https://id.example.com/01/{c.gtin}/21/{ids['serial']}",
        "item_ids": [ids["unit"]],
        "rejected_ids": [ids["moving"]],
        "subject_id": ids["unit"],
        "lot_key": h(c.lot_key),
        "lots": [{"lot_key": ids["gauze_lot"], "quantity": 1}],
        "rejected_lots": [{"lot_key": ids["gauze_lot"], "quantity": 1}],
        "case_ids": [ids["gauze_case"]],
        "package_gtin": ids["gauze_case_gtin"],
        "quantity": 1,
        # the oversight feed's master records are asked for by anchored hash
        "hash": h(keccak(text="sweep master record")),
        # the parties: A acts, B is the victim, the hospital a third member
        "receiver": partner.api.consortium.hospital.address,
        "counterparty": b.address,
        "member": b.address,
        "address": b.address,
        "company_prefix": c.distributor_prefix,
        # plain values
        "serials": ["SWEEP1"],
        "name": "sweep organisation",
        "prefix": "6977009",
        "gln": [SWEEP_GLN],
        "capture_id": [SWEEP_JOB],
        "temp_min": 40,
        "temp_max": 60,
        "level": 2,
        "severity": 1,
        "device_class": 2,
        "device_classes": [1],
        "kind": 1,
        "registration_expiry": now + 10**7,
        "expiry": now + 10**7,
        "valid_until": now + 10**7,
        "production_date": now - 100,
        "filename": "sweep.txt",
        "content_type": "text/plain",
        "content_base64": base64.b64encode(b"sweep").decode(),
        "label": "sweep",
        "reason": "sweep",
        "number": "LICENCE-SWEEP-1",
        # sealed records (adverse events, explants, service records, returns)
        "event_date": "2026-01-02",
        "explant_date": "2026-01-02",
        "service_date": "2026-01-02",
        "device_problem": "sweep",
        "narrative": "sweep",
        "supplier": b.address,
        "file": ("sweep.txt", b"sweep", "text/plain"),
        # inspection exports: every kind, for the month of the sweep
        "record_kind": ["purchase", "acceptance", "sales", "cold-chain", "recall", "adverse-event"],
        "period": day_of(now).strftime("%Y-%m"),
        # a sealed record delivered to the oversight feed (regulator only), in B's name
        "id": "5e" * 16,
        "author": b.address.lower(),
        "commitment": h(keccak(text="sweep commitment")),
        "salt": h(keccak(text="sweep salt")),
        "created_at": now,
        "readers": [b.address.lower()],
        "body": '{"note":"sweep"}',
        # a return inspection of B's shipment
        "inspector": "sweep",
        "lines": [
            {"gtin": c.gtin, "lot_number": c.lot, "received_back": True, "disposition": "restock"}
        ],
    }


def _sign_in_as(world: World, ledger: Ledger, challenged: str) -> dict[str, str]:
    """A challenge for `challenged`'s address, signed by `ledger` (a forgery unless equal)."""
    challenge = world.client.post("/v1/auth/challenge", json={"address": challenged})
    message = challenge.json()["message"]
    signature = ledger.account.sign_message(encode_defunct(text=message)).signature
    return {"message": message, "signature": h(bytes(signature))}


def _raw_dispense(world: World) -> str:
    """A's own signed transaction dispensing B's loose unit."""
    unit = bytes.fromhex(world.values["subject_id"][2:])
    api = world.partner.api
    w3 = api.chain.w3
    items = w3.eth.contract(
        address=w3.to_checksum_address(api.consortium.deployment.items),
        abi=api.services.artifacts["Items"].abi,
    )
    sender = w3.to_checksum_address(world.a.address)
    params: Any = {
        "from": sender,
        "nonce": w3.eth.get_transaction_count(sender),
        "gas": 500_000,
        "gasPrice": w3.eth.gas_price,
        "chainId": w3.eth.chain_id,
    }
    tx: Any = items.functions.dispense([unit], bytes(32)).build_transaction(params)
    return h(bytes(world.a.account.sign_transaction(tx).raw_transaction))


def _epcis_destroy(world: World) -> dict[str, Any]:
    event = {
        "type": "ObjectEvent",
        "action": "DELETE",
        "bizStep": "destroying",
        "eventTime": "2026-01-05T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [world.values["MATCH_epc"]],
    }
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-05T10:00:00.000Z",
        "epcisBody": {"eventList": [event]},
    }


# Whole bodies that cannot be built field by field: each is A's attempt on B.
BODIES: dict[str, Callable[[World], Any]] = {
    "POST /v1/auth/token": lambda w: _sign_in_as(w, w.a, w.b.address),
    "POST /v1/auth/certificate": lambda w: {
        "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        **_sign_in_as(w, w.a, w.b.address),
    },
    "POST /v1/partner/transactions": lambda w: {"raw_transaction": _raw_dispense(w)},
    "POST /v1/epcis/capture": _epcis_destroy,
    "POST /v1/epcis/queries": lambda w: {
        "name": "a-sweep-query",
        "params": {"MATCH_epc": [w.values["MATCH_epc"]], "EQ_bizStep": ["shipping"]},
    },
    "POST /v1/epcis/queries/{query_name}/subscriptions": lambda w: {
        "dest": "https://8.8.8.8/a-sweep",
        "stream": True,
    },
    "POST /v1/partner/shipments/{shipment_id}/acceptance": lambda w: {
        "inspector": "sweep",
        "lines": [
            {
                "gtin": w.values["gtin"],
                "product": "sweep",
                "quantity_received": 1,
                "quantity_accepted": 1,
                "conclusion": "qualified",
            }
        ],
    },
    "PUT /v1/partner/products/{gtin}/master": lambda w: {
        "gtin": w.values["gtin"],
        "name_zh": "sweep",
        "model": "sweep",
        "registration_number": "sweep",
        "registration_expiry": "2030-01-01",
        "device_class": 2,
        "manufacturer_zh": "sweep",
        "serialised": True,
        "storage": {"temp_min": 40, "temp_max": 60},
    },
}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _field(spec: dict[str, Any], name: str, schema: dict[str, Any], world: World) -> Any:
    schema = _resolve(spec, schema)
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if options:
        schema = _resolve(spec, options[0])
    if "enum" in schema:
        return schema["enum"][0]
    if name.endswith("_hash") and name not in world.values:
        return h(keccak(text=f"sweep {name}"))
    if name not in world.values:
        raise AssertionError(f"no sweep value for field {name!r}: add one to _values")
    value = world.values[name]
    if schema.get("type") != "array" and isinstance(value, list):
        return value[0]
    return value


def _sweep_import_file(world: World) -> dict[str, Any]:
    """A commissioning list of one row naming B's lot (checked, then refused or written)."""
    row = f"{world.values['gtin']},{world.values['lot']},SWEEPIMPORT1\n"
    return {
        "files": {"file": ("sweep.csv", ("产品标识,批号,序列号\n" + row).encode())},
        "data": {"kind": "commissioning"},
    }


# Multipart bodies the schema cannot build (a file and a form field that clashes by name).
MULTIPART: dict[str, Callable[[World], dict[str, Any]]] = {
    "POST /v1/partner/imports": _sweep_import_file,
}


def _body(spec: dict[str, Any], label: str, op: dict[str, Any], world: World) -> dict[str, Any]:
    """The request kwargs for `op`'s body: JSON built from its schema, or multipart."""
    if label in BODIES:
        return {"json": BODIES[label](world)}
    if label in MULTIPART:
        return MULTIPART[label](world)
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return {}
    media, media_spec = next(iter(content.items()))
    schema = _resolve(spec, media_spec["schema"])
    required = set(schema.get("required", ()))
    wanted = {
        name: prop
        for name, prop in schema.get("properties", {}).items()
        if name in required or name in ("counterparty", "rejected_ids", "item_ids", "lots")
    }
    built = {name: _field(spec, name, prop, world) for name, prop in wanted.items()}
    if media == "multipart/form-data":
        files = {k: v for k, v in built.items() if isinstance(v, tuple)}
        return {"files": files, "data": {k: v for k, v in built.items() if k not in files}}
    assert media == "application/json", f"{label}: sweep does not know {media}"
    return {"json": built}


def _requests(spec: dict[str, Any], path: str, method: str, world: World) -> Iterator[Any]:
    """Every combination of B's ids for the path parameters, with the query and body."""
    op = spec["paths"][path][method]
    label = f"{method.upper()} {path}"
    path_names, query = [], {}
    for param in op.get("parameters", []):
        name = param["name"]
        if param["in"] == "path":
            path_names.append(name)
        elif param["in"] == "query" and (param.get("required") or name in ("MATCH_epc",)):
            value = world.values.get(name)
            assert value is not None, f"{label}: no sweep value for query {name!r}"
            query[name] = value[0] if isinstance(value, list) else value
    candidates = []
    for name in path_names:
        value = world.values.get(name)
        assert value is not None, f"{label}: no sweep value for path parameter {name!r}"
        candidates.append(value if isinstance(value, list) else [value])
    for combo in itertools.product(*candidates):
        url = path
        for name, value in zip(path_names, combo, strict=True):
            url = url.replace("{" + name + "}", str(value))
        yield url, query, _body(spec, label, op, world)


def _snapshot(world: World) -> tuple[Any, ...]:
    """What a cross-tenant write would change: B's items (a case of a lot-tracked lot
    among them), B's loose lot units and shipments on chain, B's membership, the lot's
    recall state, and B's API keys."""
    reader = world.partner.api.consortium.admin
    c = world.partner.api.consortium
    items = tuple((s.holder, s.status, s.parent_id) for s in (reader.item(i) for i in world.items))
    shipments = tuple(reader.shipment(s).status for s in world.shipments)
    lot = reader.lot(c.lot_key)
    gauze = reader.lot(bytes.fromhex(world.values["lots"][0]["lot_key"][2:]))
    assert gauze is not None
    loose = reader.lot_balance(gauze.lot_index, world.b.address)
    keys = world.client.get("/v1/auth/api-keys", headers=world.partner.login(world.b)).json()
    return (
        items,
        loose,
        shipments,
        reader.member(world.b.address).status,
        None if lot is None else lot.active_recall,
        json.dumps(keys, sort_keys=True),
    )


# Path parameters that name none of B's objects: an export route's kind of record (the
# caller's own records are exported; tests/api/test_exports.py opens the files).
NOT_OBJECT_IDS = ("{record_kind}",)


def _object_path(path: str) -> str:
    for name in NOT_OBJECT_IDS:
        path = path.replace(name, "")
    return path


def _sent(url: str, query: dict[str, Any], body: dict[str, Any]) -> str:
    return (url + json.dumps(query) + json.dumps(body, default=repr)).lower()


def _revealed(response: Response, markers: set[str], sent: str) -> set[str]:
    text = response.text.lower()
    return {m for m in markers if m.lower() in text and m.lower() not in sent}


def _not_configured(response: Response) -> bool:
    if response.status_code != 503:
        return False
    return bool(response.json().get("title") == "Not configured")


def _build_world(partner: PartnerEnv) -> World:
    """B = the distributor: it received a case of two units and two loose units (and a case
    and 20 loose units of a lot-tracked lot), shipped the third on to the hospital (in
    transit, with a document hash), stored a confidential document and holds an API key;
    the lot it reached is under recall."""
    api = partner.api
    c = api.consortium
    b, a = c.distributor, c.hospital2
    units = c.manufacturer.commission(c.lot_key, ["SW1", "SW2", "SW3", "SW4"]).value
    sscc = gs1.make_sscc(extension=1, company_prefix=c.prefix, serial_reference=4242)
    case = c.manufacturer.create_container(sscc, company_prefix=c.prefix).value
    c.manufacturer.pack(case, units[:2])
    inbound = c.manufacturer.ship(b.address, [case, *units[2:]]).value
    b.receive(inbound, temp_min=50, temp_max=60)
    client = api.client
    b_headers = partner.login(b)
    document = client.post(
        "/v1/partner/documents",
        json={
            "subject_id": h(case),
            "kind": 1,
            "counterparty": c.hospital.address,
            "filename": "b-price-list-confidential.txt",
            "content_type": "text/plain",
            "content_base64": base64.b64encode(DOCUMENT_TEXT).decode(),
        },
        headers=b_headers,
    )
    assert document.status_code == 201, document.text
    doc = document.json()
    outbound = client.post(
        "/v1/partner/shipments",
        json={
            "receiver": c.hospital.address,
            "item_ids": [h(units[2])],
            "document_hash": doc["document_hash"],
        },
        headers=b_headers,
    )
    assert outbound.status_code == 201, outbound.text
    key = client.post("/v1/auth/api-keys", json={"label": "b-erp-sweep"}, headers=b_headers)
    hook = client.post(
        "/v1/partner/subscriptions",
        json={"url": SWEEP_HOOK, "kinds": ["shipment.inbound"]},
        headers=b_headers,
    )
    assert hook.status_code == 201, hook.text
    # B's EPCIS named query on the unit it holds, and a stream subscription to it.
    api.sync()
    b_epc = f"https://id.example.com/01/{c.gtin}/21/SW4"
    query = {"name": SWEEP_QUERY, "params": {"MATCH_epc": [b_epc]}}
    named = client.post("/v1/epcis/queries", json=query, headers=b_headers)
    assert named.status_code == 201, named.text
    query_hook = client.post(
        f"/v1/epcis/queries/{SWEEP_QUERY}/subscriptions",
        json={"dest": SWEEP_HOOK, "stream": True},
        headers=b_headers,
    )
    assert query_hook.status_code == 201, query_hook.text
    assert key.status_code == 201, key.text
    # B also holds loose units of a lot-tracked lot and a case of it.
    gauze = register_gauze(c, api.chain.now())
    c.manufacturer.commission_lot(gauze.lot_key, 30)
    (gauze_case,) = c.manufacturer.pack_cases(gauze.case_gtin, gauze.lot, ["SWC1"]).value
    loose = [LotQuantity(gauze.lot_key, 20)]
    b.receive(
        c.manufacturer.ship(b.address, [gauze_case], lots=loose).value, temp_min=50, temp_max=60
    )
    recall = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="s")).value
    api.sync()
    # B's sealed records about the unit it holds: an adverse event and a service record.
    report = client.post(
        "/v1/partner/adverse-events",
        json={
            "subject_id": h(units[3]),
            "severity": 2,
            "event_date": "2026-01-02",
            "outcome": "injury",
            "device_problem": "sweep",
            "narrative": RECORD_TEXT,
        },
        headers=b_headers,
    )
    assert report.status_code == 201, report.text
    service = client.post(
        "/v1/partner/service-records",
        json={
            "item_id": h(units[3]),
            "service_date": "2026-01-02",
            "service_type": "repair",
            "result": "repaired",
            "notes": RECORD_TEXT,
        },
        headers=b_headers,
    )
    assert service.status_code == 201, service.text
    # B's site (GLN) and one of B's EPCIS capture jobs.
    site = client.post("/v1/partner/sites", json={"gln": SWEEP_GLN, "name": "B"}, headers=b_headers)
    assert site.status_code == 201, site.text
    capture_jobs(api.services).start(SWEEP_JOB, member=b.address, event_count=1)
    # One of B's bulk-import jobs: a commissioning list whose one row has a bad GTIN, so it
    # stays checked and unwritten.
    bad_row = f"{c.gtin[:-1]}{(int(c.gtin[-1]) + 1) % 10},{c.lot},SWEEPBAD1\n"
    imported = client.post(
        "/v1/partner/imports",
        data={"kind": "commissioning"},
        files={"file": ("b.csv", ("产品标识,批号,序列号\n" + bad_row).encode())},
        headers=b_headers,
    )
    assert imported.status_code == 202, imported.text
    ids = {
        "unit": h(units[3]),
        "packed": h(units[0]),
        "moving": h(units[2]),
        "case": h(case),
        "serial": "SW4",
        "shipments": [inbound, outbound.json()["shipment_id"]],
        "tx": outbound.json()["tx_hash"],
        "document": doc["id"],
        "key": key.json()["id"],
        "recall": recall,
        "gauze_lot": h(gauze.lot_key),
        "gauze_case": h(gauze_case),
        "gauze_case_gtin": gauze.case_gtin,
        "records": [report.json()["record_id"], service.json()["record_id"]],
        "subscription": hook.json()["id"],
        "query_subscription": query_hook.json()["subscriptionID"],
        "import_job": imported.json()["id"],
    }
    world = World(
        partner=partner,
        a=a,
        b=b,
        items=[*units, case, gauze_case],
        shipments=ids["shipments"],
        values=_values(partner, b, ids),
    )
    world.document_markers = {
        doc["id"],
        doc["filename"],
        doc["document_hash"],
        base64.b64encode(DOCUMENT_TEXT).decode(),
        DOCUMENT_TEXT.decode(),
        key.json()["id"],
        key.json()["key"],
        "b-erp-sweep",
        hook.json()["id"],
        hook.json()["secret"],
        query_hook.json()["subscriptionID"],
        query_hook.json()["signatureToken"],
        SWEEP_QUERY,
        SWEEP_HOOK,
        imported.json()["id"],
        "b.csv",
    }
    world.markers = world.document_markers | {b.address, *(h(i) for i in world.items)}
    world.markers |= {RECORD_TEXT, *ids["records"]}
    return world


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (path, method) of the schema, reads first: a list A reads must not be
    confused with objects A's own writes in the sweep created."""
    ops = [(path, method) for path, ops in spec["paths"].items() for method in ops]
    return sorted(ops, key=lambda op: op[1] in WRITES)


def _check_call(
    world: World,
    spec: dict[str, Any],
    path: str,
    method: str,
    who: str,
    request: tuple[str, dict[str, Any], dict[str, Any]],
    r: Response,
) -> list[str]:
    """The ways one response can be a cross-tenant success (or a useless probe)."""
    op = spec["paths"][path][method]
    label = f"{method.upper()} {path}"
    url, query, body = request
    sent = _sent(url, query, body)
    call = f"{label} as {who} ({url}): {r.status_code} {r.text[:300]}"
    problems = []
    # Documents and API keys never show, whatever the status.
    if leaked := _revealed(r, world.document_markers, sent):
        problems.append(f"{call} reveals B's documents or keys {sorted(leaked)}")
    if r.is_success and label not in PUBLIC:
        if "{" in _object_path(path):
            problems.append(f"{call}: succeeds on B's object")
        if leaked := _revealed(r, world.markers, sent):
            problems.append(f"{call} reveals {sorted(leaked)}")
    if "regulator" in op.get("tags", []) and r.status_code != 404:
        problems.append(f"{call}: a regulator route exists in partner mode")
    if who == "anonymous" and op.get("security") and r.status_code not in (401, 404):
        problems.append(f"{call}: expected 401 without credentials")
    if r.status_code >= 500 and not _not_configured(r):
        problems.append(f"{call} is a server error")
    if r.status_code == 422 and r.json().get("code") == "invalid_request":
        problems.append(f"{call}: the sweep's request is invalid, fix _values")
    return problems


def test_no_other_partner_and_no_anonymous_caller_reaches_a_partners_objects_on_any_route(
    partner: PartnerEnv,
) -> None:
    world = _build_world(partner)
    client = world.client
    spec = client.app.openapi()  # type: ignore[attr-defined]
    a_headers = partner.login(world.a)
    a_key = client.post("/v1/auth/api-keys", json={"label": "a-erp"}, headers=a_headers)
    callers = (("A", a_headers), ("A by API key", {"X-API-Key": a_key.json()["key"]}))
    failures: list[str] = []
    swept: set[str] = set()
    before = _snapshot(world)
    for path, method in _operations(spec):
        for request in _requests(spec, path, method, world):
            url, query, body = request
            for who, headers in (*callers, ("anonymous", {})):
                r = client.request(method, url, params=query, headers=headers, **body)
                failures += _check_call(world, spec, path, method, who, request, r)
                if method in WRITES and (after := _snapshot(world)) != before:
                    failures.append(f"{method} {url} as {who} changed B's objects: {after}")
                    before = after
        swept.add(f"{method.upper()} {path}")
    assert not failures, "\n".join(failures)
    every = {f"{m.upper()} {p}" for p, m in _operations(spec)}
    assert len(swept - set(PUBLIC)) >= len(every) - len(PUBLIC)
    assert set(PUBLIC) <= every, "an allow-listed public route no longer exists"
    # A route that asks for no credential is public or sign-in, and listed as such.
    open_ops = {
        f"{m.upper()} {p}" for p, m in _operations(spec) if not spec["paths"][p][m].get("security")
    }
    assert open_ops == set(PUBLIC) | set(SIGN_IN)


def test_a_partner_gets_a_refusal_from_every_regulator_route_in_either_mode(
    partner: PartnerEnv,
) -> None:
    world = _build_world(partner)
    c = partner.api.consortium
    spec = world.client.app.openapi()  # type: ignore[attr-defined]
    regulator_ops = [
        (p, m) for p, m in _operations(spec) if "regulator" in spec["paths"][p][m].get("tags", [])
    ]
    assert {p for p, _ in regulator_ops} == {p for p in spec["paths"] if p.startswith("/v1/reg")}
    assert len(regulator_ops) >= 7
    a_headers = partner.login(world.a)
    reg = regulator_client(partner.api)
    for client, allowed in ((world.client, {404}), (reg, {401, 403, 404})):
        for path, method in regulator_ops:
            for url, query, body in _requests(spec, path, method, world):
                r = client.request(method, url, params=query, headers=a_headers, **body)
                assert r.status_code in allowed, (method, url, r.status_code, r.text)
    assert c.admin.member(world.b.address).status is MemberStatus.ACTIVE
    assert c.admin.member(world.a.address).status is MemberStatus.ACTIVE


def test_fields_outside_the_schema_are_rejected_on_every_json_write(partner: PartnerEnv) -> None:
    world = _build_world(partner)
    client = world.client
    spec = client.app.openapi()  # type: ignore[attr-defined]
    reg = regulator_client(partner.api)
    a_headers = partner.login(world.a)
    smuggled = {**SMUGGLED, "holder": world.a.address, "address": world.a.address}
    open_bodies, checked = set(), 0
    before = _snapshot(world)
    for path, method in _operations(spec):
        op = spec["paths"][path][method]
        label = f"{method.upper()} {path}"
        content = op.get("requestBody", {}).get("content", {})
        if method not in WRITES or "application/json" not in content:
            continue
        schema = _resolve(spec, content["application/json"]["schema"])
        if schema.get("additionalProperties", False) is not False:
            open_bodies.add(label)
            continue
        regulator_route = "regulator" in op.get("tags", [])
        app, headers = (reg, AUTH) if regulator_route else (client, a_headers)
        for url, query, body in _requests(spec, path, method, world):
            own = set(schema.get("properties", {}))
            extra = {k: v for k, v in smuggled.items() if k not in own}
            sent = {**body["json"], **extra}
            r = app.request(method, url, params=query, headers=headers, json=sent)
            assert r.status_code == 422, (label, url, r.status_code, r.text)
            problem = r.json()
            assert problem["code"] == "invalid_request", (label, problem)
            assert {e["type"] for e in problem["errors"]} == {"extra_forbidden"}, (label, problem)
            assert {e["location"][-1] for e in problem["errors"]} == set(extra), (label, problem)
            checked += 1
    assert open_bodies == set(OPEN_BODIES)
    assert checked >= 20
    assert _snapshot(world) == before
