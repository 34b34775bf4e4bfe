"""Unit lifecycles through the partner HTTP API, signed with the members' own keys.

One pallet's life, every step an HTTP request to `medledger api`:

    manufacturer: commission N units → create a pallet (SSCC) → pack → ship the pallet
    distributor:  receive the pallet → unpack → ship the N loose units to a hospital
    hospital:     receive → dispense

Members sign in with the challenge/token exchange (a personal_sign over the EIP-4361-style
message). Each write is a transaction the member signed locally and posted to
`POST /v1/partner/transactions`; ship and receive carry the member's EIP-712 order
signature, either inside that transaction (`relayed=False`: any number of lifecycles may
run at once, since each member's transaction nonces are assigned here) or posted to
`/v1/partner/shipments…` for the platform relayer to submit (`relayed=True`: one at a time,
the relayer has a single nonce sequence on the API side).

Freshness is measured from the moment a write is posted until `GET /v1/verify` shows it
(the unit `genuine` after commissioning, `dispensed` after dispensing).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from eth_account.messages import encode_defunct
from web3 import Web3
from web3.contract import Contract

from medledger.ops.demo.consortium import Consortium
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.errors import MedLedgerError
from medledger.sdk.gs1 import Udi, container_path, item_id, make_sscc, unit_path
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity, sorted_lots

__all__ = ["ApiMember", "Cast", "LifecycleError", "PalletLife", "run_pallet"]

ZERO32 = bytes(32)
# Upper bounds from docs/GAS.md (commission and pack ~30k gas per unit, the rest less).
BASE_GAS = 400_000
GAS_PER_ITEM = 45_000
DEADLINE_SECONDS = 24 * 3600


class LifecycleError(MedLedgerError):
    """An API answer that was not the expected success."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class ApiMember:
    """One member's side of the partner API: its signed-in session, its own transaction
    nonces, and its EIP-712 order nonces (orders are signed one at a time, each after the
    previous one is on the chain, as the contract wants them in sequence)."""

    def __init__(
        self,
        name: str,
        ledger: Ledger,
        http: httpx.Client,
        items: Contract,
        *,
        gas_price: int,
        deadline: int,
        in_nonce_order: bool = False,
    ) -> None:
        self.name = name
        self.in_nonce_order = in_nonce_order
        self.ledger = ledger
        self.http = http
        self.items = items
        self.gas_price = gas_price
        self.deadline = deadline
        self.headers: dict[str, str] = {}
        self._nonce_lock = threading.Lock()
        self._order_lock = threading.Lock()
        self._tx_nonce = int(ledger.w3.eth.get_transaction_count(ledger.account.address, "pending"))
        self._order_nonce = ledger.nonce()

    @property
    def address(self) -> str:
        return self.ledger.address

    def sign_in(self) -> None:
        """Challenge, personal signature, bearer token."""
        challenge = self.post("/v1/auth/challenge", {"address": self.address}, expect=200)
        message = challenge["message"]
        signature = self.ledger.account.sign_message(encode_defunct(text=message)).signature
        token = self.post(
            "/v1/auth/token", {"message": message, "signature": _hex(signature)}, expect=200
        )
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def post(self, path: str, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=self.headers)
        if response.status_code != expect:
            raise LifecycleError(
                f"POST {path} as {self.name}: HTTP {response.status_code}: {response.text[:600]}"
            )
        answer: dict[str, Any] = response.json()
        return answer

    def transact(self, fn: str, args: Sequence[Any], *, items: int = 1) -> dict[str, Any]:
        """Sign an Items call with the next nonce and submit it through the API."""
        data = self.items.encode_abi(fn, list(args))
        with self._nonce_lock:
            tx = {
                "chainId": self.ledger.deployment.chain_id,
                "nonce": self._tx_nonce,
                "to": self.items.address,
                "data": data,
                "gas": BASE_GAS + GAS_PER_ITEM * items,
                "gasPrice": self.gas_price,
                "value": 0,
            }
            self._tx_nonce += 1
            raw = self.ledger.account.sign_transaction(tx).raw_transaction
        if self.in_nonce_order:
            self._await_chain_nonce(int(tx["nonce"]))
        return self.post("/v1/partner/transactions", {"raw_transaction": _hex(bytes(raw))})

    def _await_chain_nonce(self, nonce: int, *, timeout: float = 60.0) -> None:
        """Hold nonce n back until the chain has taken nonce n-1, so the node receives this
        member's transactions in order. anvil's automine can leave a transaction that
        arrived ahead of its predecessor unmined (foundry-rs/foundry#10122)."""
        deadline = time.monotonic() + timeout
        w3 = self.ledger.w3
        while int(w3.eth.get_transaction_count(self.ledger.account.address, "pending")) < nonce:
            if time.monotonic() > deadline:
                raise LifecycleError(
                    f"{self.name}: the chain never took nonce {nonce - 1}, so nonce {nonce} "
                    f"was not sent"
                )
            time.sleep(0.005)

    def ship(
        self,
        receiver: str,
        ids: Sequence[bytes],
        *,
        relayed: bool,
        lots: Sequence[LotQuantity] = (),
    ) -> int:
        """Sign a Ship order (units and containers `ids`, loose quantities `lots`) and have
        it executed; the shipment id. Loose quantities go inside the member's own
        transaction only."""
        if relayed and lots:
            raise ValueError("loose quantities are shipped with relayed=False")
        with self._order_lock:
            order, signature = self.ledger.sign_ship(
                receiver, ids, lots=sorted_lots(lots), nonce=self._order_nonce,
                deadline=self.deadline,
            )  # fmt: skip
            if relayed:
                body = {"receiver": receiver, "item_ids": [_hex(i) for i in ids]}
                body |= self._signed(signature)
                shipment = self.post("/v1/partner/shipments", body)["shipment_id"]
            else:
                answer = self.transact("ship", [order.as_tuple(), signature], items=len(ids))
                shipment = _event(answer, "ShipmentSent")["shipmentId"]
            self._order_nonce += 1
        return int(shipment)

    def receive(
        self,
        shipment_id: int,
        ids: Sequence[bytes],
        *,
        relayed: bool,
        rejected_lots: Sequence[LotQuantity] = (),
    ) -> None:
        """Sign the acceptance record (4.0–8.0 °C; every unit accepted, loose quantities
        but `rejected_lots`) and have it executed."""
        if relayed and rejected_lots:
            raise ValueError("loose quantities are received with relayed=False")
        with self._order_lock:
            order, signature = self.ledger.sign_receive(
                shipment_id, temp_min=40, temp_max=80, rejected_lots=sorted_lots(rejected_lots),
                nonce=self._order_nonce, deadline=self.deadline,
            )  # fmt: skip
            if relayed:
                body = {"temp_min": 40, "temp_max": 80} | self._signed(signature)
                self.post(f"/v1/partner/shipments/{shipment_id}/receive", body, expect=200)
            else:
                self.transact(
                    "receiveShipment", [order.as_tuple(), list(ids), signature], items=len(ids)
                )
            self._order_nonce += 1

    def _signed(self, signature: bytes) -> dict[str, Any]:
        return {"signature": _hex(signature), "nonce": self._order_nonce, "deadline": self.deadline}


