"""Opening a release nobody vouches for yet, for `nianbao verify`: a folder, or a zip extracted aside.

A release is refused, before any check reads it, when its structure could show the checks other
files than an archiver or a file browser shows (two zip entries of one name, names that collide on
a case-insensitive or Unicode-normalising disk, symlinks, devices and pipes), reach outside it
(absolute names, `..`) or exhaust the auditor's disk or time (a zip bomb). Every path a release names
is confined to it, and verification never touches the network: a release is self-contained, and a
URL in it must not make the auditor's machine call anyone.
"""

from __future__ import annotations

import contextvars
import os
import re
import stat
import sys
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from flows.intake.files import BROKEN_ZIP
from flows.intake.previous import is_version

MAX_UNZIPPED = 2 << 30  # a release zip that inflates beyond this is refused, not extracted
MAX_ENTRIES = 500_000  # a bureau of ten thousand departments ships about 40 000 files
CHUNK = 1 << 20
ENCRYPTED = 0x1  # general purpose flag bit 0: the entry needs a password
READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
DRIVE = re.compile(r"^[A-Za-z]:")
KINDS = {stat.S_IFLNK: "符号链接", stat.S_IFIFO: "管道", stat.S_IFCHR: "字符设备", stat.S_IFBLK: "块设备"}
KINDS[stat.S_IFSOCK] = "套接字"
# What reaching the network raises an audit event for (https://docs.python.org/3/library/audit_events.html):
# a name lookup alone already tells a listener that the release was opened, and where.
NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.sendto",
        "socket.sendmsg",
        "urllib.Request",
    }
)


class Refused(Exception):
    """A release that cannot be verified safely; `problems` says what and where, in Chinese."""

    def __init__(self, problems: list[str]):
        super().__init__("；".join(problems))
        self.problems = problems


class Outside(ValueError):
    """A path named by the release that is not a file of the release; the message says why."""


class NetworkRefused(OSError):
    """Raised into whatever tried to reach the network while a release is verified."""


@dataclass(frozen=True)
class Opened:
    folder: Path  # the release's files: a folder of plain files and folders only
    names: tuple[tuple[str, str], ...]  # (what, name): each must be the release's version


def is_remote(value: str) -> bool:
    """Whether a path names something elsewhere (http:, ftp:, file:, s3:, //host/...): a Windows drive
    (C:) is a local path, and refused as absolute by `inside`."""
    return value.startswith(("//", "\\\\")) or (len(urlparse(value).scheme) > 1 and not DRIVE.match(value))


def inside(folder: Path, relative: object, what: str) -> Path:
    """`folder / relative` when that names a file of the release; Outside (naming `what`) otherwise,
    before anything is read: an absolute path or one climbing out with `..` would make verify hash and
    print files of the auditor's machine."""
    if not isinstance(relative, str) or not relative:
        raise Outside(f"{what} 应为发布包内文件的相对路径，而不是 {relative!r}")
    if is_remote(relative):
        raise Outside(f"{what} 指向网络地址 {relative}：发布包应自成一体，核验不访问网络")
    parts = relative.split("/")
    if relative.startswith("/") or DRIVE.match(relative) or "\\" in relative or ".." in parts or "\0" in relative:
        raise Outside(f"{what} {relative} 指向发布包之外")
    target = folder / relative
    if not target.resolve().is_relative_to(folder.resolve()):
        raise Outside(f"{what} {relative} 指向发布包之外")
    return target


def _collisions(names: Iterable[str], where: str) -> list[str]:
    """Names that one disk or another makes one file: equal, or equal but for case or Unicode form
    (NFC/NFD): extracting them, one overwrites the other, and which one wins depends on the tool."""
    groups = defaultdict(list)
    for name in names:
        groups[unicodedata.normalize("NFC", name.rstrip("/")).casefold()].append(name)
    problems = []
    for same in groups.values():
        if len(same) > 1:
            how = "同名" if len(set(same)) == 1 else "仅大小写或 Unicode 写法不同"
            shown = "、".join(repr(n) for n in same)
            problems.append(f"{where}中的 {shown} {how}：解压或复制时会互相覆盖，不同工具会显示不同的文件")
    return problems


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """What makes one zip entry unsafe to extract or ambiguous to read, or None."""
    name = info.filename
    stripped = name.rstrip("/")
    if name.startswith("/") or DRIVE.match(name) or "\\" in name or ".." in stripped.split("/"):
        return f"{name!r} 含有指向包外的路径"
    if not stripped or any(p in ("", ".") for p in stripped.split("/")) or any(ord(ch) < 32 for ch in name):
        return f"{name!r} 不是规范的文件名"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind in KINDS:
        return f"{name} 是{KINDS[kind]}，发布包中只应有普通文件"
    if info.flag_bits & ENCRYPTED:
        return f"{name} 已加密，无法核验"
    if info.compress_type not in READABLE:
        return f"{name} 的压缩方式（{info.compress_type}）不受支持"
    return None


