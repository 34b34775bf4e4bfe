"""Asynchronous EPCIS capture (EPCIS 2.0 §12.3 capture interface): a document that passes
the check and the rehearsal (`api.epcis.capture.prepare_capture`, run before the answer,
so a refused document is still a 4xx naming the event) is accepted with 202 and applied by
a capture job in the background; the job's state and per-event report are persisted
(`indexer.store.capture_jobs`) and polled with `GET /v1/epcis/capture/{captureID}`.

Per event, the report says exactly what happened: `applied` (its transactions),
`already_recorded` (in the capture log, or an event of our own export), `partial` (some of
its operations were applied before the ledger refused the rest), `refused` (the ledger's
rule, as `code`) or `not_applied` (after a refusal, nothing of it was sent). Posting the
same document again applies only what was not applied (the capture log).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

from medledger.api.epcis.capture import CapturedEvent, Prepared, apply_capture
from medledger.api.epcis.store import capture_store
from medledger.domain.errors import ApiError
from medledger.domain.services import Component, Services
from medledger.indexer.store.capture_jobs import CaptureJob, CaptureJobs
from medledger.sdk.ledger import Ledger

__all__ = ["capture_jobs", "job_view", "outcome", "start_job"]

HEARTBEAT_SECONDS = 10.0
AS_BEFORE = "already_recorded"
CAPTURE_JOBS: Component[CaptureJobs] = Component("epcis.jobs")


def capture_jobs(services: Services) -> CaptureJobs:
    return services.components.get(
        CAPTURE_JOBS, lambda: CaptureJobs(capture_store(services).engine)
    )


def outcome(events: list[Any], done: list[CapturedEvent]) -> list[dict[str, Any]]:
    """The per-event report of a capture that finished."""
    states = {
        "captured": "applied",
        "duplicate": "already_recorded",
        "recorded": "already_recorded",
    }
    return [
        _entry(events, e.index, states[e.status], event_hash=e.event_hash, tx_hashes=e.tx_hashes)
        for e in done
    ]


def _entry(events: list[Any], index: int, state: str, **fields: Any) -> dict[str, Any]:
    event = events[index] if index < len(events) else None
    event_id = event.get("eventID") if isinstance(event, dict) else None
    return {"index": index, "eventID": event_id, "state": state, **fields}


def refusal(prepared: Prepared, events: list[Any], exc: ApiError) -> list[dict[str, Any]]:
    """The per-event report of a capture the ledger stopped: `exc.extra` names the event
    it refused and what was applied before."""
    applied = {a["index"]: a for a in exc.extra.get("applied", [])}
    refused = exc.extra.get("event_index")
    report = []
    for index, digest in enumerate(prepared.hashes):
        if index in applied:
            entry = applied[index]
            state = "applied" if entry["complete"] else "partial"
            report.append(
                _entry(events, index, state, event_hash=digest, tx_hashes=entry["tx_hashes"])
            )
        elif index in prepared.recorded:
            tx = [prepared.recorded[index]]
            report.append(
                _entry(events, index, "already_recorded", event_hash=digest, tx_hashes=tx)
            )
        elif prepared.states.get(digest) is not None and prepared.states[digest].captured:
            tx = list(prepared.states[digest].tx_hashes)
            report.append(
                _entry(events, index, "already_recorded", event_hash=digest, tx_hashes=tx)
            )
        elif index == refused:
            report.append(
                _entry(
                    events, index, "refused", event_hash=digest, code=exc.code, detail=exc.detail
                )
            )
        else:
            report.append(_entry(events, index, "not_applied", event_hash=digest, tx_hashes=[]))
    return report


def logged(services: Services, prepared: Prepared, events: list[Any]) -> list[dict[str, Any]]:
    """The per-event report as the capture log has it, for a capture stopped by something
    other than a ledger refusal."""
    now = capture_store(services).states(prepared.hashes)
    report = []
    for index, digest in enumerate(prepared.hashes):
        before, after = prepared.states.get(digest), now.get(digest)
        tx = list(after.tx_hashes) if after is not None else []
        if index in prepared.recorded or (before is not None and before.captured):
            state = AS_BEFORE
        elif after is not None and after.captured:
            state = "applied"
        elif after is not None and after.operations:
            state = "partial"
        else:
            state = "not_applied"
        report.append(_entry(events, index, state, event_hash=digest, tx_hashes=tx))
    return report


def _run(
    services: Services,
    ledger: Ledger,
    job_id: str,
    prepared: Prepared,
    events: list[Any],
) -> None:
    jobs = capture_jobs(services)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            jobs.heartbeat(job_id)

    threading.Thread(target=beat, name=f"capture-{job_id}-heartbeat", daemon=True).start()
    try:
        done = apply_capture(ledger, capture_store(services), prepared)
        jobs.finish(job_id, success=True, report={"events": outcome(events, done), "errors": []})
    except ApiError as exc:
        problem = {"status": exc.status, "code": exc.code, "detail": exc.detail}
        report = {"events": refusal(prepared, events, exc), "errors": [problem]}
        jobs.finish(job_id, success=False, report=report)
    except Exception as exc:  # noqa: BLE001 - the job reports whatever stopped it
        problem = {"status": 500, "code": "capture_failed", "detail": type(exc).__name__}
        report = {
            "events": refusal(prepared, events, ApiError("capture_failed", str(exc))),
            "errors": [problem],
        }
        jobs.finish(job_id, success=False, report=report)
    finally:
        stop.set()


def start_job(
    services: Services, ledger: Ledger, prepared: Prepared, events: list[Any]
) -> CaptureJob:
    """Persist a running job for the prepared document and apply it in the background."""
    job_id = uuid.uuid4().hex
    jobs = capture_jobs(services)
    jobs.start(job_id, member=ledger.address, event_count=len(events))
    threading.Thread(
        target=_run,
        args=(services, ledger, job_id, prepared, events),
        name=f"capture-{job_id}",
        daemon=True,
    ).start()
    job = jobs.get(job_id, member=ledger.address)
    assert job is not None
    return job


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def job_view(job: CaptureJob, *, base: str) -> dict[str, Any]:
    """The job in EPCIS 2.0's capture-job shape (captureID, createdAt, finishedAt, running,
    success, captureErrorBehaviour, errors), plus our per-event report."""
    report = job.report or {}
    errors = list(report.get("errors", []))
    if job.state == "interrupted":
        errors.append(
            {
                "status": 503,
                "code": "capture_interrupted",
                "detail": "the API stopped while this job ran; post the same document again: "
                "events already applied are recognised and only the rest is applied",
            }
        )
    return {
        "captureID": job.id,
        "createdAt": _iso(job.created_at),
        "finishedAt": _iso(job.finished_at),
        "running": job.state == "running",
        "success": job.state == "success",
        "captureErrorBehaviour": "rollback",
        "errors": errors,
        "state": job.state,
        "eventCount": job.event_count,
        "events": report.get("events", []),
        "location": f"{base.rstrip('/')}/{job.id}",
    }
