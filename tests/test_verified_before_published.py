"""Nothing is published that `nianbao verify` would reject: the staged release is verified before
`latest` is switched to it, and a failure leaves the live release as it was, byte for byte."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import pytest

from flows import places
from flows.release import package, verify
from flows.release.sign import keygen
from flows.release.verify import verify_staged
from flows.release.versions import NotVerified
from flows.run import Steps, publish_outcome, run_year
from tests.test_release import bump_figure, snapshot


def published(outputs: Path) -> dict[str, bytes]:
    """Everything a publication makes or changes, by path: `latest` as its target's name."""
    year = places.year_folder(outputs, 2021)
    files = {f"2021/{k}": v for k, v in snapshot(year).items()}
    files["2021/latest -> "] = os.readlink(year / places.LATEST).encode()
    return files | {name: (outputs / name).read_bytes() for name in (places.CATALOG, places.CATALOG_DCAT)}


def refused_correction(sources: Path, outputs: Path, corrupt) -> str:
    """A first version published, then a correction whose release `corrupt()` breaks: the refusal."""
    first = run_year(2021, sources, outputs).publication
    assert first is not None and first.version == "1.0.0"
    before = published(outputs)
    bump_figure(sources)
    corrupt()
    with pytest.raises(NotVerified) as refused:
        run_year(2021, sources, outputs)
    assert published(outputs) == before  # `latest`, the live version, its zip and the catalog
    leftovers = [p.name for p in places.year_folder(outputs, 2021).iterdir() if p.name.startswith((".", "1.1"))]
    assert leftovers == []  # the staged folder and zip are removed
    message = str(refused.value)
    assert "\n" not in message and message.startswith("未发布 1.1.0，latest 未改动：发布前核验未通过")
    return message


def without_licence(monkeypatch):
    """What a bureau.yaml without a licence made before it was checked: `licenses: []`."""
    descriptor = package._descriptor

    def built(*args):
        return descriptor(*args) | {"licenses": []}

    monkeypatch.setattr(package, "_descriptor", built)


def test_a_release_that_breaks_the_profile_is_not_published(sources_copy, tmp_path, monkeypatch):
    message = refused_correction(sources_copy, tmp_path / "outputs", lambda: without_licence(monkeypatch))
    assert "「datapackage.json 符合 Data Package v2 规范」：licenses" in message and "licenses" in message


def test_a_table_that_breaks_its_table_schema_is_not_published(sources_copy, tmp_path, monkeypatch):
    table_lines = package.table_lines

    def with_a_word_for_a_figure(layout, report):
        lines = table_lines(layout, report)
        if layout.code == "applications":
            lines = lines.replace("\n", "三\n", 1)  # the last figure of the unit's first row
        return lines

    corrupt = lambda: monkeypatch.setattr(package, "table_lines", with_a_word_for_a_figure)  # noqa: E731
    message = refused_correction(sources_copy, tmp_path / "outputs", corrupt)
    assert (
        "「各表格（cells 除外）符合其 Table Schema（frictionless）」：applications 第 2 行" in message
        and "applications 第 2 行" in message
    )


def test_a_first_release_that_fails_leaves_nothing(sources_copy, tmp_path, monkeypatch):
    without_licence(monkeypatch)
    outputs = tmp_path / "outputs"
    with pytest.raises(NotVerified, match=r"未发布 1\.0\.0"):
        run_year(2021, sources_copy, outputs)
    assert list(places.year_folder(outputs, 2021).iterdir()) == []


def test_what_is_verified_before_publishing_passes_on_a_signed_release(sources_copy, tmp_path):
    private, public = keygen(tmp_path / "keys")
    release = run_year(2021, sources_copy, tmp_path / "outputs", key=private).release
    assert release is not None
    staged = verify_staged(release, private)
    assert [v.passed for v in staged] == [True] * 4 and "签名" in staged[-1].name
    assert all(v.passed for v in verify.verify(release, public))  # and so does everything `nianbao verify` checks