def _zip_problems(infos: list[zipfile.ZipInfo]) -> list[str]:
    if len(infos) > MAX_ENTRIES:
        return [f"有 {len(infos)} 个条目，超过上限 {MAX_ENTRIES}"]
    problems = [p for p in map(_entry_problem, infos) if p]
    files = [i.filename for i in infos if not i.filename.endswith("/")]
    folders = {i.filename.rstrip("/") for i in infos if i.filename.endswith("/")}
    folders |= {"/".join(f.split("/")[:k]) for f in files for k in range(1, f.count("/") + 1)}
    problems += _collisions([*files, *sorted(folders - set(files))], "zip ")
    problems += [f"{n} 既是文件又是目录" for n in files if n in folders]
    if infos and min(i.header_offset for i in infos) != 0:
        # zipfile reads the last central directory in the file: in a truncated zip, that of a workbook
        # stored in it; a zip behind other data (a self-extractor) is not the release as written either.
        problems.append("不是完整可读的 zip：第一个条目不在文件开头（zip 被截断，或前面另有数据）")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED:
        problems.append(f"解压后共 {total} 字节，超过上限 {MAX_UNZIPPED} 字节（zip 炸弹？），拒绝解压")
    return problems


def _root_folder(names: list[str]) -> str | None:
    """The one folder every entry is under (`1.0.0/…`, as a release zip is written today), or None
    when the files are at the zip's root (the layout a release zip will move to)."""
    tops = {n.split("/", 1)[0] for n in names}
    return tops.pop() if len(tops) == 1 and all("/" in n for n in names) else None


def _extract(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], root: str | None, into: Path) -> None:
    """Each entry written as a new plain file (never over another), at most its stated size."""
    for info in infos:
        name = info.filename.removeprefix(f"{root}/") if root else info.filename
        target = into / name
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(target, "xb") as sink:
            written = 0
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise Refused([f"{info.filename} 解压后超过其声明的 {info.file_size} 字节（zip 炸弹？）"])
                sink.write(chunk)


def claimed_name(path: Path, name: str) -> str:
    """The name the auditor gave (`1.1.0`, `1.1.0.zip`), or the one it links to when that is no version
    (`latest`): renaming or linking an old version as a newer one must not go unnoticed."""
    return name if is_version(name) else Path(path).resolve().name.removesuffix(Path(path).suffix)


def files_of(folder: Path) -> list[str]:
    """Every file of the release (relative, with /); Refused at a symlink, which would let the checks
    read files the release does not hold, or at anything but files and folders (a pipe would hang)."""
    found, problems, pending = [], [], [folder]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as error:
            raise Refused([f"{current.relative_to(folder).as_posix()} 无法读取（{error.strerror}）"]) from None
        for entry in entries:
            relative = Path(entry.path).relative_to(folder).as_posix()
            if entry.is_symlink():
                problems.append(f"{relative} 是符号链接，发布包中只应有普通文件与目录")
            elif entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                found.append(relative)
            else:
                kind = KINDS.get(stat.S_IFMT(entry.stat(follow_symlinks=False).st_mode), "特殊文件")
                problems.append(f"{relative} 是{kind}，发布包中只应有普通文件与目录")
    problems += _collisions(found, "发布包")
    if problems:
        raise Refused(problems)
    return sorted(found)


@contextmanager
def opened(path: Path) -> Iterator[Opened]:
    """The release at `path`, a folder or a zip (extracted aside once every entry is found safe);
    Refused when it is not safe to read."""
    path = Path(path)
    if path.is_dir():
        files_of(path.resolve())
        yield Opened(path.resolve(), (("目录名", claimed_name(path, path.name)),))
        return
    with tempfile.TemporaryDirectory(prefix="nianbao-verify-") as tmp:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                problems = _zip_problems(infos)
                if problems:
                    raise Refused([f"{path.name}：{p}" for p in problems])
                root = _root_folder([i.filename for i in infos])
                _extract(archive, infos, root, Path(tmp))
        except (*BROKEN_ZIP, OSError, RuntimeError, ValueError) as error:
            raise Refused([f"{path.name} 不是完整可读的 zip（{type(error).__name__}: {error}）"]) from None
        names = (("zip 文件名", claimed_name(path, path.stem)),)
        yield Opened(Path(tmp).resolve(), names + ((("zip 中的根目录", root),) if root else ()))


_OFFLINE = contextvars.ContextVar("nianbao_offline", default=False)
_hooked: list[Callable] = []  # an audit hook cannot be removed: it is added once, and acts only inside `offline()`


def _refuse_network(event: str, args: tuple) -> None:
    if event in NETWORK_EVENTS and _OFFLINE.get():
        raise NetworkRefused(f"核验不访问网络（{event}）")


@contextmanager
def offline() -> Iterator[None]:
    """No connection and no name lookup from this thread while inside: whatever library reads the
    release (frictionless fetches remote schemas and data), a URL in it cannot make the auditor's
    machine call out."""
    if not _hooked:
        sys.addaudithook(_refuse_network)
        _hooked.append(_refuse_network)
    token = _OFFLINE.set(True)
    try:
        yield
    finally:
        _OFFLINE.reset(token)
