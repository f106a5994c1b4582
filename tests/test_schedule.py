"""The scheduled annual run: `nianbao serve`'s deployment and prefect.yaml say the same."""

from __future__ import annotations

from datetime import date

import yaml

from tests.conftest import ROOT, SOURCES


def test_scheduled_runs_report_on_the_previous_year():
    from flows.schedule import report_year

    assert report_year(date(2026, 1, 5)) == 2025
    assert report_year(date(2026, 12, 31)) == 2025


def test_serve_deployment_has_the_annual_schedule(tmp_path):
    from flows.flow import ANNUAL_CRON, annual_deployment

    deployment = annual_deployment(SOURCES, tmp_path / "outputs")
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (ANNUAL_CRON, "Asia/Shanghai")
    assert deployment.parameters == {
        "sources": str(SOURCES.resolve()),
        "outputs": str((tmp_path / "outputs").resolve()),
    }
    assert deployment.concurrency_limit == 1 or deployment.concurrency_limit.limit == 1
    # named after the bureau, and never as a work pool's deployment (nianbao deploy, prefect.yaml) is
    assert (deployment.name, deployment.tags) == ("yuanjiang-psb-example-serve", ["yuanjiang-psb-example"])
    deployed = annual_deployment(SOURCES, tmp_path / "outputs", work_pool="nianbao")
    assert (deployed.name, deployed.work_pool_name, deployed.entrypoint) == (
        "yuanjiang-psb-example",
        "nianbao",
        "flows.flow.annual_flow",
    )
    assert (deployed.parameters, deployed.tags) == (deployment.parameters, deployment.tags)


def test_prefect_yaml_matches_the_served_deployment():
    from flows.flow import ANNUAL_CRON, TIME_ZONE

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))
    (deployment,) = spec["deployments"]
    module, _, name = deployment["entrypoint"].partition(":")
    assert (ROOT / module).is_file() and name == "annual_flow"
    assert deployment["schedules"] == [{"cron": ANNUAL_CRON, "timezone": TIME_ZONE}]
    assert deployment["work_pool"]["name"] == "nianbao" and not deployment["name"].endswith("-serve")
