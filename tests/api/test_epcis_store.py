"""The EPCIS capture log on SQLite and PostgreSQL: claims all or none, partial events
claimed anew, what was applied kept across a partial and a finishing capture, and a log
written before the `state` and `operations` columns read as it was meant."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from medledger.api.epcis.store import CaptureStore
from tests.api import db_urls

A, B = "0x" + "a" * 40, "0x" + "b" * 40
LEGACY = (
    "CREATE TABLE epcis_captures (event_hash VARCHAR(100) PRIMARY KEY, member VARCHAR(42) "
    "NOT NULL, claimed_at BIGINT NOT NULL, tx_hashes TEXT)"
)


url = db_urls.url


def test_claims_are_all_or_none_and_partial_events_can_be_claimed_again(url: str) -> None:
    store = CaptureStore(create_engine(url))
    assert store.claim_all(["e1", "e2"], A) == set()
    assert store.claim_all(["e3", "e2"], B) == {"e2"}  # e2 is pending: nothing claimed
    assert store.states(["e3"]) == {}
    store.done("e1", ["commission 1 into L1"], ["0x01"])
    store.stopped("e2", ["createContainer S"], ["0x02"])  # refused after one operation
    assert store.claim_all(["e1"], B) == {"e1"}  # captured: a duplicate, not claimable
    assert store.states(["e2"])["e2"].state == "partial"
    assert store.claim_all(["e2"], B) == set()
    assert store.states(["e2"])["e2"].pending
    store.release("e2")  # the second try applied nothing: back to partial, history kept
    assert store.states(["e2"])["e2"].operations == ("createContainer S",)
    assert store.claim_all(["e2"], B) == set()
    store.done("e2", ["pack 1 into S"], ["0x03"])
    e2 = store.states(["e2"])["e2"]
    assert e2.captured and e2.tx_hashes == ("0x02", "0x03")
    assert e2.operations == ("createContainer S", "pack 1 into S")
    assert store.claim_all(["e4"], A) == set()
    store.stopped("e4", [], [])  # refused before anything: forgotten
    assert store.states(["e4"]) == {}
    store.engine.dispose()


def test_a_log_from_before_the_state_column_reads_as_captured_or_pending(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(LEGACY))
        insert = text("INSERT INTO epcis_captures VALUES (:h, :m, 1, :t)")
        conn.execute(insert, {"h": "old", "m": A, "t": '["0x09"]'})
        conn.execute(insert, {"h": "stuck", "m": A, "t": None})
    store = CaptureStore(engine)
    states = store.states(["old", "stuck"])
    assert states["old"].captured and states["old"].tx_hashes == ("0x09",)
    assert states["stuck"].pending
    assert store.tx_hashes("old") == ["0x09"]
    CaptureStore(engine)  # the upgrade runs once: a second store adds nothing
    engine.dispose()


def test_an_expired_claim_is_taken_over_and_its_sending_operation_settled_once(url: str) -> None:
    store = CaptureStore(create_engine(url), claim_expires_after=3600)
    assert store.claim_all(["e1", "e2"], A) == set()
    store.sending("e1", "createContainer S", nonce=7, block=3)
    store.applied("e1", "createContainer S", "0x01")
    store.sending("e1", "pack 1 into S", nonce=8, block=4)  # then the capture dies
    e1 = store.states(["e1"])["e1"]
    assert e1.pending and e1.operations == ("createContainer S",) and e1.sending is not None
    assert (e1.sending.operation, e1.sending.nonce, e1.sending.block) == ("pack 1 into S", 8, 4)
    assert not store.expired(e1)
    assert store.claim_all(["e1"], B) == {"e1"}  # a live claim is kept
    store.claim_expires_after = 0
    assert store.expired(e1)
    assert store.settle("e1", e1, tx_hash="0x02")
    assert not store.settle("e1", e1, tx_hash="0x02")  # a second settler logs nothing
    e1 = store.states(["e1"])["e1"]
    assert e1.operations == ("createContainer S", "pack 1 into S") and e1.sending is None
    assert e1.tx_hashes == ("0x01", "0x02")
    assert store.claim_all(["e1", "e2", "e3"], B) == set()  # e1 and e2 taken over, e3 new
    store.done("e1")
    assert store.states(["e1"])["e1"].captured
    e2 = store.states(["e2"])["e2"]
    store.engine.dispose()
    store = CaptureStore(create_engine(url))  # a renewed claim is not taken twice
    assert not store.expired(e2) and store.claim_all(["e2"], A) == {"e2"}
    store.stopped("e2")  # the take-over applied nothing: forgotten
    assert store.states(["e2"]) == {}
    store.engine.dispose()


def test_a_claim_that_died_before_sending_settles_as_never_applied(url: str) -> None:
    store = CaptureStore(create_engine(url), claim_expires_after=0)
    assert store.claim_all(["e1"], A) == set()
    store.sending("e1", "ship to B", nonce=1, block=1)
    seen = store.states(["e1"])["e1"]
    assert store.settle("e1", seen, tx_hash=None)
    assert store.states(["e1"])["e1"].operations == ()
    assert store.states(["e1"])["e1"].sending is None
    store.engine.dispose()
