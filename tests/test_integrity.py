"""Integrity: the release ships the bytes that were checked, and the mistakes a bureau makes in its
own files (exceptions.yaml, bureau.yaml, report.md, what else lies in the year's folder) are
answered with a finding or one line, never a traceback."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

import pytest
import yaml

from flows import places
from flows.intake.bureau import BureauConfigError, discover, load_bureau
from flows.release.sign import keygen
from flows.release.verify import verify
from flows.run import check_all, merge_checked, prepare, publish_outcome, run_year, settle
from tests.test_interruption import _alive

ACCEPTED = {"reason": "本机关确认接受该错误", "accepted_by": "办公室 王某", "date": "2022-01-10"}


def edit_bureau(sources: Path, **changes) -> None:
    path = sources / places.BUREAU_FILE
    spec = yaml.safe_load(path.read_text("utf-8"))
    path.write_text(yaml.safe_dump({**spec, **changes}, allow_unicode=True), "utf-8")


def write_exceptions(sources: Path, year: int, text: str) -> Path:
    path = places.year_folder(sources, year) / places.EXCEPTIONS
    path.write_text(text, "utf-8")
    return path


# -- (a) what was checked is what ships ---------------------------------------------------------------
def test_a_workbook_replaced_after_its_check_ships_as_checked(sources_copy, tmp_path):
    outputs = tmp_path / "outputs"
    workbook = sources_copy / "2021" / "household.xlsx"
    checked_bytes = workbook.read_bytes()
    inputs = prepare(sources_copy, outputs, 2021)
    checked = check_all(inputs)
    outcome = settle(inputs, checked, merge_checked(inputs.bureau, checked))
    # Replaced between the check and publication: another department's valid workbook, whose
    # figures were never checked as household's.
    shutil.copy(sources_copy / "2021" / "traffic.xlsx", workbook)
    assert workbook.read_bytes() != checked_bytes

    private, public = keygen(tmp_path / "keys")
    publication = publish_outcome(outcome, outputs, key=private)  # signed: the signature vouches for these bytes

    assert publication is not None and publication.new
    assert (publication.path / "submissions" / "household.xlsx").read_bytes() == checked_bytes
    with open(publication.path / "data" / "submissions.csv", encoding="utf-8") as handle:
        rows = {row["unit_id"]: row for row in csv.DictReader(handle)}
    assert rows["household"]["sha256"] == hashlib.sha256(checked_bytes).hexdigest()
    assert int(rows["household"]["bytes"]) == len(checked_bytes)
    results = verify(publication.path, public)
    assert all(result.passed for result in results), [(r.name, r.problems[:3]) for r in results if not r.passed]
    # and the run says so: the file on disk is not the one published
    assert [Path(p).name for p in publication.replaced] == ["household.xlsx"]
    from flows.cli import verdict

    outcome.publication = publication
    (notice,) = [line for line in verdict(outcome) if "household.xlsx" in line]
    assert "检查之后被替换" in notice and "nianbao run 2021" in notice


def test_without_the_checked_bytes_nothing_is_published_and_one_line_says_why(
    sources_copy, tmp_path, monkeypatch, capsys
):
    from flows.release.package import SubmissionChanged

    outputs = tmp_path / "outputs"
    inputs = prepare(sources_copy, outputs, 2021)
    checked = check_all(inputs)
    outcome = settle(inputs, checked, merge_checked(inputs.bureau, checked))
    shutil.rmtree(places.checked_copies(outputs, 2021))  # the copies lost (a disk cleaned by hand)
    shutil.copy(sources_copy / "2021" / "traffic.xlsx", sources_copy / "2021" / "household.xlsx")
    with pytest.raises(SubmissionChanged, match=r"household\.xlsx") as refused:
        publish_outcome(outcome, outputs)
    assert "\n" not in str(refused.value)
    assert not (outputs / "2021" / places.LATEST).exists()

    from flows import cli

    def changed(args, inputs):
        raise refused.value

    monkeypatch.setattr(cli, "_run_prepared", changed)
    assert cli.main(["run", "2021", "--sources", str(sources_copy), "--outputs", str(outputs)]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "household.xlsx" in said and "nianbao run" in said


def test_a_run_keeps_only_its_own_packs_of_checked_bytes(sources_copy, tmp_path):
    outputs = tmp_path / "outputs"
    first = run_year(2021, sources_copy, outputs)
    kept = places.checked_copies(outputs, 2021)
    packs = {c.report.kept.path for c in first.checked}
    assert len(packs) == 1 and {p.name for p in kept.iterdir()} == {Path(p).name for p in packs}  # one a batch
    shutil.copy(sources_copy / "2021" / "traffic.xlsx", sources_copy / "2021" / "household.xlsx")
    second = run_year(2021, sources_copy, outputs)
    again = {c.report.kept.path for c in second.checked}
    assert again != packs and {p.name for p in kept.iterdir()} == {Path(p).name for p in again}


# -- (b) mistakes are answered ------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["F0", "F1", "F2"])
def test_an_error_that_leaves_nothing_to_publish_cannot_be_accepted(sources_copy, tmp_path, rule):
    (sources_copy / "2021" / "household.xlsx").write_bytes(b"not a workbook")
    path = write_exceptions(sources_copy, 2021, yaml.safe_dump([{"rule": rule, "unit": "household", **ACCEPTED}]))
    with pytest.raises(BureauConfigError) as refused:
        prepare(sources_copy, tmp_path / "outputs", 2021)
    message = str(refused.value)
    assert str(path) in message and "第 1 条" in message and rule in message and "\n" not in message


def test_a_run_with_nothing_to_merge_and_no_error_says_so(sources_copy, tmp_path):
    from flows.cli import verdict

    for unit in ("household", "traffic", "exit_entry", "public_order"):
        (sources_copy / "2021" / f"{unit}.xlsx").unlink()
    write_exceptions(sources_copy, 2021, yaml.safe_dump([{"rule": "E4", **ACCEPTED}]))
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    assert outcome.errors == [] and outcome.release is None
    assert "未发布" in "\n".join(verdict(outcome))


@pytest.mark.parametrize("name", ["[/]", "[bold]交通[/bold]警察", "[link=file:///etc]x"])
def test_names_with_rich_markup_are_printed_as_text(sources_copy, tmp_path, name):
    from rich.console import Console

    from flows.cli import summary_tables

    spec = yaml.safe_load((sources_copy / places.BUREAU_FILE).read_text("utf-8"))
    departments = [{**d, "name": name if d["id"] == "traffic" else d["name"]} for d in spec["departments"]]
    edit_bureau(sources_copy, name=f"局{name}", departments=departments)
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    assert outcome.release is not None
    console = Console(file=io.StringIO(), width=200, no_color=True)
    for table in summary_tables(outcome):
        console.print(table)
    assert name in console.file.getvalue()


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_report_text_saved_as_gbk_is_read_with_a_warning(sources_copy, tmp_path, encoding):
    path = sources_copy / "2021" / places.REPORT_TEXT
    text = path.read_text("utf-8")
    path.write_bytes(text.encode(encoding))
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    assert outcome.release is not None, outcome.errors
    (warning,) = [f for f in outcome.findings if f.rule == "T2"]
    assert warning.severity == "warning" and "GB18030" in warning.message and "report.md" in warning.message
    assert (outcome.release / "report" / "yuanjiang-psb-example.md").read_text("utf-8").startswith("# 一、")
    assert "总体情况" in (outcome.release / "report" / "yuanjiang-psb-example.md").read_text("utf-8")


def test_a_report_text_in_no_chinese_encoding_is_an_error_not_a_crash(sources_copy, tmp_path):
    path = sources_copy / "2021" / places.REPORT_TEXT
    path.write_bytes(b"\xff\xfe\x00\xd8" * 50 + "# 一、总体情况".encode("utf-16-le"))
    outcome = run_year(2021, sources_copy, tmp_path / "outputs")
    assert outcome.release is None
    (error,) = [f for f in outcome.errors if f.rule == "T1"]  # one, not one per section as well
    assert "report.md" in error.message and "UTF-8" in error.message


@pytest.mark.parametrize("written", ["2022-02-30", "'2022-02-30'", "2022-13-01"])
def test_an_impossible_date_in_exceptions_is_one_line(sources_copy, tmp_path, written):
    entry = "- {rule: A1, unit: traffic, reason: 本机关确认接受该错误, accepted_by: 王某, date: %s}\n"
    path = write_exceptions(sources_copy, 2021, entry % "2022-01-10" + entry % written)  # the second is wrong
    with pytest.raises(BureauConfigError) as refused:
        prepare(sources_copy, tmp_path / "outputs", 2021)
    message = str(refused.value)
    assert str(path) in message and "第 2 条" in message and "2022-" in message and "\n" not in message


def test_licenses_as_a_string_is_one_line(sources_copy):
    edit_bureau(sources_copy, licenses="CC-BY-4.0")
    with pytest.raises(BureauConfigError) as refused:
        load_bureau(sources_copy)
    message = str(refused.value)
    assert "bureau.yaml" in message and "licenses" in message and "\n" not in message


def test_a_bureau_id_that_is_also_a_department_s_is_refused(sources_copy):
    edit_bureau(sources_copy, id="traffic")
    with pytest.raises(BureauConfigError) as refused:
        load_bureau(sources_copy)
    assert "bureau.yaml" in str(refused.value) and "traffic" in str(refused.value)


def test_an_impossible_date_in_bureau_yaml_is_one_line(sources_copy):
    path = sources_copy / places.BUREAU_FILE
    path.write_text(path.read_text("utf-8") + "issued: 2022-02-30\n", "utf-8")
    with pytest.raises(BureauConfigError, match=r"bureau\.yaml"):
        load_bureau(sources_copy)


def test_lock_and_system_files_in_the_year_folder_are_ignored_with_a_note(sources_copy, tmp_path):
    folder, outputs = sources_copy / "2021", tmp_path / "outputs"
    first = run_year(2021, sources_copy, outputs).publication
    for name in (
        "~$household.xlsx",
        ".~lock.traffic.xlsx#",
        "Thumbs.db",
        ".DS_Store",
        "._household.xlsx",
        "desktop.ini",
    ):
        (folder / name).write_bytes(b"\x00\x01")
    submitted, findings = discover(sources_copy, 2021, load_bureau(sources_copy))
    assert sorted(submitted) == ["exit_entry", "household", "public_order", "traffic"]
    assert all(f.rule == "E6" and f.severity == "warning" for f in findings) and len(findings) == 6
    by_file = {Path(f.file).name: f for f in findings}
    assert by_file["~$household.xlsx"].unit == "household" and "household.xlsx" in by_file["~$household.xlsx"].message
    assert "打开" in by_file["~$household.xlsx"].message and "打开" in by_file[".~lock.traffic.xlsx#"].message
    assert by_file["Thumbs.db"].unit == "yuanjiang-psb-example"
    outcome = run_year(2021, sources_copy, outputs)
    assert outcome.errors == [] and sum(f.rule == "E6" for f in outcome.findings) == 6
    # A note for this run, not the release's: a workbook open in Excel makes no new version.
    assert (outcome.publication.version, outcome.publication.new) == (first.version, False)


def test_check_pages_are_written_when_publication_fails(sources_copy, tmp_path, monkeypatch):
    from flows import run

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run, "publish", broken)
    outputs = tmp_path / "outputs"
    with pytest.raises(OSError):
        run_year(2021, sources_copy, outputs)
    pages = places.checks_folder(outputs, 2021)
    assert (pages / places.CHECK_INDEX).is_file() and (pages / "household.html").is_file()


# -- (c) a killed run leaves no process behind ----------------------------------------------------------
@pytest.mark.slow  # starts `nianbao run` with its worker processes and Prefect's server: 10–60 s
def test_a_run_killed_with_sigkill_leaves_no_process_behind(sources_copy, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "flows.cli", "run", "2021", "--sources", str(sources_copy)]
    command += ["--outputs", str(tmp_path / "outputs"), "--runner", "processes", "--quiet"]
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and run.poll() is None:
            children = psutil.Process(run.pid).children(recursive=True)
            lines = [" ".join(_cmdline(child)) for child in children]
            if any("uvicorn" in line for line in lines) and any("spawn_main" in line for line in lines):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the run ended or took too long before its server and workers started: {run.poll()}")
        time.sleep(0.5)  # the server starts answering seconds later: this kills the run while it waits
        children = psutil.Process(run.pid).children(recursive=True)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 20  # the server is given 5 s to stop on SIGTERM, then killed
        while time.monotonic() < deadline and _alive(children):
            time.sleep(0.2)
        assert _alive(children) == [], [" ".join(_cmdline(p)) for p in _alive(children)]
    finally:
        if run.poll() is None:
            run.kill()
        for survivor in _alive(children):
            survivor.kill()


def _cmdline(process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []
