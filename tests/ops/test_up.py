"""`medledger up` as a user runs it: a real process group on free ports in a tmp data dir."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from medledger.ops.up import reset_data_dir
from medledger.runtime.supervisor import SupervisorError
from tests.portal.live import CHROMIUM

REPO = Path(__file__).resolve().parents[2]
FREE_PORTS = ["--sequencer-port", "0", "--follower-port", "0", "--api-port", "0"]
JSON = {"Accept": "application/json"}
FREE_PORTS += ["--regulator-api-port", "0", "--block-interval-ms", "50"]


class Up:
    def __init__(self, data_dir: Path, out: Path, *options: str) -> None:
        self.out = out
        argv = [sys.executable, "-m", "medledger.cli", "up", "--data-dir", str(data_dir)]
        argv += options
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(
                argv + FREE_PORTS, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.out.read_text()
            if "Ctrl-C stops everything" in text:
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"medledger up exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"medledger up did not come up:\n{self.out.read_text()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the leader
        code = self.proc.wait(timeout=90)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return code
            time.sleep(0.2)
        os.killpg(self.proc.pid, signal.SIGKILL)
        pytest.fail("children of medledger up outlived it")


def urls_of(banner: str) -> dict[str, str]:
    def find(label: str) -> list[str]:
        line = next(x for x in banner.splitlines() if x.strip().startswith(label))
        return re.findall(r"http://127\.0\.0\.1:\d+", line)

    return {
        "sequencer": find("sequencer node")[0],
        "follower": find("regulator's follower")[0],
        "api": find("partner portal")[0],
        "regulator-api": find("regulator portal")[0],
        "indexer": find("indexers")[0],
        "regulator-indexer": find("indexers")[1],
    }


def sample_of(banner: str) -> str:
    return re.search(r"Verify a sample code:\s+(\S+)", banner).group(1)  # type: ignore[union-attr]


def signs_in(base_url: str, user: str, password: str) -> None:
    """The portal's sign-in form, filled in as a person would: 303 to the portal."""
    with httpx.Client(base_url=base_url, timeout=30) as portal:
        form = portal.get("/portal/sign-in").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        signed_in = portal.post(
            "/portal/sign-in",
            data={"username": user, "password": password, "csrf_token": csrf},
        )
        assert signed_in.status_code == 303, (user, signed_in.text[:500])


