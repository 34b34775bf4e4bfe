"""The supervisor against real child processes (a stdlib HTTP server)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from medledger.runtime.supervisor import ProcessSpec, Supervisor, SupervisorError, free_port


def _http_server(name: str, directory: Path) -> ProcessSpec:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    argv += ["--directory", str(directory)]
    return ProcessSpec(name, argv, health_url=f"http://127.0.0.1:{port}/", health_timeout=30)


def test_start_waits_for_health_and_restart_after_sigkill_serves_again(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "x.txt").write_text("hello")
    with Supervisor(tmp_path / "logs") as sup:
        spec = _http_server("web", tmp_path / "www")
        sup.start(spec)
        assert spec.health_url is not None
        assert httpx.get(spec.health_url + "x.txt").text == "hello"
        first = sup.pid("web")
        sup.kill("web")
        assert not sup.is_running("web")
        assert sup.exited() == {}  # a kill we asked for is not a crash
        sup.restart("web")
        assert sup.pid("web") != first and sup.restarts("web") == 1
        assert httpx.get(spec.health_url + "x.txt").text == "hello"
    assert not sup.is_running("web")
    assert "GET /x.txt" in sup.log_path("web").read_text()


def test_a_child_that_dies_on_its_own_is_reported(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as sup:
        sup.start(ProcessSpec("quitter", [sys.executable, "-c", "raise SystemExit(7)"]))
        sup._child("quitter").proc.wait()
        assert sup.exited() == {"quitter": 7}


def test_a_child_that_exits_before_its_health_url_answers_names_its_log(tmp_path: Path) -> None:
    spec = ProcessSpec(
        "broken",
        [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        health_url=f"http://127.0.0.1:{free_port()}/",
    )
    with Supervisor(tmp_path) as sup, pytest.raises(SupervisorError, match="broken.log"):
        sup.start(spec)
    assert "boom" in (tmp_path / "broken.log").read_text()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    with Supervisor(tmp_path) as sup:
        sup.start(ProcessSpec("stubborn", [sys.executable, "-c", code], stop_timeout=1))
        while "ready" not in sup.log_path("stubborn").read_text():  # handler installed
            time.sleep(0.05)
        assert sup.stop("stubborn") == -signal.SIGKILL


def test_unknown_names_and_double_starts_are_refused(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as sup:
        with pytest.raises(SupervisorError, match="no process named 'nope'"):
            sup.restart("nope")
        spec = ProcessSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        sup.start(spec)
        with pytest.raises(SupervisorError, match="already running"):
            sup.start(spec)


def test_children_create_private_files_and_inherit_no_secret_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDLEDGER_API_MASTER_KEY", "ab" * 32)
    monkeypatch.setenv("MEDLEDGER_API_REGULATOR_KEY_PASSWORD", "hunter22")
    monkeypatch.setenv("MEDLEDGER_LOG_FORMAT", "json")
    code = (
        "import os, pathlib; pathlib.Path('made.txt').write_text('x'); "
        "pathlib.Path('made').mkdir(); "
        "print(sorted(k for k in os.environ if k.startswith('MEDLEDGER_')), flush=True)"
    )
    spec = ProcessSpec(
        "writer", [sys.executable, "-c", code], env={"MEDLEDGER_OWN_TOKEN": "t"}, cwd=tmp_path
    )
    with Supervisor(tmp_path / "logs") as sup:
        sup.start(spec)
        sup._child("writer").proc.wait()
    assert (tmp_path / "made.txt").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o700
    log = sup.log_path("writer")
    assert log.stat().st_mode & 0o777 == 0o600
    assert "['MEDLEDGER_LOG_FORMAT', 'MEDLEDGER_OWN_TOKEN']" in log.read_text()
