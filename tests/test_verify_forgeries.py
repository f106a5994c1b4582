"""`nianbao verify` cannot be fooled: each forged or malformed release an adversary tried fails
verification (exit 1) with a reason naming the problem, never passes and never ends in a traceback;
exit 2 is only for a wrong call. A genuine signed release, as a folder, its `latest` link, its zip or
a zip of its files at the root, still passes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from flows import run
from flows.cli import main
from flows.run import run_year
from tests.conftest import SOURCES
from tests.test_verify import edit_csv, rehash, reseal

VERSION = "1.0.0"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    assert main(["keygen", "--out", str(folder)]) == 0
    return folder / "nianbao-signing.key", folder / "nianbao-signing.pub"


@pytest.fixture(scope="module")
def signed(keys, tmp_path_factory) -> Path:
    """outputs/2020/1.0.0, signed, with 1.0.0.zip and the `latest` link beside it."""
    outcome = run_year(2020, SOURCES, tmp_path_factory.mktemp("unsigned"))
    publication = run.publish_outcome(outcome, tmp_path_factory.mktemp("signed"), key=keys[0])
    assert publication is not None
    return publication.path


@pytest.fixture
def release(signed, tmp_path) -> Path:
    return Path(shutil.copytree(signed, tmp_path / VERSION))


def verdict(path: Path, key: Path, capsys) -> tuple[int, str]:
    code = main(["verify", str(path), "--key", str(key)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- zips ------------------------------------------------------------------------------------------


def entries(zipped: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(zipped) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def write_zip(target: Path, items: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name: writing one is the point
        for info, data in items:
            archive.writestr(info, data)
    return target


def root_of(zipped: Path) -> str:
    """The genuine zip's entries' folder with its slash ("1.0.0/"), or "" when they are at its root:
    the forgeries below are written in either layout, for the release zip is moving to the second."""
    names = zipfile.ZipFile(zipped).namelist()
    return f"{VERSION}/" if all(n.startswith(f"{VERSION}/") for n in names) else ""


def entry(name: str, mode: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2021, 2, 1, 0, 0, 0))
    if mode is not None:
        info.create_system, info.external_attr = 3, mode << 16  # as unix zip stores a file's type
    return info


def added(*items: tuple, first: bool = False):
    """A forgery: the genuine zip with `items` (name, content[, unix mode]) added, before the genuine
    entries when `first`; "{root}" in a name is the genuine entries' folder."""

    def forge(release: Path, zipped: Path, tmp: Path) -> Path:
        genuine = entries(zipped)
        extra = [(entry(name.format(root=root_of(zipped)), *mode), data) for name, data, *mode in items]
        return write_zip(tmp / f"{VERSION}.zip", [*extra, *genuine] if first else [*genuine, *extra])

    return forge


def patched(name: str, offset: int, value: int, size: str = "<I"):
    """A forgery: the genuine zip with a field of `name`'s central directory record rewritten."""

    def forge(release: Path, zipped: Path, tmp: Path) -> Path:
        data, wanted = bytearray(zipped.read_bytes()), name.format(root=root_of(zipped))
        end = data.rfind(b"PK\x05\x06")  # the end of central directory record: where the records start
        count, at = struct.unpack_from("<H", data, end + 10)[0], struct.unpack_from("<I", data, end + 16)[0]
        for _ in range(count):
            lengths = struct.unpack_from("<HHH", data, at + 28)  # name, extra field, comment
            if data[at + 46 : at + 46 + lengths[0]].decode() == wanted:
                struct.pack_into(size, data, at + offset, value)
                break
            at += 46 + sum(lengths)
        else:
            raise AssertionError(f"no {wanted} in the zip")
        (tmp / f"{VERSION}.zip").write_bytes(bytes(data))
        return tmp / f"{VERSION}.zip"

    return forge


def renamed_zip(name: str, root: str | None = VERSION):
    """A forgery: the genuine zip as `name`, its entries under `root/` (or at the zip's root)."""

    def forge(release: Path, zipped: Path, tmp: Path) -> Path:
        items = [(i.filename.removeprefix(root_of(zipped)), data) for i, data in entries(zipped)]
        return write_zip(tmp / name, [(f"{root}/{n}" if root else n, data) for n, data in items])

    return forge


