"""The demo manufacturers' product master data, imported as a manufacturer imports it
(`medledger devices import`: `domain.master_import`, signed with the member's custodial key
in the partner API's store), so that every demo product has its names in Chinese and
English, model, registration number and package levels, anchored on the chain.

Files (in `ops/demo/data`): `chengrui_products.csv` and `maikang_products.csv` for the two
manufacturers of the first demo, and the shipped sample `master_sample.csv` for the East
China demo manufacturer (company prefix 9506000).
"""

from __future__ import annotations

import time
from importlib import resources

from eth_account.signers.local import LocalAccount

from medledger.domain.auth import resolve_member
from medledger.domain.chain import vault
from medledger.domain.errors import ApiError
from medledger.domain.master_import import ImportReport, import_rows, read_file
from medledger.domain.services import Services
from medledger.indexer.queries import devices as queries
from medledger.sdk.errors import MedLedgerError

__all__ = ["MASTER_FILES", "MasterSeedError", "import_master_data", "master_file"]

# Which manufacturer imports which file.
MASTER_FILES = {
    "chengrui": "chengrui_products.csv",
    "maikang": "maikang_products.csv",
    "huadong": "master_sample.csv",
}


class MasterSeedError(MedLedgerError):
    """The demo's master data could not be imported."""


def master_file(name: str) -> bytes:
    return resources.files("medledger.ops.demo.data").joinpath(name).read_bytes()


def _await_prefix(services: Services, address: str, prefix: str, timeout: float) -> None:
    """Until the partner indexer has the prefix assignment (the import reads it there)."""
    deadline = time.monotonic() + timeout
    while True:
        with services.engine.connect() as conn:
            if prefix in queries.company_prefixes(conn, address):
                return
        if time.monotonic() > deadline:
            raise MasterSeedError(f"the partner indexer never saw prefix {prefix} of {address}")
        time.sleep(0.1)


def import_master_data(
    services: Services,
    account: LocalAccount,
    *,
    filename: str,
    prefix: str,
    timeout: float = 60.0,
) -> ImportReport:
    """Import `filename` as the manufacturer `account` (its key taken into the partner
    API's custody, as its portal user's is); raises if any row is refused."""
    try:
        vault(services).put(account)
    except ApiError as exc:
        if exc.code != "custodial_key_exists":
            raise
    _await_prefix(services, account.address, prefix, timeout)
    member = resolve_member(services, account.address, method="cli")
    report = import_rows(services, member=member, rows=read_file(filename, master_file(filename)))
    if report.refused:
        problems = "; ".join(
            f"row {r.row} {p.column}={p.value}: {p.reason_en}"
            for r in report.refused
            for p in r.problems
        )
        raise MasterSeedError(f"{filename}: {problems}")
    return report
