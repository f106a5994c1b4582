from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from flows.format.edition import edition_for_year
from flows.format.report import Report
from flows.synth import synthetic_report

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"
GOLDEN = Path(__file__).resolve().parent / "golden"

# Reproducible package timestamps in every test.
os.environ.setdefault("SOURCE_DATE_EPOCH", "1612137600")  # 2021-02-01T00:00:00Z
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(params=[2020, 2021], ids=["edition2019", "edition2021"])
def year(request) -> int:
    return request.param


@pytest.fixture
def edition(year):
    return edition_for_year(year)


def valid_report(year: int, unit: str = "d1", seed: int = 0) -> Report:
    return synthetic_report(edition_for_year(year), unit, year, np.random.default_rng(seed))


@pytest.fixture(scope="session")
def releases(tmp_path_factory) -> dict[int, Path]:
    """The example bureau's 2020 and 2021 releases, published in that order into one outputs/ (so
    2021's bureau report links to the comparison with 2020). Shared: read them, or write beside them only
    what a command writes into outputs/ (reports/, say), never into a release."""
    from flows.run import run_year

    outputs = tmp_path_factory.mktemp("outputs")
    return {year: run_year(year, SOURCES, outputs).release for year in (2020, 2021)}


@pytest.fixture
def sources_copy(tmp_path) -> Path:
    """A writable copy of the example bureau's sources."""
    return Path(shutil.copytree(SOURCES, tmp_path / "sources"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts real processes and waits on them (tens of seconds)")


def pytest_sessionfinish(session, exitstatus):
    """Prefect's temporary server, if a test started one in this process, stopped while pytest's
    streams are still open: stopped at the interpreter's exit instead, Prefect logs its "Stopping
    temporary server" to a closed stream ("--- Logging error ---" at the end of CI's output)."""
    import sys

    if "prefect.server.api.server" in sys.modules:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()
