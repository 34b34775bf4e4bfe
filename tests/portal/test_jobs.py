"""Commissioning jobs keep their progress in the API store: another worker of the same API
answers the progress poll, and a job whose process died shows as interrupted."""

from __future__ import annotations

import dataclasses
import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from medledger.app import create_app
from medledger.domain.services import Components
from medledger.domain.store import api_store
from medledger.indexer.store.tables import jobs as job_table
from medledger.portal import jobs
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import commission

OTHER = "0x" + "11" * 20  # a member address that is not the signed-in manufacturer


def test_another_worker_answers_the_progress_poll(portal: PortalEnv) -> None:
    client = portal.sign_in("manufacturer")
    commission(portal, client, "JW", 3)
    job_id = next(iter(_job_ids(portal)))
    # A second worker process: the same settings and store, none of the first one's memory.
    other = dataclasses.replace(portal.api.services, components=Components())
    worker2 = TestClient(create_app(other), follow_redirects=False, cookies=client.cookies)
    page = worker2.get(f"/portal/manufacturer/jobs/{job_id}", headers={"HX-Request": "true"})
    assert page.status_code == 200, page.text
    assert 'data-finished="true"' in page.text and 'data-done="3"' in page.text
    # Another role cannot open job pages at all.
    stranger = portal.sign_in("distributor")
    assert stranger.get(f"/portal/manufacturer/jobs/{job_id}").status_code == 403
    # Another manufacturer's job is "not found" to this one.
    with api_store(portal.api.services).engine.begin() as conn:
        conn.execute(update(job_table).where(job_table.c.id == job_id).values(owner=OTHER))
    assert client.get(f"/portal/manufacturer/jobs/{job_id}").status_code == 404


def test_a_job_whose_process_died_shows_as_interrupted(portal: PortalEnv) -> None:
    client = portal.sign_in("manufacturer")
    commission(portal, client, "JI", 2)
    job_id = next(iter(_job_ids(portal)))
    stale = int(time.time()) - jobs.STALE_SECONDS - 5
    with api_store(portal.api.services).engine.begin() as conn:
        conn.execute(
            update(job_table)
            .where(job_table.c.id == job_id)
            .values(finished_at=None, done=1, heartbeat_at=stale)
        )
    page = client.get(f"/portal/manufacturer/jobs/{job_id}", headers={"HX-Request": "true"})
    assert 'data-failed="true"' in page.text and 'data-code="job_interrupted"' in page.text
    assert "hx-trigger" not in page.text  # the page stops polling
    assert "服务器重启时任务中断" in page.text  # zh-CN is the default language


def _job_ids(portal: PortalEnv) -> list[str]:
    with api_store(portal.api.services).engine.connect() as conn:
        return [row.id for row in conn.execute(job_table.select())]