def _opens_genuine_in_the_browser(url: str) -> None:
    """The printed sample, opened as someone scanning the QR code would: a real Chromium."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(url)
            verdict = page.locator("[data-verdict]")
            expect(verdict).to_have_attribute("data-verdict", "genuine")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        finally:
            browser.close()


def _the_seed_has_its_mix(data: Path, urls: dict[str, str]) -> None:
    """Every seeded product has its master data (on the regulator's side too, pulled
    through the oversight feed); serialised and lot-tracked products; the recalled
    lot-tracked lot is still held, by quantity, at five organisations."""
    seed = json.loads((data / "seed.json").read_text())
    assert {p["serialised"] for p in seed["products"]} == {True, False}
    for product in seed["products"]:
        master = httpx.get(f"{urls['api']}/v1/devices/{product['gtin']}").json()["master"]
        assert master["name_zh"] and master["name_en"], product
    hip = "/01/09506000201016/10/HP2609A/21/HA260002"  # at Ruitong (ops.demo.lot_history)
    deadline = time.monotonic() + 60
    while True:  # the regulator API pulls the records every few seconds
        answer = httpx.get(urls["regulator-api"] + hip, headers=JSON).json()
        if answer["product"]["name_zh"] == "髋关节假体":
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)
    with sqlite3.connect(data / "index" / "partner.db") as db:
        holders = db.execute(
            "SELECT COUNT(*) FROM lot_balances b JOIN lots l ON l.lot_index = b.lot_index "
            "WHERE l.lot_number = 'IS2614A' AND l.active_recall > 0 AND b.active > 0"
        ).fetchone()[0]
    assert holders == 5


def test_up_seeds_serves_health_and_metrics_verifies_the_sample_and_keeps_data(tmp_path):
    data = tmp_path / "stack"
    up = Up(data, tmp_path / "first.out")
    try:
        banner = up.wait_ready()
        urls = urls_of(banner)
        for name, url in urls.items():
            health = httpx.get(url + "/healthz", timeout=10)
            assert health.status_code == 200, (name, health.text)
            metrics = httpx.get(url + "/metrics", timeout=10).text
            expected = {
                "sequencer": "medledger_node_block_height",
                "follower": "medledger_node_follower_lag_blocks",
                "indexer": "medledger_indexer_lag_blocks",
                "regulator-indexer": "medledger_indexer_lag_blocks",
                "api": "medledger_api_request_seconds",
                "regulator-api": "medledger_api_request_seconds",
            }[name]
            assert expected in metrics, name
        sample = sample_of(banner)
        assert sample.startswith(urls["api"] + "/01/")
        answer = httpx.get(sample, headers={"Accept": "application/json"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["verdict"] == "genuine", answer.text
        _opens_genuine_in_the_browser(sample)
        recalled = re.search(r"A recalled unit:\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        verdict = httpx.get(recalled, headers={"Accept": "application/json"}).json()["verdict"]
        assert verdict == "recalled"
        height = httpx.get(urls["sequencer"] + "/healthz").json()["head"]
        assert height > 20  # the seeded history is on the chain
        _the_seed_has_its_mix(data, urls)
        lot = re.search(r"A recalled lot:\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        assert httpx.get(lot, headers=JSON).json()["lot"]["recalled"] is True
        # Sign-ins are printed for every organisation and work; the secrets are not printed.
        assert banner.count("demo-") == 36  # a manager, a QA and a clerk per organisation
        for user, side in (("jiahe", "api"), ("nmpa", "regulator-api")):
            password = re.search(rf"^  {user}\s+(\S+)", banner, re.M).group(1)  # type: ignore[union-attr]
            signs_in(urls[side], user, password)
        secrets_dir = data / "secrets"
        staff_key = (secrets_dir / "regulator-staff-key").read_text().strip()
        members_page = httpx.get(
            urls["regulator-api"] + "/v1/regulator/members",
            headers={"Authorization": f"Bearer {staff_key}"},
        )
        assert members_page.status_code == 200, members_page.text
        members = json.loads((secrets_dir / "members.json").read_text())
        hidden = [key.removeprefix("0x") for key in members.values()]
        for secret in [*secrets_dir.iterdir(), *data.glob("*api/*-key*")]:
            assert secret.stat().st_mode & 0o077 == 0, secret
            if secret.suffix == ".hex" or secret.name in (
                "regulator-api-token",
                "regulator-key-password",
                "regulator-staff-key",
            ):
                hidden.append(secret.read_text().strip().removeprefix("0x"))
        logs = "".join(log.read_text() for log in (data / "logs").iterdir() if log.is_file())
        # authority, admin, two master keys, relayer, keystore password, staff token; the
        # regulator's key exists only inside its keystore
        assert len(hidden) >= len(members) + 7
        assert not list(data.rglob("regulator-key.hex"))
        for value in hidden:
            assert len(value) >= 16 and value not in banner and value not in logs
        # A child that dies on its own is restarted by `up`.
        partner_db = str(data / "index" / "partner.db")
        indexer = next(
            p for p in psutil.Process(up.proc.pid).children()
            if "indexer" in p.cmdline() and partner_db in " ".join(p.cmdline())
        )  # fmt: skip
        indexer.kill()
        deadline = time.monotonic() + 120
        while "indexer exited with -9; restarting it" not in up.out.read_text():
            assert time.monotonic() < deadline, up.out.read_text()
            time.sleep(0.2)
        while True:
            try:
                if httpx.get(urls["indexer"] + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the restarted indexer never answered"
            time.sleep(0.2)
        for name in urls:  # structured logs: every line of every process is one JSON object
            lines = (data / "logs" / f"{name}.log").read_text().splitlines()
            assert lines and all(json.loads(x)["process"] for x in lines), name
    finally:
        assert up.stop() in (0, 130)

    again = Up(data, tmp_path / "second.out")
    try:
        banner2 = again.wait_ready()
        assert "seed:" not in banner2  # seeded once
        assert sample_of(banner2).split("/01/")[1] == sample.split("/01/")[1]
        urls2 = urls_of(banner2)
        assert httpx.get(urls2["sequencer"] + "/healthz").json()["head"] >= height
        path = "/01/" + sample.split("/01/")[1]
        answer = httpx.get(urls2["api"] + path, headers={"Accept": "application/json"})
        assert answer.json()["verdict"] == "genuine"
    finally:
        again.stop()


def test_reset_wipes_a_stack_directory_but_refuses_anything_else(tmp_path):
    stack = tmp_path / "stack"
    (stack / "secrets").mkdir(parents=True)
    (stack / "genesis.json").write_text("{}")
    reset_data_dir(stack)
    assert not stack.exists()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"...")
    with pytest.raises(SupervisorError, match="holds no MedLedger stack"):
        reset_data_dir(other)
    assert (other / "holiday.jpg").exists()