def test_the_tables_are_validated_alike_in_worker_processes(sources_copy, tmp_path, monkeypatch):
    """A large bureau's tables are validated by its run's worker processes (flows/flow.py's
    _chunked_map), each large table alone and the small ones together, each share in a package of
    its own: the same verdict, the same words as all of them in one package, in this process."""
    from flows.flow import _chunked_map

    release = run_year(2021, sources_copy, tmp_path / "outputs").release
    assert release is not None
    staged = tmp_path / "staged"
    shutil.copytree(release, staged)
    for name in ("applications", "review_litigation"):  # 6,018 and 521 bytes
        table = staged / f"data/{name}.csv"
        lines = table.read_text("utf-8").split("\n")
        table.write_text("\n".join([lines[0], lines[1] + "三", *lines[2:]]), "utf-8")  # a word for a figure
    alone = verify_staged(staged)
    monkeypatch.setattr(verify, "ALONE_BYTES", 1000)  # applications, proactive_disclosure, findings alone
    shares: list[list[str]] = []

    def shared_out(function, *iterables):
        items = [list(i) for i in iterables]
        shares.extend(items[-1])  # the tables' names, a list a share
        return _chunked_map(pool, function, *items)

    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        pooled = verify_staged(staged, None, shared_out)
    assert shares[:3] == [["applications"], ["proactive_disclosure"], ["findings"]] and len(shares) == 4
    assert sorted(shares[3]) == ["changes", "exceptions", "reports", "review_litigation", "submissions", "units"]
    assert [(v.name, v.problems) for v in pooled] == [(v.name, v.problems) for v in alone]
    assert [v.passed for v in pooled] == [True, True, False]
    said = [p.split("：")[0] for p in pooled[2].problems]  # the word, then the file's hash and size
    assert said == [
        "applications 第 2 行",
        *["applications"] * 2,
        "review_litigation 第 2 行",
        *["review_litigation"] * 2,
    ]


def test_the_large_tables_are_validated_while_the_rest_is_written(sources_copy, tmp_path, monkeypatch):
    """A large table is handed to the workers as soon as it and units.csv (what its foreign key
    refers to) are written, before the release's descriptor is, and is not validated again at the
    end; a word for a figure there stops the publication all the same, in the same words."""
    monkeypatch.setattr(verify, "ALONE_BYTES", 1000)  # of the tables written first: applications, proactive_disclosure
    handed: list[tuple[list[str], bool]] = []

    def eager(function, *iterables):  # as a process pool's map does: every item handed on at once
        items = [list(i) for i in iterables]
        if function is verify._tables_report:
            described = (Path(items[0][0]) / "datapackage.json").exists() if items[0] else None
            handed.extend((names, described) for names in items[-1])
        return iter([function(*arguments) for arguments in zip(*items, strict=True)])

    def publishing(outcome, outputs, reason, key):
        return publish_outcome(outcome, outputs, reason, key, eager)

    outcome = run_year(2021, sources_copy, tmp_path / "outputs", steps=Steps(publish=publishing))
    assert outcome.release is not None
    assert [names for names, described in handed if not described] == [["applications"], ["proactive_disclosure"]]
    at_the_end = sorted(name for names, described in handed if described for name in names)
    assert at_the_end == ["changes", "exceptions", "findings", "reports", "review_litigation", "submissions", "units"]

    table_lines = package.table_lines

    def with_a_word_for_a_figure(layout, report):
        lines = table_lines(layout, report)
        return lines.replace("\n", "三\n", 1) if layout.code == "applications" else lines

    monkeypatch.setattr(package, "table_lines", with_a_word_for_a_figure)
    with pytest.raises(
        NotVerified, match="「各表格（cells 除外）符合其 Table Schema（frictionless）」：applications 第 2 行"
    ):
        run_year(2021, sources_copy, tmp_path / "refused", steps=Steps(publish=publishing))


def test_a_table_described_otherwise_than_when_it_was_validated_is_validated_again(sources_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(verify, "ALONE_BYTES", 1000)
    release = run_year(2021, sources_copy, tmp_path / "outputs").release
    assert release is not None
    descriptor = json.loads((release / "datapackage.json").read_text("utf-8"))
    written = [r for r in descriptor["resources"] if r["name"] in ("applications", "units")]
    written[0] = {**written[0], "schema": {**written[0]["schema"], "primaryKey": ["unit_id"]}}  # not as published
    validated: list[list[str]] = []

    def recorded(function, *iterables):
        validated.extend(iterables[-1])
        return map(function, *iterables)

    started = verify.start_validating(release, {"$schema": descriptor["$schema"], "resources": written}, recorded)
    assert validated == [["applications"]]
    assert next(iter(started.reports))[0]["valid"] is False  # unit_id repeats, row by row
    started = verify.start_validating(release, {"$schema": descriptor["$schema"], "resources": written}, recorded)
    staged = verify_staged(release, None, recorded, started)
    assert [v.passed for v in staged] == [True, True, True]  # validated again, as described
    assert validated[2:4] == [["applications"], ["proactive_disclosure"]]


def test_a_worker_process_that_ends_is_no_verdict_on_the_release(sources_copy, tmp_path, monkeypatch):
    release = run_year(2021, sources_copy, tmp_path / "outputs").release
    assert release is not None
    monkeypatch.setattr(verify, "ALONE_BYTES", 0)  # every table alone, by `map`

    def ended(*_):
        raise BrokenProcessPool("a worker process ended")

    with pytest.raises(BrokenProcessPool):  # the run stops saying so (flows/cli.py), not "not verified"
        verify_staged(release, None, ended)
