"""The regulator API's pull of the partner API's oversight feed (`api.oversight_feed`).

`OversightPull.pull()` signs in to the partner API as the regulator member (EIP-4361
challenge signed with the regulator's key, as any member signs in; the token is kept
until shortly before it expires, or a 401), reads the scans and acknowledgements pages
after its cursors and writes them on this side, then asks for the product master
records its own read model saw anchored but its store lacks, and stores each one that
matches its anchor (`oversight_feed.store_master_records`; one that does not is refused
and logged). Then it pulls the sealed records (`GET /v1/partner/oversight/records`: each
checked against its commitment and stored re-sealed under this side's master key with the
same id, or refused and logged) and delivers the records this side wrote with the
regulator's key (a recall it ordered: the notice) with `POST /v1/partner/oversight/records`,
so the holders read them on the partner API. `start_pulling` runs it every
`settings.oversight_feed_interval` seconds in a daemon thread of one worker process: an
exclusive lock on `data_dir/oversight-pull.lock` elects the worker, so N workers do not
pull N times. A failed pull (partner API down, a refusal, the regulator not admitted yet)
is logged (once a minute while it keeps failing) and tried again, less often while it
keeps failing (at most every 10 s).

Answers are outside input: each body is parsed within bounds (`sdk.bounded_json`) and
validated against the feed's models before anything is written.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ValidationError

from medledger.domain.oversight_feed import (
    MAX_MASTER_RECORDS,
    MAX_PAGE,
    MAX_RECORD_PAGE,
    OVERLAP_SECONDS,
    AckCursor,
    AckPage,
    MasterCursor,
    MasterRecordPage,
    RecordCursor,
    RecordPage,
    RecordStored,
    ScanPage,
    load_cursor,
    missing_master_versions,
    opened_records,
    save_records_cursor,
    store_acknowledgements,
    store_master_records,
    store_records,
    store_scans,
)
from medledger.domain.services import Services
from medledger.sdk.bounded_json import BoundedJsonError, loads
from medledger.sdk.errors import MedLedgerError

__all__ = ["FeedError", "OversightPull", "Pulled", "Pulling", "start_pulling"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
_MAX_BODY = 4 * 1024 * 1024  # a full page of either feed is well under 1 MB
_TOKEN_MARGIN = 60  # seconds: sign in again this long before the token expires
_MAX_BACKOFF = 10.0  # seconds between pulls while they fail (the partner API is away)


class FeedError(MedLedgerError):
    """The partner API refused the pull or answered something that is not the feed."""


@dataclass(frozen=True, slots=True)
class Pulled:
    scans: int
    acknowledgements: int
    master_records: int = 0
    master_refused: int = 0  # records that did not match their anchor
    records: int = 0  # sealed records stored here (re-sealed under this side's keys)
    records_refused: int = 0  # sealed records that did not match their commitment
    records_delivered: int = 0  # records this side wrote, newly stored by the partner API


class OversightPull:
    """One regulator deployment's pull from one partner API (`client.base_url`)."""

    def __init__(
        self,
        services: Services,
        client: httpx.Client,
        account: LocalAccount,
        *,
        page_size: int = MAX_PAGE,
    ) -> None:
        self._services = services
        self._client = client
        self._account = account
        self._page_size = page_size
        self._token: tuple[str, int] | None = None  # (token, expires_at)
        # Whether the scans cursor may lag rows already written (start, or a failed pull).
        self._recheck = True

    def pull(self) -> Pulled:
        """Everything new in every feed, written on this side; this side's own records
        delivered to the partner API."""
        try:
            scans, acks = self._pull_scans(), self._pull_acknowledgements()
            masters = self._pull_master_records()
            stored, refused = self._pull_records()
            return Pulled(scans, acks, *masters, stored, refused, self._push_records())
        except BaseException:
            self._recheck = True
            raise

    def _pull_scans(self) -> int:
        after = int(load_cursor(self._services, "scans") or 0)
        written = 0
        while True:
            page = self._get("/v1/partner/oversight/scans", {"after": after}, ScanPage)
            written += store_scans(self._services, page, recheck=self._recheck)
            self._recheck = False
            if len(page.scans) < self._page_size or page.after <= after:
                return written
            after = page.after

    def _pull_acknowledgements(self) -> int:
        saved = load_cursor(self._services, "acknowledgements")
        newest = AckCursor.parse(saved) if saved else AckCursor((0, 0, ""))
        after = newest.rewound(OVERLAP_SECONDS)
        written = 0
        while True:
            page = self._get(
                "/v1/partner/oversight/acknowledgements", {"after": after.text()}, AckPage
            )
            reached = AckCursor.parse(page.after)
            newest = max(newest, reached)
            written += store_acknowledgements(self._services, page, position=newest)
            if len(page.acknowledgements) < self._page_size or reached <= after:
                return written
            after = reached

    def _pull_master_records(self) -> tuple[int, int]:
        """(stored, refused): the records of versions anchored since the cursor. A record
        the partner API lacks or that does not match holds the cursor back (it is asked
        for again next time), not the versions after it."""
        after = MasterCursor.parse(load_cursor(self._services, "master_records"))
        stored = refused = 0
        advance = True
        batch = min(self._page_size, MAX_MASTER_RECORDS)
        while True:
            versions, missing = missing_master_versions(self._services, after, limit=batch)
            if not versions:
                return stored, refused
            page = MasterRecordPage(records=[])
            if missing:
                hashes = ["0x" + v.master_hash.hex() for v in missing]
                page = self._get(
                    "/v1/partner/oversight/master-records", {"hash": hashes}, MasterRecordPage
                )
            result = store_master_records(
                self._services, page, wanted=missing, versions=versions, advance=advance
            )
            for bad in result.refused:
                log.warning("master record %s does not match its anchor: refused", bad)
            stored, refused = stored + result.stored, refused + len(result.refused)
            advance = advance and result.complete
            if len(versions) < batch:
                return stored, refused
            after = MasterCursor(versions[-1].position)

    def _pull_records(self) -> tuple[int, int]:
        """(stored, refused): sealed records the partner API holds, from `OVERLAP_SECONDS`
        before the newest this side has. A record that does not match its commitment is
        refused and logged, never stored, and not asked for again."""
        newest = RecordCursor.parse(load_cursor(self._services, "records"))
        after = newest.rewound(OVERLAP_SECONDS)
        stored = refused = 0
        while True:
            page = self._get(
                "/v1/partner/oversight/records",
                {"after": after.text()},
                RecordPage,
                limit=min(self._page_size, MAX_RECORD_PAGE),
            )
            reached = RecordCursor.parse(page.after)
            newest = max(newest, reached)
            result = store_records(self._services, page, position=newest)
            for bad in result.refused:
                log.warning("sealed record %s does not match its commitment: refused", bad)
            stored, refused = stored + result.stored, refused + len(result.refused)
            if not page.more or reached <= after:
                return stored, refused
            after = reached

    def _push_records(self) -> int:
        """Records this side wrote itself (signed with the regulator's key: a recall it
        ordered, its notice), delivered to the partner API so the parties read them there.
        Returns how many the partner API newly stored."""
        author = self._account.address.lower()
        newest = RecordCursor.parse(load_cursor(self._services, "records_out"))
        after = newest.rewound(OVERLAP_SECONDS)
        delivered = 0
        while True:
            page = opened_records(self._services, after, limit=MAX_RECORD_PAGE, author=author)
            for item in page.records:
                answer = self._post("/v1/partner/oversight/records", item, RecordStored)
                delivered += answer.stored
            reached = RecordCursor.parse(page.after)
            newest = max(newest, reached)
            save_records_cursor(self._services, "records_out", newest)
            if not page.more or reached <= after:
                return delivered
            after = reached

    # -------------------------------------------------------------- HTTP

    def _post(self, path: str, body: BaseModel, model: type[M]) -> M:
        data = body.model_dump(mode="json")
        response = self._client.post(path, json=data, headers=self._auth())
        if response.status_code == 401:
            self._token = None
            response = self._client.post(path, json=data, headers=self._auth())
        return _parse(response, model)

    def _get(
        self, path: str, params: dict[str, Any], model: type[M], *, limit: int | None = None
    ) -> M:
        params = {**params, "limit": limit or self._page_size}
        response = self._client.get(path, params=params, headers=self._auth())
        if response.status_code == 401:  # the partner API restarted with another key, …
            self._token = None
            response = self._client.get(path, params=params, headers=self._auth())
        return _parse(response, model)

    def _auth(self) -> dict[str, str]:
        if self._token is None or self._token[1] - _TOKEN_MARGIN <= time.time():
            self._token = self._sign_in()
        return {"Authorization": f"Bearer {self._token[0]}"}

    def _sign_in(self) -> tuple[str, int]:
        address = self._account.address
        challenge = _parse(
            self._client.post("/v1/auth/challenge", json={"address": address}), _Challenge
        )
        signed = self._account.sign_message(encode_defunct(text=challenge.message))
        token = _parse(
            self._client.post(
                "/v1/auth/token",
                json={"message": challenge.message, "signature": "0x" + signed.signature.hex()},
            ),
            _Token,
        )
        return token.access_token, token.expires_at


