"""The audit trail through the real app over eth-tester: sign-ins, portal POSTs and API
writes are each recorded with user, organisation, action, object and outcome, in one hash
chain per organisation; a manager reads its own, the regulator everyone's, a clerk none;
`verify` finds an edited, a deleted and a rewritten entry; the head is anchored on chain
with the organisation's key (`Records.anchorDocument`, a salted commitment)."""

from __future__ import annotations

import re

from eth_utils import keccak
from sqlalchemy import delete, update
from typer.testing import CliRunner

from medledger.cli import app as cli
from medledger.domain import audit, records
from medledger.domain.audit import chain_of
from medledger.domain.store import api_store
from medledger.indexer.store.tables import audit_log
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv, csrf_of
from tests.portal.test_partner_pages import post


def _entries(portal: PortalEnv, name: str) -> list[audit.EntryRow]:
    address = portal.api.consortium.by_name(name).address
    rows, _ = audit.entries(portal.api.services, organisation=address, limit=500)
    return sorted(rows, key=lambda r: r.seq)


def test_sign_ins_portal_posts_and_api_writes_are_recorded_in_the_members_chain(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    c = portal.api.consortium
    clerk = portal.sign_in(portal.add_staff("hosp-clerk", of="hospital", role="clerk"))
    token = csrf_of(clerk.get("/portal/hospital").text)
    assert clerk.post("/portal/users", data={"csrf_token": token, "username": "abc",
                      "role": "qa", "password": "12345678"}).status_code == 403  # fmt: skip
    clerk.post("/portal/sign-out", data={"csrf_token": token})
    stranger = portal.client()
    form = stranger.get("/portal/sign-in").text
    stranger.post("/portal/sign-in", data={"username": "nobody", "password": "wrong-pass",
                  "csrf_token": csrf_of(form)})  # fmt: skip
    made = portal.api.client.post(
        "/v1/auth/api-keys", json={"label": "erp"}, headers=partner.login(c.hospital)
    )
    assert made.status_code == 201, made.text

    rows = _entries(portal, "hospital")
    seen = [(r.username, r.role, r.action, r.outcome) for r in rows]
    assert ("hosp-clerk", "clerk", "POST /portal/sign-in", "ok") in seen
    assert ("hosp-clerk", "clerk", "POST /portal/users", "403") in seen
    assert ("hosp-clerk", "clerk", "POST /portal/sign-out", "ok") in seen
    assert (f"token:{c.hospital.address}", "member", "POST /v1/auth/api-keys", "ok") in seen
    added = post(portal.sign_in("hospital"), "/portal/users",
                 {"username": "wang.wu", "role": "qa", "password": "12345678"})  # fmt: skip
    assert added.status_code == 200
    rows = _entries(portal, "hospital")
    last = rows[-1]
    assert (last.username, last.action, last.object) == ("hospital", "POST /portal/users",
                                                         "user=wang.wu")  # fmt: skip
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(r.prev_hash == p.entry_hash for p, r in zip(rows, rows[1:], strict=False))
    unknown, _ = audit.entries(portal.api.services, organisation=None, username="nobody")
    assert [(u.chain, u.outcome) for u in unknown] == [("-", "401")]
    # Reading is not a user action: a GET leaves no entry.
    count = len(rows)
    portal.sign_in("hospital").get("/portal/hospital")
    assert len(_entries(portal, "hospital")) == count + 1  # the sign-in only
    assert _entries(portal, "hospital")[-1].action == "POST /portal/sign-in"


def test_a_manager_reads_its_own_trail_the_regulator_all_and_a_clerk_none(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    portal.sign_in("distributor")
    manager = portal.sign_in("hospital", lang="en")
    own = manager.get("/portal/audit").text
    assert 'data-table="audit"' in own and 'data-seq="1"' in own
    assert c.distributor.address not in own and 'name="organisation"' not in own
    sneaky = manager.get("/portal/audit", params={"organisation": c.distributor.address}).text
    table = sneaky.split('data-table="audit"')[1]
    assert c.distributor.address not in table  # the filter cannot widen a manager's view
    assert table.count("data-seq=") == len(_entries(portal, "hospital"))
    regulator = portal.sign_in("regulator", lang="zh").get("/portal/audit").text
    assert c.distributor.address in regulator and c.hospital.address in regulator
    assert "审计记录" in regulator
    filtered = (
        portal.sign_in("regulator")
        .get("/portal/audit", params={"organisation": c.distributor.address})
        .text
    )
    assert c.hospital.address not in filtered and c.distributor.address in filtered
    clerk = portal.sign_in(portal.add_staff("hosp-clerk2", of="hospital", role="clerk"))
    assert clerk.get("/portal/audit").status_code == 403
    assert 'href="/portal/audit"' not in clerk.get("/portal/hospital").text


def test_verify_finds_an_edited_a_deleted_and_a_rewritten_entry(portal: PortalEnv) -> None:
    c = portal.api.consortium
    services = portal.api.services
    for _ in range(4):
        portal.sign_in("hospital")
    manager = portal.sign_in("hospital", lang="en")
    anchored = post(manager, "/portal/audit/anchor", {}, page="/portal/audit")
    assert anchored.status_code == 303
    (anchor,) = audit.store.anchors_of(api_store(services).engine, c.hospital.address)
    on_chain = c.admin.anchor(anchor.commitment)
    assert on_chain["anchored_by"] == c.hospital.address
    assert on_chain["kind"] == audit.AUDIT_BATCH_KIND
    assert anchor.commitment != keccak(anchor.head_hash)  # salted: the head alone opens nothing
    batch = records.by_commitment(services, anchor.commitment, reader="", regulator=True)
    assert batch is not None and batch.record.kind == records.RecordKind.AUDIT_BATCH
    assert batch.body == {"chain": chain_of(c.hospital.address), "seq": anchor.seq,
                          "head": "0x" + anchor.head_hash.hex()}  # fmt: skip
    stranger = records.by_commitment(
        services, anchor.commitment, reader=c.distributor.address, regulator=False
    )
    assert stranger is None
    verified = post(manager, "/portal/audit/verify", {}, page="/portal/audit")
    assert 'data-verify="ok"' in verified.text and "intact" in verified.text

    engine = api_store(services).engine
    chain = c.hospital.address
    where = (audit_log.c.chain == chain) & (audit_log.c.seq == 2)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(where).values(username="someone-else"))
    (report,) = audit.verify(services, chain=chain)
    assert report.problems == ["entry 2 was changed after it was written"]
    broken = post(manager, "/portal/audit/verify", {}, page="/portal/audit")
    assert 'data-verify="broken"' in broken.text

    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(where))
    (report,) = audit.verify(services, chain=chain)
    assert "entry 2 is missing (next is 3)" in report.problems
    assert "entry 3 does not follow the entry before it" in report.problems

    # Rewritten from entry 2 on, every hash recomputed: only the anchor tells.
    rows = list(audit.store.chain_entries(engine, chain))
    prev = rows[0].entry_hash
    with engine.begin() as conn:
        for seq, row in enumerate(rows[1:], start=2):
            fields = {"username": row.username, "role": row.role, "action": row.action,
                      "object": row.object, "outcome": row.outcome}  # fmt: skip
            digest = audit.entry_hash(prev, chain, seq, row.at, fields)
            conn.execute(update(audit_log).where((audit_log.c.chain == chain)
                         & (audit_log.c.seq == row.seq)).values(seq=seq, prev_hash=prev,
                         entry_hash=digest))  # fmt: skip
            prev = digest
    (report,) = audit.verify(services, chain=chain)
    assert len(report.problems) == 1 and "is not as anchored" in report.problems[0]


def test_the_head_is_anchored_every_n_entries_and_the_cli_verifies(
    portal: PortalEnv, tmp_path: object
) -> None:
    c = portal.api.consortium
    services = portal.api.services
    services.settings = services.settings.model_copy(update={"audit_anchor_every": 3})
    for _ in range(3):
        portal.sign_in("distributor")
    engine = api_store(services).engine
    (first,) = audit.store.anchors_of(engine, c.distributor.address)
    assert first.seq == 3
    assert c.admin.anchor(first.commitment)["anchored_by"] == c.distributor.address
    data_dir = re.sub(r"/api\.db$", "", str(engine.url).removeprefix("sqlite:///"))
    ran = CliRunner().invoke(cli, ["audit", "verify", "--no-on-chain", "--data-dir", data_dir])
    assert ran.exit_code == 0, ran.output
    assert f"{c.distributor.address}: 3 entries, 1 anchors, intact" in ran.output
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(outcome="ok!"))
    ran = CliRunner().invoke(cli, ["audit", "verify", "--no-on-chain", "--data-dir", data_dir])
    assert ran.exit_code == 1 and "BROKEN" in ran.output
