"""Bulk import through the partner API on the real chain and indexer: every row checked
before anything is written, a per-row error report, chunked commissioning, resumption
without double writes, and jobs private to their uploader."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from medledger.app import create_app
from medledger.domain.auth import resolve_member
from medledger.domain.bulk_import import jobs
from medledger.domain.bulk_import.commissioning import CHUNK
from medledger.ops.bench.imports import node_world
from medledger.sdk import gs1
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ItemStatus
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartnerEnv]:
    """The API over our node (a real node process): eth-tester re-runs a commissioning
    transaction a dozen times in py-evm to estimate its gas, minutes per chunk."""
    with node_world(tmp_path_factory.mktemp("imports")) as node:
        api = SimpleNamespace(
            client=TestClient(create_app(node.services)),
            services=node.services,
            consortium=node.consortium,
            sync=node.sync,
        )
        yield PartnerEnv(cast(Any, api))


ROWS = 10_000
BAD_GTIN_ROW, DUPLICATE_ROW, UNKNOWN_LOT_ROW = 101, 5_001, 9_000


def xlsx(lines: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in lines:
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def serial(n: int) -> str:
    return f"IMP{n:06d}"


def commissioning_lines(gtin: str, lot: str, *, bad: bool) -> list[list[Any]]:
    lines: list[list[Any]] = [["产品标识", "批号", "序列号"]]
    for row in range(2, ROWS + 2):
        lines.append([gtin, lot, serial(row)])
    if bad:
        lines[BAD_GTIN_ROW - 1][0] = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
        lines[DUPLICATE_ROW - 1][2] = serial(2)
        lines[UNKNOWN_LOT_ROW - 1][1] = "NOSUCHLOT"
    return lines


def upload(partner: PartnerEnv, who: Ledger, kind: str, name: str, data: bytes) -> Any:
    return partner.api.client.post(
        "/v1/partner/imports",
        data={"kind": kind},
        files={"file": (name, data)},
        headers=partner.login(who),
    )


def wait_done(partner: PartnerEnv, who: Ledger, job_id: str, timeout: float = 1200) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = partner.api.client.get(f"/v1/partner/imports/{job_id}", headers=partner.login(who))
        if answer.status_code == 401:  # a sign-in lasts 15 minutes; a loaded chain may not
            partner._tokens.clear()
            continue
        body = answer.json()
        if body["state"] in ("done", "failed", "invalid"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def commissioned_ids(ledger: Ledger) -> list[bytes]:
    """Every item id of every ItemsCommissioned event on the chain."""
    logs = ledger.w3.eth.get_logs(
        {
            "address": ledger.deployment.items,
            "topics": [ledger.codec.event_topic("ItemsCommissioned")],  # type: ignore[list-item]
            "fromBlock": ledger.deployment.deployed_at_block,
            "toBlock": "latest",
        }
    )
    return [bytes(i) for e in ledger.codec.decode_logs(logs) for i in e.args["itemIds"]]


def test_an_xlsx_of_10000_serials_with_3_bad_rows_writes_nothing_until_fixed(
    world: PartnerEnv,
) -> None:
    partner = world
    c = partner.api.consortium
    m = c.manufacturer
    before = len(commissioned_ids(m))
    bad = upload(
        partner, m, "commissioning", "list.xlsx", xlsx(commissioning_lines(c.gtin, c.lot, bad=True))
    )
    assert bad.status_code == 202, bad.text
    job = bad.json()
    assert job["state"] == "invalid" and job["error_count"] == 3
    assert [(e["row"], e["column"], e["code"]) for e in job["errors"]] == [
        (BAD_GTIN_ROW, "gtin", "bad_check_digit"),
        (DUPLICATE_ROW, "serial", "duplicate_in_file"),
        (UNKNOWN_LOT_ROW, "lot", "lot_unknown"),
    ]
    assert "重复" in job["errors"][1]["message_zh"] and "row 2" in job["errors"][1]["message_en"]
    assert len(commissioned_ids(m)) == before  # nothing written
    assert m.item(gs1.item_id(gs1.unit_path(c.gtin, serial(2)))).status is ItemStatus.NONE

    report = partner.api.client.get(
        f"/v1/partner/imports/{job['id']}/errors.csv", headers=partner.login(m)
    )
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [line[:3] for line in lines[1:]] == [
        [str(BAD_GTIN_ROW), "gtin", "bad_check_digit"],
        [str(DUPLICATE_ROW), "serial", "duplicate_in_file"],
        [str(UNKNOWN_LOT_ROW), "lot", "lot_unknown"],
    ]
    assert lines[3][-2:] == ["NOSUCHLOT", serial(UNKNOWN_LOT_ROW)]
    sheet = load_workbook(
        io.BytesIO(
            partner.api.client.get(
                f"/v1/partner/imports/{job['id']}/errors.xlsx", headers=partner.login(m)
            ).content
        )
    ).active
    assert sheet is not None and sheet.max_row == 4

    fixed = upload(
        partner,
        m,
        "commissioning",
        "list.xlsx",
        xlsx(commissioning_lines(c.gtin, c.lot, bad=False)),
    )
    assert fixed.status_code == 202 and fixed.json()["state"] == "ready", fixed.text
    done = wait_done(partner, m, fixed.json()["id"])
    assert done["state"] == "done", done
    assert (done["done_rows"], done["percent"]) == (ROWS, 100)
    ids = commissioned_ids(m)[before:]
    expected = {gs1.item_id(gs1.unit_path(c.gtin, serial(n))) for n in range(2, ROWS + 2)}
    assert len(ids) == ROWS and set(ids) == expected  # each serial exactly once


def test_a_chunk_interrupted_between_send_and_record_is_not_sent_again(
    world: PartnerEnv,
) -> None:
    partner = world
    c = partner.api.consortium
    m = c.manufacturer
    member = resolve_member(partner.api.services, m.address, method="token")
    rows = CHUNK * 2 + 10
    lines = [["gtin", "lot", "serial"]] + [[c.gtin, c.lot, f"RES{n:05d}"] for n in range(rows)]
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    job = jobs.create_job(
        partner.api.services,
        member=member,
        kind="commissioning",
        filename="list.csv",
        data=out.getvalue().encode("utf-8-sig"),
    )
    assert job.state == "ready"
    before = len(commissioned_ids(m))

    def crash(seq: int) -> None:
        if seq == 1:
            raise RuntimeError("process killed after sending chunk 1")

    stopped = jobs.run_job(partner.api.services, member=member, job_id=job.id, after_send=crash)
    assert (stopped.state, stopped.done_rows) == ("failed", CHUNK)
    assert len(commissioned_ids(m)) - before == CHUNK * 2  # chunk 1 landed, unrecorded

    partner.api.sync()  # the read model now shows the landed chunk
    resumed = partner.api.client.post(
        f"/v1/partner/imports/{job.id}/resume", headers=partner.login(m)
    )
    assert resumed.status_code == 202, resumed.text
    done = wait_done(partner, m, job.id)
    assert (done["state"], done["done_rows"]) == ("done", rows), done
    ids = commissioned_ids(m)[before:]
    assert len(ids) == rows == len(set(ids))  # chunk 1 was not sent again
    again = partner.api.client.post(
        f"/v1/partner/imports/{job.id}/resume", headers=partner.login(m)
    )
    assert again.status_code == 409 and again.json()["code"] == "import_not_resumable"


def test_another_member_cannot_read_or_resume_a_job(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    data = "gtin,lot,serial\n" + f"{c.gtin},{c.lot},OWN1\n"
    job = upload(partner, c.manufacturer, "commissioning", "a.csv", data.encode()).json()
    wait_done(partner, c.manufacturer, job["id"])
    other = partner.login(c.distributor)
    for path in ("", "/errors.csv", "/errors.xlsx"):
        response = partner.api.client.get(f"/v1/partner/imports/{job['id']}{path}", headers=other)
        assert response.status_code == 404 and response.json()["code"] == "import_not_found"
    resumed = partner.api.client.post(f"/v1/partner/imports/{job['id']}/resume", headers=other)
    assert resumed.status_code == 404
    listed = partner.api.client.get("/v1/partner/imports", headers=other).json()
    assert job["id"] not in [j["id"] for j in listed]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("a.txt", b"gtin\n1", "import_unsupported_type"),
        ("a.csv", b"", "import_empty_file"),
        ("a.csv", b"colour,size\nred,1\n", "import_bad_header"),
        ("a.xlsx", b"not a zip", "import_unreadable"),
        ("a.csv", b"\xff\xfe\x00bad" * 10, "import_bad_encoding"),
    ],
)
def test_a_bad_file_is_refused_with_a_code(
    partner: PartnerEnv, name: str, data: bytes, code: str
) -> None:
    response = upload(partner, partner.api.consortium.manufacturer, "commissioning", name, data)
    assert response.status_code == 422 and response.json()["code"] == code, response.text


def test_a_lots_file_is_checked_then_registers_each_lot(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    m = c.manufacturer
    bad = (
        "批号,产品标识,生产日期,失效日期\n"
        f"L-NEW1,{c.gtin},2026-11-01,2028-10-31\n"
        f"L-NEW2,{c.gtin},2026-11-01,2026-10-01\n"
        f"{c.lot},{c.gtin},2026-11-01,2028-10-31\n"
    )
    job = upload(partner, m, "lots", "lots.csv", bad.encode("gb18030")).json()
    assert [(e["row"], e["column"], e["code"]) for e in job["errors"]] == [
        (3, "expiry", "expiry_before_production"),
        (4, "lot", "lot_exists"),
    ]
    assert m.lot(gs1.lot_key(c.gtin, "L-NEW1")) is None
    good = f"gtin,lot,production_date,expiry\n{c.gtin},L-NEW1,2026-11-01,2028-10-31\n"
    done = wait_done(partner, m, upload(partner, m, "lots", "l.csv", good.encode()).json()["id"])
    assert done["state"] == "done", done
    lot = m.lot(gs1.lot_key(c.gtin, "L-NEW1"))
    assert lot is not None and lot.gtin == c.gtin
