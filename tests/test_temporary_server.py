"""Prefect's temporary server as nianbao starts it (flows/temporary_server.py): it answers as
Prefect's would, the flow reports to it, and one started early for nothing is stopped."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from flows import temporary_server


@pytest.mark.slow  # a Prefect server starts: seconds
def test_the_server_answers_as_prefect_s_own_and_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    temporary_server.start()
    process = temporary_server._process
    try:
        url = temporary_server.answering()
        assert temporary_server.is_ours(url)
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert json.load(response) is True
        # Its API only: no UI, as Prefect's own temporary server.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url.removesuffix("/api") + "/dashboard", timeout=5)
    finally:
        temporary_server.stop()
    assert process is not None and process.poll() is not None
    assert not temporary_server.is_ours(url)


@pytest.mark.slow
def test_a_server_named_in_prefect_s_settings_is_used_and_the_early_one_stopped(tmp_path, monkeypatch):
    """PREFECT_API_URL set in a profile, not in the environment: the command started its own server
    early, the flow finds the configured one and stops its own."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import flow

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    temporary_server.start()
    process = temporary_server._process
    configured = "http://127.0.0.1:9/api"
    with temporary_settings(updates={PREFECT_API_URL: configured}):
        assert flow._temporary_server() == configured
    assert process is not None and process.wait(10) is not None
    assert temporary_server._process is None


@pytest.mark.slow
def test_a_server_a_run_has_reported_to_is_kept_when_another_is_configured(tmp_path, monkeypatch):
    """Prefect's clients in the process (events, logs, concurrency leases) keep the URL they were
    made with: the server they know stays up until the process ends, as Prefect's own does."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import flow

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    try:
        ours = flow._temporary_server()
        assert temporary_server.is_ours(ours)
        with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
            flow._temporary_server()
        assert temporary_server.is_ours(ours) and temporary_server._process is not None
        assert temporary_server._process.poll() is None
    finally:
        temporary_server.stop()


def test_flow_runs_on_the_temporary_server_send_no_heartbeats_and_on_a_lasting_one_they_do(monkeypatch):
    """Heartbeats tell a server that lasts which runs crashed; nothing reads them on the temporary
    server, and each flow's end waited for Prefect's heartbeat thread to wake (up to a second)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows import flow

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(flow, "_temporary_server", lambda: "http://127.0.0.1:9/api")
    lasting = get_current_settings().flows.heartbeat_frequency
    assert lasting is not None  # Prefect's default: on
    with temporary_settings(updates={PREFECT_API_URL: None}), flow._reporting():
        assert get_current_settings().flows.heartbeat_frequency is None
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), flow._reporting():
        assert get_current_settings().flows.heartbeat_frequency == lasting