class _Challenge(BaseModel):
    message: str


class _Token(BaseModel):
    access_token: str
    expires_at: int


def _parse(response: httpx.Response, model: type[M]) -> M:
    where = f"{response.request.method} {response.request.url.path}"
    if response.status_code != 200:
        code = ""
        try:
            code = str(loads(response.content, max_bytes=65536).get("code", ""))
        except (BoundedJsonError, AttributeError):
            pass
        raise FeedError(f"{where} answered {response.status_code} {code}".rstrip())
    try:
        return model.model_validate(loads(response.content, max_bytes=_MAX_BODY, max_depth=8))
    except (BoundedJsonError, ValidationError) as exc:
        raise FeedError(f"{where} answered something that is not the feed: {exc}") from exc


# ------------------------------------------------------------------ the thread


class Pulling:
    """The background pull; `close()` stops it (app shutdown)."""

    def __init__(
        self,
        pull: OversightPull,
        client: httpx.Client,
        *,
        interval: float,
        lock_path: os.PathLike[str],
    ) -> None:
        self._pull = pull
        self._client = client
        self._interval = interval
        self._lock_path = lock_path
        self._lock_fd: int | None = None
        self._backoff = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medledger-oversight-pull")
        self._thread.daemon = True
        self._thread.start()

    @property
    def elected(self) -> bool:
        """Whether this process holds the lock (pulls)."""
        return self._lock_fd is not None

    def _elected(self) -> bool:
        if self._lock_fd is None:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another worker pulls
                os.close(fd)
                return False
            self._lock_fd = fd
        return True

    def _run(self) -> None:
        wait = 0.0
        failing_since: float | None = None
        while not self._stop.wait(wait):
            wait = self._interval
            if not self._elected():
                continue
            try:
                self._pull.pull()
            except Exception as exc:  # the partner API or a database is away: later
                now = time.monotonic()
                if failing_since is None or now - failing_since >= 60:
                    log.warning("pulling the oversight feed failed: %s", exc)
                    failing_since = now
                wait = min(max(wait, self._backoff * 2), _MAX_BACKOFF)
                self._backoff = wait
            else:
                failing_since = None
                self._backoff = self._interval

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock for another worker
            self._lock_fd = None
        self._client.close()


def start_pulling(services: Services, account: LocalAccount) -> Pulling | None:
    """Pull `settings.oversight_feed_url` in the background; None when it is not set."""
    settings = services.settings
    if settings.oversight_feed_url is None:
        return None
    client = httpx.Client(base_url=settings.oversight_feed_url, timeout=10.0)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Pulling(
        OversightPull(services, client, account),
        client,
        interval=settings.oversight_feed_interval,
        lock_path=settings.data_dir / "oversight-pull.lock",
    )
