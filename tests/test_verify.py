"""`nianbao verify`: a release passes as published, and each way of tampering with it is caught
with a message that says what and where."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from flows.cli import main
from flows.release.verify import verify
from flows.run import run_year
from tests.conftest import SOURCES


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return run_year(2020, SOURCES, tmp_path_factory.mktemp("outputs")).release


@pytest.fixture
def release(published, tmp_path) -> Path:
    return Path(shutil.copytree(published, tmp_path / "1.0.0"))


def failed(path) -> dict[str, list[str]]:
    return {c.name: c.problems for c in verify(path) if not c.passed}


def edit_csv(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert text.count(old) >= 1, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def rehash(release: Path, resource_path: str) -> None:
    """What a forger does after editing a file: rewrite its hash and size to match."""
    descriptor = json.loads((release / "datapackage.json").read_text())
    content = (release / resource_path).read_bytes()
    for resource in descriptor["resources"]:
        if resource["path"] == resource_path:
            resource["hash"] = "sha256:" + hashlib.sha256(content).hexdigest()
            resource["bytes"] = len(content)
    (release / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False, indent=2))


def test_a_release_verifies_as_published(published, capsys):
    assert failed(published) == {}
    assert main(["verify", str(published)]) == 0
    assert "核验结论：全部通过（共 12 项）" in capsys.readouterr().out
    assert failed(published.parent / "1.0.0.zip") == {}


def test_an_edited_cell_is_caught_by_hash_and_by_the_sums(release):
    # traffic's 行政许可 上一年项目数量: 25 → 26
    edit_csv(release / "data" / "proactive_disclosure.csv", "traffic,licensing,,,,25,", "traffic,licensing,,,,26,")
    problems = failed(release)
    assert any(
        "data/proactive_disclosure.csv：SHA-256 应为" in p
        for p in problems["文件的 SHA-256 与字节数与 datapackage.json 一致"]
    )
    sums = problems["本机关每个数字等于各部门之和，也等于 cells.csv 中对应各行之和"]
    assert any(p.startswith("表二 行政许可 / 上一年项目数量：本机关") for p in sums)
    assert any(
        "traffic 表二 行政许可 / 上一年项目数量：表格为 26，cells.csv 为 25" in p
        for p in problems["各部门的表格行与 cells.csv 一致"]
    )


def test_a_rewritten_hash_does_not_hide_an_edit(release):
    edit_csv(release / "data" / "applications.csv", "traffic,new,0,0,0,0,0,0,0", "traffic,new,1,0,0,0,0,0,1")
    rehash(release, "data/applications.csv")
    problems = failed(release)
    assert "文件的 SHA-256 与字节数与 datapackage.json 一致" not in problems  # the forger fixed those
    assert any(
        "一、本年新收政府信息公开申请数量 / 自然人" in p
        for p in problems["本机关每个数字等于各部门之和，也等于 cells.csv 中对应各行之和"]
    )
    rules = problems["已发布的表格符合格式的各项规则（已接受的例外除外）"]
    assert any(p.startswith("[traffic] A1") for p in rules)  # 1 new application went nowhere


def test_a_removed_row_is_caught(release):
    path = release / "data" / "review_litigation.csv"
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("household,")), "utf-8")
    rehash(release, "data/review_litigation.csv")
    problems = failed(release)
    assert problems["每张表中每个单位的各行齐全且不重复"] == ["review_litigation.csv：household 缺少其唯一一行"]
    assert any(
        p.startswith("表四 行政复议 总计：本机关")
        for p in problems["本机关每个数字等于各部门之和，也等于 cells.csv 中对应各行之和"]
    )


def test_a_replaced_workbook_is_caught(release):
    shutil.copy(SOURCES / "2020" / "household.xlsx", release / "submissions" / "exit_entry.xlsx")
    problems = failed(release)
    assert any(
        p.startswith("submissions/exit_entry.xlsx（exit_entry）：SHA-256 应为")
        for p in problems["报送文件与 submissions.csv 的 SHA-256 一致"]
    )
    assert any(
        p.startswith("submissions/exit_entry.xlsx 表") and "cells.csv 为" in p
        for p in problems["重新读取报送文件，每个单元格与 cells.csv 一致"]
    )


def test_a_zip_reaching_outside_its_folder_is_refused(tmp_path, capsys):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../outside.txt", "x")
    assert main(["verify", str(evil)]) == 1  # a hostile release fails verification; 2 is for a wrong call
    assert "含有指向包外的路径" in capsys.readouterr().out
    assert not (tmp_path.parent / "outside.txt").exists()


def reseal(release: Path) -> None:
    """What a thorough forger does last: rewrite the manifest to match the edited files."""
    from flows.release.sign import MANIFEST, manifest_bytes

    digests = {
        p.relative_to(release).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in release.rglob("*")
        if p.is_file()
    }
    (release / MANIFEST).write_bytes(manifest_bytes(digests))


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    assert main(["keygen", "--out", str(folder)]) == 0
    return folder / "nianbao-signing.key", folder / "nianbao-signing.pub"


@pytest.fixture(scope="module")
def signed(keys, tmp_path_factory) -> Path:
    from flows import run

    outcome = run_year(2020, SOURCES, tmp_path_factory.mktemp("unsigned"))
    outcome.publication = run.publish_outcome(outcome, tmp_path_factory.mktemp("signed"), key=keys[0])
    return outcome.release


def test_keygen_keeps_the_private_key_private_and_never_overwrites(keys, capsys):
    private, public = keys
    assert oct(private.stat().st_mode & 0o777) == "0o600" and b"PUBLIC KEY" in public.read_bytes()
    assert main(["keygen", "--out", str(private.parent)]) == 2
    assert "已有密钥，不会覆盖" in capsys.readouterr().err


def test_a_signed_release_verifies_with_the_bureaus_key(signed, keys, capsys):
    assert (signed / "MANIFEST.sha256.sig").is_file()
    assert main(["verify", str(signed), "--key", str(keys[1])]) == 0
    assert "通过  签名由 nianbao-signing.pub 对应的私钥签署" in capsys.readouterr().out


def test_an_altered_and_rehashed_release_fails_the_signature(signed, keys, tmp_path):
    release = Path(shutil.copytree(signed, tmp_path / "1.0.0"))
    edit_csv(
        release / "data" / "cells.csv",
        "traffic,proactive_disclosure,licensing,previous_items,25,25",
        "traffic,proactive_disclosure,licensing,previous_items,26,26",
    )
    rehash(release, "data/cells.csv")
    reseal(release)
    problems = {c.name: c.problems for c in verify(release, keys[1]) if not c.passed}
    assert "每个文件与 MANIFEST.sha256 中的哈希一致，没有多出或缺少的文件" not in problems
    assert problems["签名由 nianbao-signing.pub 对应的私钥签署"] == [
        "MANIFEST.sha256.sig 与 MANIFEST.sha256 不符：发布包在签署后被改动，或并非此公钥对应的私钥所签"
    ]


def test_another_key_does_not_verify(signed, tmp_path):
    other = tmp_path / "other"
    assert main(["keygen", "--out", str(other)]) == 0
    problems = {c.name: c.problems for c in verify(signed, other / "nianbao-signing.pub") if not c.passed}
    assert list(problems) == ["签名由 nianbao-signing.pub 对应的私钥签署"]


def test_an_unlisted_file_is_caught(release):
    (release / "submissions" / "extra.xlsx").write_bytes(b"slipped in")
    assert failed(release)["每个文件与 MANIFEST.sha256 中的哈希一致，没有多出或缺少的文件"] == [
        "submissions/extra.xlsx：发布包中有，清单中没有"
    ]


def test_a_release_whose_cells_name_each_files_sha256_still_verifies_and_traces(releases, tmp_path):
    """Releases published before 0.3.0 repeat the file's SHA-256 on each cells.csv row; they stay
    verifiable and traceable. Made here from a release of now, the column put back and every hash
    that covers cells.csv made again, as that version wrote them."""
    import csv
    import io

    from flows.release.sign import MANIFEST, manifest_bytes
    from flows.release.trace import trace

    old = Path(shutil.copytree(releases[2021], tmp_path / "1.0.0"))
    with open(old / "data" / "submissions.csv", encoding="utf-8", newline="") as handle:
        listed = {row["file"]: row["sha256"] for row in csv.DictReader(handle)}
    with open(old / "data" / "cells.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    fields.insert(fields.index("file") + 1, "sha256")
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, "sha256": listed.get(row["file"], "")} for row in rows)
    (old / "data" / "cells.csv").write_text(text.getvalue(), "utf-8")
    descriptor = json.loads((old / "datapackage.json").read_text("utf-8"))
    cells = next(r for r in descriptor["resources"] if r["name"] == "cells")
    names = [f["name"] for f in cells["schema"]["fields"]]
    sha256_field = {"name": "sha256", "type": "string", "title": "文件 SHA-256", "description": "来源文件的 SHA-256"}
    cells["schema"]["fields"].insert(names.index("file") + 1, sha256_field)
    content = (old / "data" / "cells.csv").read_bytes()
    cells["hash"], cells["bytes"] = "sha256:" + hashlib.sha256(content).hexdigest(), len(content)
    (old / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False, indent=2), "utf-8")
    dcat = old / "dcat.jsonld"
    before = hashlib.sha256((releases[2021] / "data" / "cells.csv").read_bytes()).hexdigest()
    assert before in dcat.read_text("utf-8") and content.startswith(b"unit_id,table,row,column,value,raw,file,sha256,")
    dcat.write_text(dcat.read_text("utf-8").replace(before, hashlib.sha256(content).hexdigest()), "utf-8")
    files = {p.relative_to(old).as_posix(): p for p in old.rglob("*") if p.is_file() and p.name != MANIFEST}
    (old / MANIFEST).write_bytes(
        manifest_bytes({n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in files.items()})
    )

    assert [v.name for v in verify(old) if not v.passed] == []
    bottom = trace(old, "applications", "new", "total", "household")[-1]
    assert bottom.file == "submissions/household.xlsx" and bottom.sha256 == listed["submissions/household.xlsx"]