def _event(answer: dict[str, Any], name: str) -> dict[str, Any]:
    for event in answer["events"]:
        if event["name"] == name:
            args: dict[str, Any] = event["args"]
            return args
    raise LifecycleError(f"no {name} event in {answer.get('tx_hash')}: {answer['events']}")


@dataclass
class Cast:
    """The demo consortium's members signed in to one partner API."""

    consortium: Consortium
    manufacturer: ApiMember
    distributor: ApiMember
    hospitals: list[ApiMember]
    verifier: httpx.Client
    relayed: bool = False
    # Distinguishes this run's serials and SSCCs from earlier runs on the same chain.
    run: int = field(default_factory=lambda: secrets.randbelow(10**5))
    _next_pallet: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def sign_in(
        cls,
        consortium: Consortium,
        http: httpx.Client,
        artifacts: dict[str, ContractArtifact],
        *,
        relayed: bool = False,
        in_nonce_order: bool = False,
    ) -> Cast:
        """Sign every member in; `in_nonce_order` sends each member's own transactions to
        the chain strictly in nonce order (for engines that mishandle nonce gaps)."""
        w3: Web3 = consortium.admin.w3
        items = w3.eth.contract(
            address=Web3.to_checksum_address(consortium.deployment.items),
            abi=artifacts["Items"].abi,
        )
        gas_price = int(w3.eth.gas_price) * 2
        deadline = int(w3.eth.get_block("latest")["timestamp"]) + DEADLINE_SECONDS

        def member(name: str) -> ApiMember:
            found = ApiMember(
                name,
                consortium.by_name(name),
                http,
                items,
                gas_price=gas_price,
                deadline=deadline,
                in_nonce_order=in_nonce_order,
            )
            found.sign_in()
            return found

        return cls(
            consortium=consortium,
            manufacturer=member("manufacturer"),
            distributor=member("distributor"),
            hospitals=[member("hospital"), member("hospital2")],
            verifier=http,
            relayed=relayed,
        )

    def pallet_number(self) -> int:
        with self._lock:
            self._next_pallet += 1
            return self._next_pallet

    def verify(self, serial: str) -> dict[str, Any]:
        c = self.consortium
        code = Udi(gtin=c.gtin, serial=serial, lot=c.lot).element_string()
        response = self.verifier.get("/v1/verify?code=" + quote(code, safe=""))
        if response.status_code != 200:
            raise LifecycleError(f"verify {serial}: HTTP {response.status_code}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    def wait_visible(
        self, serial: str, seen: Callable[[dict[str, Any]], bool], *, timeout: float = 60.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not seen(answer := self.verify(serial)):
            if time.monotonic() > deadline:
                raise LifecycleError(f"{serial} not visible in /v1/verify after {timeout} s")
            time.sleep(0.01)
        return answer


@dataclass
class PalletLife:
    """What one pallet's life produced: its ids and the freshness samples (seconds)."""

    pallet: bytes
    units: list[bytes]
    serials: list[str]
    hospital: ApiMember
    freshness: list[float]
    shipments: list[int]


def run_pallet(cast: Cast, units: int, *, tag: str = "E2E") -> PalletLife:
    """Take `units` fresh units through their whole life on one pallet."""
    c = cast.consortium
    m, d = cast.manufacturer, cast.distributor
    number = cast.pallet_number()
    hospital = cast.hospitals[number % len(cast.hospitals)]
    serials = [f"{tag}{cast.run}P{number}N{i}" for i in range(units)]
    ids = [item_id(unit_path(c.gtin, s)) for s in serials]
    freshness: list[float] = []

    posted = time.perf_counter()
    m.transact("commission", [c.lot_key, serials], items=units)
    cast.wait_visible(serials[0], lambda v: v["verdict"] == "genuine")
    freshness.append(time.perf_counter() - posted)

    reference = cast.run * 10_000 + number % 10_000  # 9 digits after a 7-digit prefix
    sscc = make_sscc(extension=3, company_prefix=c.prefix, serial_reference=reference)
    pallet = item_id(container_path(sscc))
    m.transact("createContainer", [sscc, c.prefix])
    m.transact("pack", [pallet, ids], items=units)
    first = m.ship(d.address, [pallet], relayed=cast.relayed)
    d.receive(first, [pallet], relayed=cast.relayed)
    d.transact("unpack", [pallet], items=units)
    second = d.ship(hospital.address, ids, relayed=cast.relayed)
    hospital.receive(second, ids, relayed=cast.relayed)

    posted = time.perf_counter()
    hospital.transact("dispense", [ids, ZERO32], items=units)
    cast.wait_visible(serials[-1], lambda v: v.get("status") == "dispensed")
    freshness.append(time.perf_counter() - posted)
    return PalletLife(pallet, ids, serials, hospital, freshness, [first, second])