def truncated(release: Path, zipped: Path, tmp: Path) -> Path:
    data = zipped.read_bytes()
    (tmp / f"{VERSION}.zip").write_bytes(data[: len(data) // 2])
    return tmp / f"{VERSION}.zip"


def garbage_zip(release: Path, zipped: Path, tmp: Path) -> Path:
    (tmp / f"{VERSION}.zip").write_bytes(b"this is no zip at all\n" * 100)
    return tmp / f"{VERSION}.zip"


CELLS = "{root}data/cells.csv"
ZIP_FORGERIES = {
    # (forge, what the reason must say)
    "duplicate-entry-forged-first": (added((CELLS, b"forged"), first=True), "data/cells.csv' 同名"),
    "duplicate-entry-forged-last": (added((CELLS, b"forged")), "data/cells.csv' 同名"),
    "case-colliding-entry": (added(("{root}data/CELLS.csv", b"x")), "仅大小写或 Unicode 写法不同"),
    "nfc-colliding-entries": (
        added(("{root}report/caf\u00e9.md", b"a"), ("{root}report/cafe\u0301.md", b"b")),
        "仅大小写或 Unicode 写法不同",
    ),
    "symlink-entry": (added(("{root}report/x.md", b"/etc/passwd", stat.S_IFLNK | 0o777)), "report/x.md 是符号链接"),
    "fifo-entry": (added(("{root}report/x.md", b"", stat.S_IFIFO | 0o644)), "report/x.md 是管道"),
    "absolute-entry": (added(("/tmp/nianbao-evil.txt", b"x")), "含有指向包外的路径"),
    "backslash-climbing-entry": (added(("{root}..\\..\\evil.txt", b"x")), "含有指向包外的路径"),
    "file-and-folder-entry": (added(("{root}data/cells.csv/x", b"x")), "data/cells.csv 既是文件又是目录"),
    "encrypted-entry": (patched(CELLS, 8, 0x1, "<H"), "data/cells.csv 已加密"),
    "zip-bomb-by-declared-size": (patched(CELLS, 24, 3 << 30), "超过上限"),
    "zip-bomb-lying-about-its-size": (patched(CELLS, 24, 10), "不是完整可读的 zip"),
    "truncated-zip": (truncated, "不是完整可读的 zip"),
    "garbage-named-zip": (garbage_zip, "不是完整可读的 zip"),
    "empty-zip": (lambda r, z, tmp: write_zip(tmp / f"{VERSION}.zip", []), "发布包中没有 datapackage.json"),
    "older-zip-renamed-newer": (lambda r, z, tmp: Path(shutil.copy(z, tmp / "1.1.0.zip")), "zip 文件名 1.1.0"),
    "older-zip-renamed-newer-root-too": (renamed_zip("1.1.0.zip", "1.1.0"), "zip 中的根目录 1.1.0"),
    "older-zip-at-root-renamed-newer": (renamed_zip("1.1.0.zip", None), "zip 文件名 1.1.0"),
    "zip-root-folder-renamed": (renamed_zip(f"{VERSION}.zip", "1.1.0"), "zip 中的根目录 1.1.0"),
}


@pytest.mark.parametrize("case", sorted(ZIP_FORGERIES))
def test_a_forged_zip_fails(case, signed, keys, tmp_path, capsys):
    forge, reason = ZIP_FORGERIES[case]
    path = forge(signed, signed.parent / f"{VERSION}.zip", tmp_path)
    code, out = verdict(path, keys[1], capsys)
    assert code == 1, out
    assert reason in out, out
    assert not (tmp_path.parent / "nianbao-evil.txt").exists() and not Path("/tmp/nianbao-evil.txt").exists()


# --- folders -----------------------------------------------------------------------------------------


def descriptor_edit(edit):
    """A forgery: datapackage.json changed by `edit(descriptor, release)`."""

    def forge(release: Path, tmp: Path) -> Path:
        path = release / "datapackage.json"
        descriptor = json.loads(path.read_text("utf-8"))
        edit(descriptor, release)
        path.write_text(json.dumps(descriptor, ensure_ascii=False), "utf-8")
        return release

    return forge


def resource(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def secret(release: Path) -> Path:
    """A file of the auditor's, beside the release: no check may read it, or print its hash."""
    path = release.parent / "secret.txt"
    path.write_text("the auditor's own file\n")
    return path


def pointing_outside(key: str, absolute: bool = False):
    def edit(descriptor: dict, release: Path) -> None:
        target = secret(release)
        resource(descriptor, "report-html")[key] = str(target) if absolute else f"../{target.name}"
        resource(descriptor, "report-html")["hash"] = "sha256:" + hashlib.sha256(target.read_bytes()).hexdigest()

    return descriptor_edit(edit)


def write(relative: str, content: bytes | str):
    def forge(release: Path, tmp: Path) -> Path:
        target = release / relative
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        return release

    return forge


def replaced(relative: str, old: str, new: str):
    def forge(release: Path, tmp: Path) -> Path:
        edit_csv(release / relative, old, new)
        return release

    return forge


def into_folder(relative: str):
    """A forgery: the file replaced by a folder of the same name."""

    def forge(release: Path, tmp: Path) -> Path:
        (release / relative).unlink()
        (release / relative).mkdir()
        return release

    return forge


def removed(relative: str):
    def forge(release: Path, tmp: Path) -> Path:
        (release / relative).unlink()
        return release

    return forge


def symlinked_folder(release: Path, tmp: Path) -> Path:
    """submissions/ moved out and linked back, a workbook more in it: the manifest sees the same files."""
    elsewhere = Path(shutil.move(release / "submissions", tmp / "elsewhere"))
    (elsewhere / "hidden.xlsx").write_bytes(b"not in the manifest")
    (release / "submissions").symlink_to(elsewhere, target_is_directory=True)
    return release


def symlinked_file(release: Path, tmp: Path) -> Path:
    outside = Path(shutil.move(release / "data" / "cells.csv", tmp / "cells.csv"))
    (release / "data" / "cells.csv").symlink_to(outside)
    return release


def fifo(release: Path, tmp: Path) -> Path:
    os.mkfifo(release / "data" / "pipe.csv")  # reading it would hang verify
    return release


def renamed_folder(release: Path, tmp: Path) -> Path:
    return Path(shutil.move(release, tmp / "1.1.0"))


def linked_as_newer(release: Path, tmp: Path) -> Path:
    (tmp / "1.1.0").symlink_to(release, target_is_directory=True)
    return tmp / "1.1.0"


def tables_emptied(release: Path, tmp: Path) -> Path:
    for name in ("proactive_disclosure", "applications", "review_litigation"):
        path = release / "data" / f"{name}.csv"
        path.write_text(path.read_text("utf-8").splitlines(keepends=True)[0], "utf-8")
    return release


def manifest_naming(line: str):
    def forge(release: Path, tmp: Path) -> Path:
        secret(release)
        with open(release / "MANIFEST.sha256", "a", encoding="utf-8") as handle:
            handle.write(line)
        return release

    return forge


def manifest_starting_with(line: str):
    def forge(release: Path, tmp: Path) -> Path:
        manifest = release / "MANIFEST.sha256"
        manifest.write_bytes(line.encode() + manifest.read_bytes())
        return release

    return forge


def duplicate_resource_name(descriptor: dict, release: Path) -> None:
    resource(descriptor, "report-docx")["name"] = "report-html"


def unknown_table_cell(release: Path, tmp: Path) -> Path:
    edit_csv(
        release / "data" / "cells.csv",
        "traffic,proactive_disclosure,licensing,previous_items,25,25",
        "traffic,no_such_table,licensing,previous_items,25,25",
    )
    rehash(release, "data/cells.csv")
    reseal(release)
    return release


FOLDER_FORGERIES = {
    # a signed release that hides or redirects files
    "older-folder-renamed-newer": (renamed_folder, "目录名 1.1.0 与 datapackage.json 的版本 1.0.0 不符"),
    "older-folder-linked-as-newer": (linked_as_newer, "目录名 1.1.0 与 datapackage.json 的版本 1.0.0 不符"),
    "symlinked-folder": (symlinked_folder, "submissions 是符号链接"),
    "symlinked-file": (symlinked_file, "data/cells.csv 是符号链接"),
    "fifo": (fifo, "data/pipe.csv 是管道"),
    "resource-path-climbing-out": (pointing_outside("path"), "资源 report-html 的 path ../secret.txt 指向发布包之外"),
    "resource-path-absolute": (pointing_outside("path", absolute=True), "指向发布包之外"),
    "schema-path-climbing-out": (pointing_outside("schema"), "资源 report-html 的 schema ../secret.txt 指向发布包之外"),
    "dialect-path-absolute": (pointing_outside("dialect", absolute=True), "资源 report-html 的 dialect"),
    "table-redirected": (
        descriptor_edit(lambda d, r: resource(d, "cells").update(path="data/changes.csv")),
        "资源 cells 应为 data/cells.csv",
    ),
    "submission-climbing-out": (
        replaced("data/submissions.csv", ",submissions/traffic.xlsx,", ",../secret.txt,"),
        "submissions.csv 中 traffic 的文件 ../secret.txt 指向发布包之外",
    ),
    "manifest-naming-outside": (manifest_naming(f"{'0' * 64}  ../secret.txt\n"), "MANIFEST.sha256 中的 ../secret.txt"),
    "package-level-frictionless-error": (
        descriptor_edit(duplicate_resource_name),
        "frictionless 核验了 0 个资源，datapackage.json 列出 13 个",
    ),
    "package-level-frictionless-error-named": (descriptor_edit(duplicate_resource_name), "names of the resources"),
    # malformed: each a failed verification with its reason, never a traceback
    "no-datapackage": (removed("datapackage.json"), "发布包中没有 datapackage.json"),
    "datapackage-is-a-folder": (into_folder("datapackage.json"), "发布包中没有 datapackage.json（它是一个目录）"),
    "datapackage-invalid-json": (write("datapackage.json", "{"), "datapackage.json 不是有效的 JSON"),
    "datapackage-nested-too-deep": (write("datapackage.json", "[" * 100_000), "datapackage.json 不是有效的 JSON"),
    "datapackage-not-utf8": (write("datapackage.json", b'{"name": "\xff"}'), "datapackage.json 不是有效的 JSON"),
    "datapackage-a-list": (write("datapackage.json", "[]"), "datapackage.json 应为一个 JSON 对象"),
    "resources-not-a-list": (descriptor_edit(lambda d, r: d.update(resources="data")), "resources 应为非空"),
    "resources-empty": (descriptor_edit(lambda d, r: d.update(resources=[])), "resources 应为非空"),
    "resource-not-an-object": (descriptor_edit(lambda d, r: d["resources"].append(7)), "resources 应为非空"),
    "resource-without-path": (
        descriptor_edit(lambda d, r: resource(d, "report-html").pop("path")),
        "资源 report-html 没有 path",
    ),
    "resource-path-a-list": (
        descriptor_edit(lambda d, r: resource(d, "report-html").update(path=["a", "b"])),
        "资源 report-html 的 path 应为发布包内文件的相对路径",
    ),
    "no-nianbao-block": (descriptor_edit(lambda d, r: d.pop("nianbao")), "nianbao 应含整数 year 与字符串 bureau"),
    "unknown-edition": (
        descriptor_edit(lambda d, r: d["nianbao"].update(edition="1999")),
        "nianbao.edition '1999' 不是已知的格式版本",
    ),
    "resource-without-hash": (
        descriptor_edit(lambda d, r: resource(d, "report-html").pop("hash")),
        "report/yuanjiang-psb-example.html：datapackage.json 中没有 sha256 哈希",
    ),
    "csv-missing-a-column": (
        replaced("data/cells.csv", "unit_id,table,row,column,value,", "unit_id,table,row,column,amount,"),
        "data/cells.csv 缺少列 value",
    ),
    "csv-row-with-extra-fields": (
        replaced("data/submissions.csv", "submissions/traffic.xlsx,", "submissions/traffic.xlsx,extra,"),
        "data/submissions.csv 第 5 行的列数与表头不符",
    ),
    "table-missing-a-column": (replaced("data/applications.csv", ",total\n", "\n"), "KeyError: 'total'"),
    "table-not-utf8": (write("data/review_litigation.csv", b"unit_id\n\xff\xfe\n"), "UnicodeDecodeError"),
    "tables-empty": (tables_emptied, "已发布的表格中没有任何单位的行"),
    "cell-of-no-table": (
        unknown_table_cell,
        "traffic 的单元格 no_such_table/licensing/previous_items 不在 2019 版格式中",
    ),
    "cell-value-not-a-number": (
        replaced(
            "data/cells.csv",
            "traffic,proactive_disclosure,licensing,previous_items,25,",
            "traffic,proactive_disclosure,licensing,previous_items,x,",
        ),
        "的值 'x' 不是数字",
    ),
    "no-manifest": (removed("MANIFEST.sha256"), "发布包中没有 MANIFEST.sha256"),
    "manifest-is-a-folder": (into_folder("MANIFEST.sha256"), "发布包中没有 MANIFEST.sha256"),
    "manifest-line-malformed": (manifest_starting_with("not a manifest line\n"), "MANIFEST.sha256 第 1 行格式有误"),
    "manifest-not-utf8": (write("MANIFEST.sha256", b"\xff\xfe"), "MANIFEST.sha256 不可用"),
    "signature-garbage": (write("MANIFEST.sha256.sig", "not base64!\n"), "MANIFEST.sha256.sig 与 MANIFEST.sha256 不符"),
}


@pytest.mark.parametrize("case", sorted(FOLDER_FORGERIES))
def test_a_forged_or_malformed_folder_fails(case, release, keys, tmp_path, capsys):
    forge, reason = FOLDER_FORGERIES[case]
    path = forge(release, tmp_path)
    code, out = verdict(path, keys[1], capsys)
    assert code == 1, out
    assert reason in out, out
    assert "Traceback" not in out
    if (tmp_path / "secret.txt").exists():  # the auditor's file is neither hashed nor shown
        assert hashlib.sha256((tmp_path / "secret.txt").read_bytes()).hexdigest() not in out


def test_a_symlinked_folder_is_refused_before_anything_reads_it(release, keys, tmp_path):
    from flows.release.verify import verify

    results = verify(symlinked_folder(release, tmp_path), keys[1])
    assert [(r.name, r.passed) for r in results] == [
        ("发布包自成一体：只有普通文件与目录、没有重名，datapackage.json 可读且只引用包内的文件", False)
    ]


def test_a_frictionless_report_that_validated_no_resource_fails(release, keys, monkeypatch, capsys):
    """frictionless reports an empty package valid: a report covering fewer resources than the
    descriptor lists (however frictionless came to skip them) is no pass."""
    import frictionless

    real = frictionless.validate
    monkeypatch.setattr(frictionless, "validate", lambda source, **options: real({"name": "x", "resources": []}))
    code, out = verdict(release, keys[1], capsys)
    assert code == 1 and "frictionless 核验了 0 个资源，datapackage.json 列出 13 个" in out, out


def test_a_zip_of_too_many_entries_is_refused(signed, keys, monkeypatch, capsys):
    monkeypatch.setattr("flows.release.untrusted.MAX_ENTRIES", 10)
    code, out = verdict(signed.parent / f"{VERSION}.zip", keys[1], capsys)
    assert code == 1 and "个条目，超过上限 10" in out, out


# --- nothing remote --------------------------------------------------------------------------------


@pytest.fixture
def listener():
    """A TCP port on this machine that counts who connects: no release may make verify call it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def connections(server: socket.socket) -> int:
    """Connections made to `server` (the kernel completes them in its backlog, accepted or not)."""
    count = 0
    while True:
        try:
            server.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


@pytest.fixture
def no_sockets(monkeypatch) -> list:
    """Every connection and name lookup attempted, whatever the library."""
    attempts: list = []
    original_connect, original_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        attempts.append(address)
        return original_connect(self, address)

    def lookup(host, *args, **kwargs):
        attempts.append(host)
        return original_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return attempts


REMOTE = {
    "resource-path": lambda d, url: resource(d, "findings").update(path=f"{url}/findings.csv"),
    "resource-schema": lambda d, url: resource(d, "findings").update(schema=f"{url}/schema.json"),
    "resource-dialect": lambda d, url: resource(d, "findings").update(dialect=f"{url}/dialect.json"),
    "resource-profile": lambda d, url: resource(d, "findings").update(profile=f"{url}/profile.json"),
    "package-profile": lambda d, url: d.update(profile=f"{url}/profile.json"),
}


@pytest.mark.parametrize("where", sorted(REMOTE))
def test_a_url_in_the_descriptor_is_refused_and_never_fetched(where, release, keys, listener, no_sockets, capsys):
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    descriptor_edit(lambda d, r: REMOTE[where](d, url))(release, release.parent)
    code, out = verdict(release, keys[1], capsys)
    assert code == 1 and f"指向网络地址 {url}/" in out, out
    assert connections(listener) == 0 and no_sockets == []


def test_frictionless_cannot_reach_the_network_while_verifying(listener, tmp_path):
    """The second wall, behind the descriptor check: inside `offline()` (which wraps all of verify),
    frictionless is refused the connection a URL would make, and nothing reaches the listener."""
    import frictionless

    from flows.release.untrusted import offline

    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    (tmp_path / "datapackage.json").write_text(
        json.dumps({"name": "p", "resources": [{"name": "r", "path": f"{url}/r.csv", "schema": f"{url}/s.json"}]})
    )
    with offline():
        report = frictionless.validate(str(tmp_path / "datapackage.json"))
        with pytest.raises(OSError, match="核验不访问网络"):
            socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=1)
    assert not report.valid and "核验不访问网络" in json.dumps(report.to_descriptor(), ensure_ascii=False)
    assert connections(listener) == 0
    socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=1).close()  # outside: allowed
    assert connections(listener) == 1


# --- genuine, and wrong calls ------------------------------------------------------------------------


def at_root(signed: Path, tmp: Path) -> Path:
    """The zip layout a later release will have: the files at the zip's root."""
    return renamed_zip(f"{VERSION}.zip", None)(signed, signed.parent / f"{VERSION}.zip", tmp)


GENUINE = {
    "folder": lambda signed, tmp: signed,
    "latest-link": lambda signed, tmp: signed.parent / "latest",
    "zip": lambda signed, tmp: signed.parent / f"{VERSION}.zip",
    "zip-at-root": at_root,
}


@pytest.mark.parametrize("form", sorted(GENUINE))
def test_a_genuine_signed_release_passes(form, signed, keys, tmp_path, no_sockets, capsys):
    code, out = verdict(GENUINE[form](signed, tmp_path), keys[1], capsys)
    assert code == 0, out
    assert "通过  签名由 nianbao-signing.pub 对应的私钥签署" in out
    assert "通过  目录名（或 zip 名及其根目录）与 datapackage.json 的版本 1.0.0 一致" in out
    assert "核验结论：全部通过（共 13 项）" in out
    assert no_sockets == []


WRONG_CALLS = {
    "missing-path": (lambda signed, tmp: ["verify", str(tmp / "nowhere")], "找不到"),
    "not-a-release": (lambda signed, tmp: ["verify", str(signed / "README.md")], "既不是发布目录，也不是发布包 zip"),
    "missing-key": (lambda signed, tmp: ["verify", str(signed), "--key", str(tmp / "none.pub")], "找不到公钥文件"),
    "key-no-ed25519-key": (
        lambda signed, tmp: ["verify", str(signed), "--key", str(signed / "README.md")],
        "不是可用的 Ed25519 密钥",
    ),
    "key-no-ed25519-key-for-a-broken-release": (  # said first: the release is not even opened
        lambda signed, tmp: ["verify", str(tmp), "--key", str(signed / "README.md")],
        "不是可用的 Ed25519 密钥",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_CALLS))
def test_a_wrong_call_exits_2(case, signed, tmp_path, capsys):
    argv, reason = WRONG_CALLS[case]
    assert main(argv(signed, tmp_path)) == 2
    assert reason in capsys.readouterr().err
