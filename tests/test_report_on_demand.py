"""`nianbao report`: a unit's annual report rendered on demand from a release (which holds the
bureau's only), by the functions publication uses, from bytes held to the release's hashes first."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from flows.release import unit_reports
from flows.release.unit_reports import render_reports

BUREAU = "yuanjiang-psb-example"
UNITS = [BUREAU, "exit_entry", "household", "public_order", "traffic"]  # data/reports.csv's order
LINK = re.compile(r'<p class="compared"[^>]*><a href="([^"]+)">')


def outputs_of(releases) -> Path:
    return releases[2020].parent.parent


def zip_of(release: Path) -> Path:
    return release.parent / f"{release.name}.zip"  # outputs/<year>/<version>.zip


def copied(releases, tmp_path: Path, year: int = 2020) -> Path:
    return Path(shutil.copytree(releases[year], tmp_path / "release"))


@pytest.mark.parametrize("year", [2020, 2021])
def test_the_bureaus_report_made_on_demand_is_the_releases_byte_for_byte(releases, tmp_path, year):
    # Given the link the release's report/ has (2021's to the comparison with 2020), the same bytes.
    compared = "../../../compare/2020-2021/index.html" if year == 2021 else None
    rendered = render_reports(releases[year], tmp_path, [BUREAU], compared)
    assert [unit for unit, _, _ in rendered.files] == [BUREAU]
    for suffix in ("html", "docx"):
        made = (tmp_path / f"{BUREAU}.{suffix}").read_bytes()
        assert made == (releases[year] / "report" / f"{BUREAU}.{suffix}").read_bytes(), suffix


def test_every_unit_by_default_and_a_departments_report_shows_its_figures_and_text(releases, tmp_path):
    rendered = render_reports(releases[2020], tmp_path)
    assert [unit for unit, _, _ in rendered.files] == UNITS
    assert (rendered.year, rendered.version, rendered.bureau, rendered.out) == (2020, "1.0.0", BUREAU, tmp_path)
    html = (tmp_path / "traffic.html").read_text("utf-8")
    assert "<h1>交通警察大队2020年政府信息公开工作年度报告</h1>" in html
    assert "发布信息214篇" in html  # the brigade's own text, report/traffic.md
    assert 'data-cell="procurement.amount">4920735<' in html  # its figure, data/proactive_disclosure.csv
    assert LINK.findall(html) == []  # no link asked for


def test_from_the_zip_the_same_bytes(releases, tmp_path):
    folder, zipped = tmp_path / "folder", tmp_path / "zip"
    render_reports(releases[2021], folder, ["traffic", BUREAU])
    render_reports(zip_of(releases[2021]), zipped, ["traffic", BUREAU])
    assert sorted(p.name for p in zipped.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert all((zipped / p.name).read_bytes() == p.read_bytes() for p in folder.iterdir())


def test_in_worker_processes_the_same_bytes(releases, tmp_path, monkeypatch):
    render_reports(releases[2020], tmp_path / "here", workers=1)
    monkeypatch.setattr(unit_reports, "IN_PROCESS", 2)  # the way ten thousand units are made
    rendered = render_reports(releases[2020], tmp_path / "workers", workers=2)
    assert [unit for unit, _, _ in rendered.files] == UNITS
    here = sorted((tmp_path / "here").iterdir())
    assert [p.name for p in here] == sorted(p.name for p in (tmp_path / "workers").iterdir())
    assert all((tmp_path / "workers" / p.name).read_bytes() == p.read_bytes() for p in here)


def test_a_year_writes_beside_its_checks_and_links_to_the_comparison(releases, capsys):
    outputs = outputs_of(releases)
    assert main(["report", "2021", "--outputs", str(outputs), "--unit", "traffic", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    folder = outputs / "reports" / "2021"
    assert (document["verdict"], document["out"], document["version"]) == ("written", str(folder), "1.0.0")
    assert document["reports"] == [
        {"unit": "traffic", "html": str(folder / "traffic.html"), "docx": str(folder / "traffic.docx")}
    ]
    (href,) = LINK.findall((folder / "traffic.html").read_text("utf-8"))
    assert href == "../../compare/2020-2021/index.html#unit-traffic"
    assert (folder / href.partition("#")[0]).resolve() == (outputs / "compare" / "2020-2021" / "index.html").resolve()
    # 2020 has no comparison with 2019: no link.
    assert main(["report", "2020", "--outputs", str(outputs), "--unit", "traffic"]) == 0
    assert LINK.findall((outputs / "reports" / "2020" / "traffic.html").read_text("utf-8")) == []


def test_a_release_named_writes_into_the_current_folder(releases, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(releases[2020]), "--unit", "household"]) == 0
    folder = Path(f"{BUREAU}-2020-1.0.0-reports")
    assert sorted(p.name for p in folder.iterdir()) == ["household.docx", "household.html"]
    assert capsys.readouterr().out.strip().endswith(f"：{folder}")


def test_a_figure_edited_in_the_release_is_refused_and_nothing_written(releases, tmp_path, capsys):
    release = copied(releases, tmp_path)
    table = release / "data" / "proactive_disclosure.csv"
    edited = table.read_text("utf-8").replace("4920735", "4920736")
    assert edited != table.read_text("utf-8")
    table.write_text(edited, "utf-8")
    out = tmp_path / "out"
    assert main(["report", str(release), "--unit", "traffic", "--out", str(out)]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "data/proactive_disclosure.csv" in said and "SHA-256 不符" in said
    assert not out.exists()


def test_a_table_rehashed_in_datapackage_json_is_refused_by_the_manifest(releases, tmp_path, capsys):
    """Editing a figure and its hash in datapackage.json: the manifest, which vouches for datapackage.json
    (and which the signature covers), does not match."""
    release = copied(releases, tmp_path)
    table = release / "data" / "proactive_disclosure.csv"
    table.write_bytes(table.read_bytes().replace(b"4920735", b"4920736"))
    descriptor = json.loads((release / "datapackage.json").read_text("utf-8"))
    resource = next(r for r in descriptor["resources"] if r["name"] == "proactive_disclosure")
    resource["hash"] = "sha256:" + hashlib.sha256(table.read_bytes()).hexdigest()
    (release / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", "utf-8")
    assert main(["report", str(release), "--out", str(tmp_path / "out")]) == 1
    said = capsys.readouterr().err
    assert "datapackage.json 与 MANIFEST.sha256 记录的 SHA-256 不符" in said and not (tmp_path / "out").exists()


def test_a_text_edited_is_refused_when_it_is_read(releases, tmp_path, capsys):
    release = copied(releases, tmp_path)
    with open(release / "report" / "traffic.md", "a", encoding="utf-8") as handle:
        handle.write("\n改动。\n")
    assert main(["report", str(release), "--out", str(tmp_path / "out"), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == "refused" and "report/traffic.md" in document["error"]
    assert not (tmp_path / "out").exists()
    # Another unit's report reads no text of the brigade's.
    assert main(["report", str(release), "--out", str(tmp_path / "out"), "--unit", "household"]) == 0


def test_an_unknown_unit_names_it_and_the_units_there_are(releases, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", str(releases[2020]), "--unit", "traffic", "--unit", "police_dogs", "--out", str(out)]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "没有单位 police_dogs" in said and "traffic" in said and "exit_entry" in said
    assert not out.exists()


def test_no_such_release_is_a_wrong_call(releases, tmp_path, capsys):
    outputs = outputs_of(releases)
    assert main(["report", "2019", "--outputs", str(outputs)]) == 2
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert main(["report", str(tmp_path)]) == 2  # a folder that is no release
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 3 and "2019" in said[0] and "找不到发布包" in said[1] and "datapackage.json" in said[2]


def test_through_the_installed_command(releases, tmp_path):
    called = subprocess.run(
        [sys.executable, "-m", "flows.cli", "report", str(zip_of(releases[2021])), "--unit", "traffic"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert called.returncode == 0, called.stderr
    assert (tmp_path / f"{BUREAU}-2021-1.0.0-reports" / "traffic.docx").is_file()
    assert "traffic" in called.stdout and called.stderr == ""
