"""Levels above a bureau (docs/rollup.md): a parent bureau takes its child bureaus' published
releases as its submissions, verifies each before merging it, refuses one that fails (its E4) while
its siblings merge, publishes a release that `nianbao verify` passes, and `trace` follows a figure
from the top level down to the department's workbook cell."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from flows.intake.bureau import load_bureau
from flows.intake.previous import load_release
from flows.release.sign import keygen
from flows.release.trace import BrokenChain, TraceError, lines, trace
from flows.release.verify import verify
from flows.run import run_year
from flows.synth import SYNTHETIC_TEXT, write_synthetic_bureau

YEAR = 2021
LICENCE = [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}]


def bureau_release(
    root: Path,
    unit: str,
    seed: int,
    key: Path | None = None,
    year: int = YEAR,
    errors: int = 0,
    nil: bool = False,
    tweak=None,
) -> Path:
    """A bureau of two synthetic departments, published (signed with `key`): its release's zip.
    `nil`: the second department files a nil return instead of its workbook; `tweak(path, year)`
    edits the first one's."""
    sources = root / f"sources-{unit}-{year}"
    injected = write_synthetic_bureau(sources, year, 2, seed=seed, errors=errors)
    if tweak is not None:
        tweak(sources / str(year) / "d00001.xlsx", year)
    if nil:
        (sources / str(year) / "d00002.xlsx").unlink()
        entry = {"unit": "d00002", "reason": "本年度无政府信息公开工作", "filed_by": "李某", "date": "2022-01-05"}
        (sources / str(year) / "nil_returns.yaml").write_text(yaml.safe_dump([entry], allow_unicode=True), "utf-8")
    spec = yaml.safe_load((sources / "bureau.yaml").read_text("utf-8"))
    spec.update(id=unit, name=f"{unit} 局")
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    if injected:  # the department's error accepted: its bureau's E1 is carried up with it
        entries = [
            {
                "rule": rule,
                "unit": e["unit"],
                "reason": "已核实：合成数据的已知错误",
                "accepted_by": "王某",
                "date": "2022-01-10",
            }
            for e in injected
            for rule in e["rules"].split()
        ]
        (sources / str(year) / "exceptions.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True), "utf-8")
    outcome = run_year(year, sources, root / f"outputs-{unit}-{year}", key=key)
    assert outcome.release is not None, [f.message for f in outcome.errors]
    return outcome.release.parent / f"{outcome.release.name}.zip"


def parent_sources(
    root: Path, unit: str, level: str, children: dict[str, Path], keys: dict[str, Path] | None = None
) -> Path:
    """A parent bureau whose units are the child bureaus given (id → release zip, copied in as <id>.zip)."""
    sources = root / f"sources-{unit}"
    (sources / str(YEAR)).mkdir(parents=True)
    units = []
    for child, release in children.items():
        entry = {"id": child, "name": f"{child} 局", "kind": "bureau"}
        if keys and child in keys:
            shutil.copy(keys[child], sources / f"{child}.pub")
            entry["public_key"] = f"{child}.pub"
        units.append(entry)
        shutil.copy(release, sources / str(YEAR) / f"{child}.zip")
    spec = {"id": unit, "name": f"{unit} 政府", "level": level, "licenses": LICENCE, "departments": units}
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    (sources / str(YEAR) / "report.md").write_text(SYNTHETIC_TEXT.replace("{year}", str(YEAR)), "utf-8")
    return sources


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("keys")
    return {name: keygen(root / name) for name in ("a", "b", "city")}


@pytest.fixture(scope="module")
def children(tmp_path_factory, keys) -> dict[str, Path]:
    """Three county bureaus' releases: a signed with a's key, b signed with b's, c unsigned."""
    root = tmp_path_factory.mktemp("children")
    return {
        "a": bureau_release(root, "a", 1, keys["a"][0]),
        "b": bureau_release(root, "b", 2, keys["b"][0]),
        "c": bureau_release(root, "c", 3),
    }


def figures(release: Path, unit: str) -> dict[str, np.ndarray]:
    return load_release(release)[1][unit].values


def e4_of(outcome, unit: str) -> list:
    return [f for f in outcome.findings if f.rule == "E4" and f.unit == unit]


def test_a_parent_merges_its_childrens_releases_and_verify_passes_it(tmp_path, children, keys):
    sources = parent_sources(tmp_path, "city", "prefecture", children, {"a": keys["a"][1], "b": keys["b"][1]})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    assert outcome.errors == [] and outcome.release is not None
    published = load_release(outcome.release)[1]
    for table in published["city"].values:
        summed = sum(figures(children[c].parent / children[c].stem, c)[table] for c in children)
        assert (published["city"].values[table] == summed).all()
        for child in children:
            assert (
                published[child].values[table] == figures(children[child].parent / children[child].stem, child)[table]
            ).all()
    assert [v.name for v in verify(outcome.release) if not v.passed] == []
    assert [v.name for v in verify(outcome.release.parent / f"{outcome.release.name}.zip") if not v.passed] == []
    # Each child figure points to the child's release: the zip shipped, its version and manifest.
    with open(outcome.release / "data" / "cells.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["unit_id"] == "a"]
    with zipfile.ZipFile(children["a"]) as archive:
        import hashlib

        manifest = hashlib.sha256(archive.read("MANIFEST.sha256")).hexdigest()
    assert {(r["file"], r["release_version"], r["release_manifest_sha256"], r["sheet"]) for r in rows} == {
        ("submissions/a.zip", "1.0.0", manifest, "")
    }
    assert (outcome.release / "submissions" / "a.zip").read_bytes() == children["a"].read_bytes()
    assert "下级机关（a、b、c）的数字取自其已发布的发布包" in (outcome.release / "README.md").read_text("utf-8")
    with open(outcome.release / "data" / "units.csv", encoding="utf-8") as handle:
        assert {r["unit_id"]: r["level"] for r in csv.DictReader(handle)} == {
            "city": "prefecture",
            "a": "county",
            "b": "county",
            "c": "county",
        }


def tampered(release: Path, target: Path) -> Path:
    """The release zip with one figure of its bureau's applications row changed by one digit."""
    with zipfile.ZipFile(release) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "data/applications.csv":
                text = data.decode("utf-8")
                line = next(line for line in text.splitlines() if line.startswith("b,new,"))
                fields = line.split(",")
                fields[2] = str(int(fields[2]) + 1)
                data = text.replace(line, ",".join(fields), 1).encode("utf-8")
            out.writestr(info, data)
    return target


def test_a_tampered_child_is_refused_while_its_siblings_merge(tmp_path, children, keys):
    forged = tampered(children["b"], tmp_path / "b.zip")
    sources = parent_sources(tmp_path, "city", "prefecture", {**children, "b": forged}, {"b": keys["b"][1]})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    (refused,) = e4_of(outcome, "b")
    assert refused.is_error and "下级机关b 局（b）报送的发布包“b.zip”未通过核验" in refused.message
    assert (
        "data/applications.csv：SHA-256 应为" in refused.message
        and "data/applications.csv：SHA-256 与清单不符" in refused.message
    )
    assert outcome.release is None and outcome.errors == [refused]
    merged = outcome.merged
    assert merged is not None and [d.unit for d in merged.departments] == ["a", "c"]
    expected = (
        figures(children["a"].parent / "1.0.0", "a")["applications"]
        + figures(children["c"].parent / "1.0.0", "c")["applications"]
    )
    assert (merged.bureau.values["applications"] == expected).all()


def test_an_unsigned_child_is_refused_where_bureau_yaml_gives_its_key(tmp_path, children, keys):
    sources = parent_sources(tmp_path, "city", "prefecture", children, {"c": keys["city"][1]})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    (refused,) = e4_of(outcome, "c")
    assert "没有签名" in refused.message
    assert [d.unit for d in outcome.merged.departments] == ["a", "b"]


def test_a_child_signed_with_another_key_is_refused(tmp_path, children, keys):
    sources = parent_sources(tmp_path, "city", "prefecture", children, {"a": keys["b"][1]})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    (refused,) = e4_of(outcome, "a")
    assert "并非此公钥对应的私钥所签" in refused.message


def test_a_child_release_of_another_year_or_unit_is_refused(tmp_path, children):
    last_year = bureau_release(tmp_path, "a", 1, year=YEAR - 1)
    sources = parent_sources(tmp_path, "city", "prefecture", {**children, "a": last_year, "b": children["c"]})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    (other_year,) = e4_of(outcome, "a")
    assert f"它是 a 的 {YEAR - 1} 年度发布包，应为 a 的 {YEAR} 年度" in other_year.message
    (other_unit,) = e4_of(outcome, "b")
    assert f"它是 c 的 {YEAR} 年度发布包，应为 b 的 {YEAR} 年度" in other_unit.message
    assert [d.unit for d in outcome.merged.departments] == ["c"]


def test_a_workbook_for_a_child_or_a_zip_for_a_department_is_said(tmp_path, children):
    sources = parent_sources(tmp_path, "city", "prefecture", {"a": children["a"]})
    spec = yaml.safe_load((sources / "bureau.yaml").read_text("utf-8"))
    spec["departments"] += [{"id": "b", "name": "b 局", "kind": "bureau"}, {"id": "d", "name": "某部门"}]
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    (sources / str(YEAR) / "b.xlsx").write_bytes(b"not read")
    shutil.copy(children["c"], sources / str(YEAR) / "d.zip")
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    e5 = {f.unit: f.message for f in outcome.findings if f.rule == "E5"}
    assert "下级机关应报送 nianbao run 生成的发布包 b.zip（或其目录 b/）" in e5["b"]
    assert "部门应报送工作簿 d.xlsx" in e5["d"]
    assert {f.unit for f in outcome.findings if f.rule == "E4"} == {"b", "d"}


def test_a_child_release_folder_is_taken_as_its_zip(tmp_path, children):
    folder = tmp_path / "a-folder"
    with zipfile.ZipFile(children["a"]) as archive:
        archive.extractall(folder)
    sources = parent_sources(tmp_path, "city", "prefecture", {"b": children["b"]})
    spec = yaml.safe_load((sources / "bureau.yaml").read_text("utf-8"))
    spec["departments"].append({"id": "a", "name": "a 局", "kind": "bureau"})
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    shutil.copytree(folder, sources / str(YEAR) / "a")
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    assert outcome.errors == [] and outcome.release is not None
    assert zipfile.is_zipfile(outcome.release / "submissions" / "a.zip")
    assert [v.name for v in verify(outcome.release) if not v.passed] == []


def test_a_public_key_for_a_department_or_a_missing_key_file_is_a_configuration_error(tmp_path, children):
    from flows.intake.bureau import BureauConfigError

    sources = parent_sources(tmp_path, "city", "prefecture", {"a": children["a"]})
    spec = yaml.safe_load((sources / "bureau.yaml").read_text("utf-8"))
    spec["departments"][0]["public_key"] = "missing.pub"
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    with pytest.raises(BureauConfigError, match=r"找不到下级机关的公钥文件 missing\.pub"):
        load_bureau(sources)
    spec["departments"][0]["kind"] = "department"
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    with pytest.raises(BureauConfigError, match="public_key 只用于下级机关"):
        load_bureau(sources)


@pytest.fixture(scope="module")
def province(tmp_path_factory, children, keys) -> Path:
    """Three levels: counties a and b → city (signed) → province; the province's release."""
    root = tmp_path_factory.mktemp("province")
    city_sources = parent_sources(root, "city", "prefecture", {"a": children["a"], "b": children["b"]})
    city = run_year(YEAR, city_sources, root / "outputs-city", key=keys["city"][0])
    assert city.release is not None
    city_zip = city.release.parent / f"{city.release.name}.zip"
    other = bureau_release(root, "town", 9)
    sources = parent_sources(root, "province", "province", {"city": city_zip, "town": other}, {"city": keys["city"][1]})
    outcome = run_year(YEAR, sources, root / "outputs-province")
    assert outcome.errors == [] and outcome.release is not None
    return outcome.release


def test_verify_passes_a_province_and_follows_it_down_to_the_workbooks(province):
    assert [v.name for v in verify(province) if not v.passed] == []


def test_trace_follows_a_province_figure_to_a_departments_workbook_cell(province, children):
    hops = trace(province, "applications", "new", "total", "city/b/d00002")
    assert [(h.unit, h.level) for h in hops] == [
        ("province", "province"),
        ("city", "prefecture"),
        ("b", "county"),
        ("d00002", "department"),
    ]
    assert [h.version for h in hops[:3]] == ["1.0.0"] * 3 and all(len(h.manifest_sha256 or "") == 64 for h in hops[:3])
    bottom = hops[-1]
    assert (bottom.file, bottom.sheet) == ("submissions/d00002.xlsx", "三、依申请公开")
    # Each hop's value is the figure its level publishes: the county's, the department's as typed.
    b = load_release(children["b"].parent / "1.0.0")[1]
    layout = b["b"].edition.tables["applications"]
    at = (layout.row_index["new"], layout.column_index["total"])
    assert hops[2].value == str(b["b"].values["applications"][at]) and bottom.value == str(
        b["d00002"].values["applications"][at]
    )
    assert bottom.raw == bottom.value
    # The same workbook cell holds that figure.
    with zipfile.ZipFile(children["b"]) as archive:
        from openpyxl import load_workbook

        workbook = archive.read("submissions/d00002.xlsx")
        sheet = load_workbook(io.BytesIO(workbook))[bottom.sheet]
        assert str(sheet[bottom.cell].value) == bottom.value
    assert bottom.sha256 == hashlib.sha256(workbook).hexdigest()
    assert trace(province.parent / "1.0.0.zip", "applications", "new", "total", "city/b/d00002") == hops
    shown = lines(hops)
    assert (
        shown[0]
        == f"1. province（province）：{hops[0].value}    发布包 1.0.0，MANIFEST.sha256 的 SHA-256 {hops[0].manifest_sha256}"
    )
    assert shown[3].startswith(f"4. d00002（department）：{bottom.value}    submissions/d00002.xlsx（SHA-256 ")
    assert shown[3].endswith(f"三、依申请公开!{bottom.cell}，填写“{bottom.raw}”")


def test_trace_says_where_the_chain_breaks(province, tmp_path):
    copy = shutil.copytree(province, tmp_path / "1.0.0")
    inner = copy / "submissions" / "city.zip"
    inner.write_bytes(inner.read_bytes() + b"\0")
    with pytest.raises(
        BrokenChain, match=re.escape("1.0.0 的 submissions/city.zip 的 SHA-256 与 submissions.csv 不符：追溯链在此断开")
    ):
        trace(copy, "applications", "new", "total", "city/b/d00002")
    listed = copy / "data" / "submissions.csv"
    listed.write_text(
        "".join(line for line in listed.read_text("utf-8").splitlines(True) if "city.zip" not in line), "utf-8"
    )
    with pytest.raises(
        BrokenChain, match=re.escape("1.0.0 的 submissions.csv 中没有 submissions/city.zip：追溯链在此断开")
    ):
        trace(copy, "applications", "new", "total", "city/b/d00002")
    with pytest.raises(TraceError, match="没有单位 nobody"):
        trace(province, "applications", "new", "total", "nobody")


def test_trace_asks_which_unit_when_a_figure_is_a_sum_or_a_unit_is_in_several_places(province):
    with pytest.raises(TraceError, match="2 个单位之和（city、town）：请用 --unit"):
        trace(province, "applications", "new", "total")
    with pytest.raises(TraceError, match="单位 d00001 出现在多处：city/a/d00001、city/b/d00001、town/d00001"):
        trace(province, "applications", "new", "total", "d00001")
    assert [h.unit for h in trace(province, "review_litigation", "", "review_total", "b")] == ["province", "city", "b"]


def test_a_childs_accepted_exception_travels_to_the_parent(tmp_path, children):
    flawed = bureau_release(tmp_path, "e", 5, errors=1)
    sources = parent_sources(tmp_path, "city", "prefecture", {"a": children["a"], "e": flawed})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    assert outcome.errors == [] and outcome.release is not None
    from_child = [a for a in outcome.accepted if a.finding.unit == "e"]
    assert from_child and all(
        a.reason.startswith("下级机关 e 的发布包 1.0.0 已接受（exceptions.csv，E1）") for a in from_child
    )
    with open(outcome.release / "data" / "exceptions.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["unit_id"] for r in rows} == {"e", "city"}
    assert all("e" in r["reason"] for r in rows)
    assert [v.name for v in verify(outcome.release) if not v.passed] == []


def test_a_nil_return_below_is_said_at_every_level_above_and_traced(tmp_path, children):
    county = bureau_release(tmp_path, "n", 7, nil=True)
    city_sources = parent_sources(tmp_path, "city", "prefecture", {"a": children["a"], "n": county})
    city = run_year(YEAR, city_sources, tmp_path / "outputs-city")
    assert city.errors == [] and city.release is not None
    assert [(f.unit, f.actual, f.severity) for f in city.findings if f.rule == "E7"] == [("n", "n/d00002", "warning")]
    city_zip = city.release.parent / f"{city.release.name}.zip"
    sources = parent_sources(tmp_path, "province", "province", {"city": city_zip})
    province = run_year(YEAR, sources, tmp_path / "outputs-province")
    assert province.errors == [] and province.release is not None
    (said,) = [f for f in province.findings if f.rule == "E7"]
    assert said.unit == "city" and said.actual == "city/n/d00002" and "city/n/d00002 报送的是零报告" in said.message
    with open(province.release / "data" / "findings.csv", encoding="utf-8") as handle:
        assert [r["actual"] for r in csv.DictReader(handle) if r["rule"] == "E7"] == ["city/n/d00002"]
    bottom = trace(province.release, "applications", "new", "total", said.actual)[-1]
    assert (bottom.unit, bottom.value, bottom.file, bottom.sheet) == (
        "d00002",
        "0",
        "submissions/nil_returns.yaml",
        None,
    )


def test_a_rerun_verifies_only_the_child_that_republished(tmp_path, children, monkeypatch):
    import flows.run

    sources = parent_sources(tmp_path, "city", "prefecture", children)
    outputs = tmp_path / "outputs"
    first = run_year(YEAR, sources, outputs)
    assert first.release is not None
    verified: list[str] = []
    real = flows.run.check_child
    monkeypatch.setattr(flows.run, "check_child", lambda path, *args: verified.append(path.name) or real(path, *args))
    again = run_year(YEAR, sources, outputs)
    assert verified == [] and again.release == first.release  # nothing changed: nothing verified, nothing published
    republished = bureau_release(tmp_path, "b", 20)  # b's figures corrected
    shutil.copy(republished, sources / str(YEAR) / "b.zip")
    corrected = run_year(YEAR, sources, outputs)
    assert verified == ["b.zip"] and corrected.release is not None and corrected.release.name == "1.1.0"
    b = load_release(republished.parent / "1.0.0")[1]["b"]
    assert (load_release(corrected.release)[1]["b"].values["applications"] == b.values["applications"]).all()
    assert [v.name for v in verify(corrected.release) if not v.passed] == []


def rules_and_large_fees(path: Path, year: int) -> None:
    """One 规章 issued (C3 at county level) and fees of 30,000 万元: large for a department (C4),
    not for a county."""
    from flows.documents.template import write_workbook
    from flows.intake.workbook import read_workbook

    report, _ = read_workbook(path, year, "d00001")
    layout, values = report.edition.tables["proactive_disclosure"], report.values["proactive_disclosure"]
    values[layout.row_index["rules"], layout.column_index["issued"]] = 1
    values[layout.row_index["rules"], layout.column_index["in_force"]] += 1
    fees = layout.column_index["amount_10k_yuan"]
    values[layout.row_index["fees"], fees] = 30000 * 10 ** layout.columns[fees].decimals
    write_workbook(path, report.edition, year, report)


def test_a_childs_figures_are_checked_at_the_childs_level(tmp_path, children):
    county = bureau_release(tmp_path, "f", 4, tweak=rules_and_large_fees)
    sources = parent_sources(tmp_path, "city", "prefecture", {"a": children["a"], "f": county})
    outcome = run_year(YEAR, sources, tmp_path / "outputs")
    assert outcome.release is not None
    on_f = {f.rule: f for f in outcome.findings if f.unit == "f"}
    assert "C3" in on_f and "县级机关无权制定规章" in on_f["C3"].message  # a county's bureau makes no 规章
    assert "C4" not in on_f  # 30,000 万元 is within a county body's scale, though not a department's
    assert not [f for f in outcome.findings if f.rule in ("C3", "C4") and f.unit == "city"]


def test_a_childs_figures_are_held_to_its_own_in_the_parents_release_of_last_year(tmp_path):
    """D1–D4 at a parent, for a child: its figures against the child's own figures in the parent's
    live release of last year (not the child's releases), D0 when the parent has none."""
    sources, outputs = tmp_path / "sources-city", tmp_path / "outputs"
    spec = {"id": "city", "name": "市政府", "level": "prefecture", "licenses": LICENCE}
    spec["departments"] = [{"id": "a", "name": "a 局", "kind": "bureau"}]
    (sources / "2020").mkdir(parents=True)
    (sources / "bureau.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    outcomes = {}
    for year in (2020, 2021):
        (sources / str(year)).mkdir(exist_ok=True)
        shutil.copy(bureau_release(tmp_path, "a", seed=year, year=year), sources / str(year) / "a.zip")
        (sources / str(year) / "report.md").write_text(SYNTHETIC_TEXT.replace("{year}", str(year)), "utf-8")
        outcomes[year] = run_year(year, sources, outputs)
    assert outcomes[2020].release is not None and "D0" in {f.rule for f in outcomes[2020].findings if f.unit == "a"}
    last = load_release(outcomes[2020].release)[1]["a"]  # a's figures as the city published them
    now = next(c.report for c in outcomes[2021].checked if c.unit == "a")
    this, before = now.edition.tables["applications"], last.edition.tables["applications"]
    differ = {
        column.code: str(
            int(last.values["applications"][before.row_index["carried_over"], before.column_index[column.code]])
        )
        for c, column in enumerate(this.columns)
        if now.values["applications"][this.row_index["carried_in"], c]
        != last.values["applications"][before.row_index["carried_over"], before.column_index[column.code]]
    }
    on_a = [f for f in outcomes[2021].findings if f.unit == "a"]
    assert differ and "D0" not in {f.rule for f in on_a}
    assert {f.column: f.expected for f in on_a if f.rule == "D1"} == differ


def test_verify_refuses_a_parent_whose_child_release_was_swapped(tmp_path, children):
    """A forger replaces a child's release inside the parent's and fixes the hashes the parent lists:
    the child's own verification, inside the parent's, still fails."""
    import json

    sources = parent_sources(tmp_path, "city", "prefecture", children)
    release = run_year(YEAR, sources, tmp_path / "outputs").release
    forged = shutil.copytree(release, tmp_path / "forged" / release.name)
    swapped = tampered(children["b"], tmp_path / "b.zip").read_bytes()
    old, new = (
        hashlib.sha256((forged / "submissions" / "b.zip").read_bytes()).hexdigest(),
        hashlib.sha256(swapped).hexdigest(),
    )
    (forged / "submissions" / "b.zip").write_bytes(swapped)
    listed = forged / "data" / "submissions.csv"
    listed.write_text(listed.read_text("utf-8").replace(old, new), "utf-8")
    descriptor = json.loads((forged / "datapackage.json").read_text("utf-8"))
    for resource in descriptor["resources"]:
        content = (forged / resource["path"]).read_bytes()
        resource["hash"], resource["bytes"] = "sha256:" + hashlib.sha256(content).hexdigest(), len(content)
    (forged / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False), "utf-8")
    failed = {v.name: v.problems for v in verify(forged) if not v.passed}
    nested = [p for name, problems in failed.items() if name.startswith("重新读取报送文件") for p in problems]
    assert nested and all(p.startswith("submissions/b.zip（b）：") for p in nested)
    assert (
        "submissions/b.zip（b）：每个文件与 MANIFEST.sha256 中的哈希一致，没有多出或缺少的文件：data/applications.csv：SHA-256 与清单不符"
        in nested
    )
