"""docs/GETTING_STARTED.md, executed: the blocks titled `step-N` run in order against a real
`medledger up` (its own process group on free ports, in a tmp data directory), each
asserting what the guide says it gives. Step 1 is the `make run ARGS="…"` line: its flags
go to `medledger up` as `make run` passes them. The last step subscribes to inbound
shipments with a receiver that verifies each signature, ships once more, and waits for
the new shipment to arrive by webhook.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ops.test_up import Up, urls_of

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "GETTING_STARTED.md"
BLOCK = re.compile(r"^```(\w+) title=step-(\d+)\n(.*?)^```$", re.M | re.S)
SHIP_STEP = 5  # the manufacturer ships a unit to the distributor
WEBHOOK_STEP = 9


def steps() -> list[tuple[int, str, str]]:
    found = [(int(n), lang, body) for lang, n, body in BLOCK.findall(GUIDE.read_text())]
    assert [n for n, _, _ in found] == list(range(1, len(found) + 1)), "steps out of order"
    return found


def test_the_guide_numbers_its_steps_and_ends_with_the_webhook() -> None:
    found = steps()
    assert found[0][1] == "sh" and found[0][2].startswith("make run ARGS=")
    assert len(found) == WEBHOOK_STEP and "/v1/partner/subscriptions" in found[-1][2]
    assert all(lang == "python" for _, lang, _ in found[1:])


def _up_flags(command: str) -> list[str]:
    match = re.fullmatch(r'make run ARGS="([^"]*)"\s*', command)
    assert match, f'step 1 is not `make run ARGS="…"`: {command!r}'
    return shlex.split(match.group(1))


def test_an_integrator_gets_from_sign_in_to_a_received_shipment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_, _, command), *python_steps = steps()
    flags = _up_flags(command)
    assert "--api-port" in flags  # the guide's port; the test's own free ports come last
    up = Up(tmp_path / "stack", tmp_path / "up.out", *flags)
    try:
        api = urls_of(up.wait_ready(timeout=900))["api"]
        monkeypatch.setenv("MEDLEDGER_API", api)
        monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(tmp_path / "stack"))
        session: dict[str, Any] = {"__name__": "guide"}
        for number, _, body in python_steps:
            if number == WEBHOOK_STEP:
                assert session["done"]["status"] == "received"
                assert session["line"]["units"] >= 1 and session["line"]["recalled"] is False
                _webhook(api, body, python_steps[SHIP_STEP - 2][2], session)
                continue
            try:
                exec(compile(body, f"GETTING_STARTED step-{number}", "exec"), session)
            except Exception as exc:
                pytest.fail(f"step {number} of the guide failed: {exc!r}")
    finally:
        up.stop()


def _webhook(api: str, body: str, ship: str, session: dict[str, Any]) -> None:
    """Step 9: subscribe, then ship once more (step 5 again) and wait for the delivery."""
    exec(compile(body, f"GETTING_STARTED step-{WEBHOOK_STEP}", "exec"), session)
    exec(compile(ship, f"GETTING_STARTED step-{SHIP_STEP} again", "exec"), session)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not session["deliveries"]:
        time.sleep(0.2)
    session["server"].shutdown()
    session["server"].server_close()
    shipment_id = session["shipped"].json()["shipment_id"]
    assert str(shipment_id) in str(session["deliveries"]), session["deliveries"]
