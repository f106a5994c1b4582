"""Following a figure down the levels: `nianbao trace RELEASE TABLE ROW COLUMN [--unit ID]`.

A province's figure is the sum of its cities', a city's of its counties', and so on down to the
departments' workbooks (docs/rollup.md). Each level's release carries its child bureaus' releases
byte for byte (submissions/<child>.zip), and its cells.csv points to each (the zip's SHA-256, the
version and the SHA-256 of its MANIFEST.sha256), so the chain is followed from the top release
alone, opening the nested zips in memory: one hop per level, each with its value, down to the
workbook, sheet and cell where a department typed it. Each hop is held to the one above it (the
zip's hash, the manifest's, the figure); a break is a TraceError naming it. Signatures and rules
are `nianbao verify`'s business, not trace's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from flows.release.sign import MANIFEST

# An entry declared larger than this is not read (a zip bomb): as flows/release/untrusted.py bounds verify.
MAX_ENTRY = 2 << 30


class TraceError(Exception):
    """The figure cannot be followed as asked: no such release, cell or unit, or a unit found in
    several places (a wrong call). The message says which, in Chinese."""


class BrokenChain(TraceError):
    """A level does not match the one above it (a child's zip other than its parent's
    submissions.csv hashes, a manifest or figure other than its cells.csv says): the release is not
    what it claims. The message says where."""


@dataclass(frozen=True)
class Hop:
    """One level of the chain. `unit` and its `level` (units.csv: province … department); `value`
    as that level publishes it. A bureau's hop names its release (`version`, `manifest_sha256`: the
    SHA-256 of its MANIFEST.sha256); the bottom hop, a department's, the file in its bureau's
    release (`file`, its `sha256` as submissions.csv gives it), the `sheet` and `cell` it was typed
    in and what was typed (`raw`)."""

    unit: str
    level: str | None
    value: str
    version: str | None = None
    manifest_sha256: str | None = None
    file: str | None = None
    sha256: str | None = None
    sheet: str | None = None
    cell: str | None = None
    raw: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class _Release:
    """A release's files, from its folder or its zip's bytes (files at the root or under <version>/)."""

    def __init__(self, folder: Path | None = None, data: bytes | None = None, name: str = ""):
        self.folder, self.name = folder, name
        self.archive = zipfile.ZipFile(io.BytesIO(data)) if data is not None else None
        self.root = ""
        if self.archive is not None:
            names = set(self.archive.namelist())
            if "datapackage.json" not in names:
                found = [n for n in names if n.endswith("/datapackage.json") and n.count("/") == 1]
                if not found:
                    raise TraceError(f"{name} 不是发布包：没有 datapackage.json")
                self.root = found[0][: -len("datapackage.json")]
        self.descriptor = json.loads(self.read("datapackage.json"))
        self.bureau, self.version = str(self.descriptor["nianbao"]["bureau"]), str(self.descriptor["version"])
        self.manifest_sha256 = hashlib.sha256(self.read(MANIFEST)).hexdigest()
        self.levels = {u["unit_id"]: u["level"] or None for u in self.rows("units")}
        self._submitted: dict[str, str] | None = None

    def read(self, name: str) -> bytes:
        if self.archive is None:
            assert self.folder is not None
            path = self.folder / name
            if not path.is_file():
                raise TraceError(f"{self.name} 中没有 {name}")
            return path.read_bytes()
        try:
            info = self.archive.getinfo(self.root + name)
        except KeyError:
            raise TraceError(f"{self.name} 中没有 {name}") from None
        if info.file_size > MAX_ENTRY:
            raise TraceError(f"{self.name} 中的 {name} 声明为 {info.file_size} 字节，超过上限，未读取")
        return self.archive.read(info)

    def rows(self, table: str) -> list[dict]:
        return list(csv.DictReader(io.StringIO(self.read(f"data/{table}.csv").decode("utf-8"), newline="")))

    def cells(self, table: str, row: str, column: str) -> dict[str, dict]:
        """unit → its cells.csv row at (table, row, column)."""
        return {
            r["unit_id"]: r for r in self.rows("cells") if (r["table"], r["row"], r["column"]) == (table, row, column)
        }

    def submitted_sha256(self, file: str) -> str | None:
        """The SHA-256 submissions.csv gives of a file in submissions/ (None if it lists no such file)."""
        if self._submitted is None:
            self._submitted = {r["file"]: r["sha256"] for r in self.rows("submissions")}
        return self._submitted.get(file)

    def figure(self, unit: str, table: str, row: str, column: str) -> str:
        """A unit's figure as its table publishes it."""
        for r in self.rows(table):
            if r["unit_id"] == unit and r.get("row", "") == row:
                if column not in r:
                    raise TraceError(f"{table} 没有列 {column}")
                return r[column]
        raise TraceError(f"{self.name} 的 {table} 中没有 {unit}" + (f" 的行 {row}" if row else ""))

    def child(self, cell: dict) -> _Release:
        """The child bureau's release a cells row points to, held to that row."""
        data = self.read(cell["file"])
        where = f"{self.name} 的 {cell['file']}"
        listed = self.submitted_sha256(cell["file"])
        if listed is None:
            raise BrokenChain(f"{self.name} 的 submissions.csv 中没有 {cell['file']}：追溯链在此断开")
        if hashlib.sha256(data).hexdigest() != listed:
            raise BrokenChain(f"{where} 的 SHA-256 与 submissions.csv 不符：追溯链在此断开")
        child = _Release(data=data, name=where)
        pinned = (cell.get("release_version"), cell.get("release_manifest_sha256"))
        if (child.bureau, (child.version, child.manifest_sha256)) != (cell["unit_id"], pinned):
            raise BrokenChain(
                f"{where} 不是 cells.csv 所记的 {cell['unit_id']} 发布包（版本 {pinned[0]}）：追溯链在此断开"
            )
        return child


def _open(path: Path) -> _Release:
    path = Path(path)
    if path.is_dir():
        return _Release(folder=path, name=path.name)
    if path.is_file() and zipfile.is_zipfile(path):
        return _Release(data=path.read_bytes(), name=path.name)
    raise TraceError(f"{path} 既不是发布目录，也不是发布包 zip")


def trace(release: Path, table: str, row: str, column: str, unit: str | None = None) -> list[Hop]:
    """The chain of `unit`'s figure at (table, row, column) from `release` down: the release's own
    bureau figure first, then one hop per level, ending at the department's workbook cell (or at
    `unit`'s own release when it is a bureau). `row` is "" in table 四, which has one row. `unit`:
    an id (searched in every level below; one found in several places must be given as a path),
    or a path of ids from the release down, "city/county/d00003". Without it, the release's figure
    must come from a single unit below, else TraceError lists them."""
    try:
        return _trace(Path(release), table, row, column, unit)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:  # a release crafted or broken
        raise TraceError(f"{release} 无法按发布包格式读取（{type(error).__name__}: {error}）") from None


def _trace(release: Path, table: str, row: str, column: str, unit: str | None) -> list[Hop]:
    top = _open(release)
    hops = [Hop(top.bureau, top.levels.get(top.bureau), top.figure(top.bureau, table, row, column),
                top.version, top.manifest_sha256)]  # fmt: skip
    path = _path_to(top, unit, table, row, column)
    current = top
    for step in path:
        cells = current.cells(table, row, column)
        if step not in cells:
            raise TraceError(f"{current.name} 的 cells.csv 中没有 {step} 在 {table}/{row or '—'}/{column} 的数字")
        cell = cells[step]
        if cell.get("release_version"):  # a child bureau: its release, one level down
            child = current.child(cell)
            value = child.figure(step, table, row, column)
            if value != cell["value"]:
                raise BrokenChain(
                    f"{child.name} 中为 {value}，{current.name} 的 cells.csv 为 {cell['value']}：追溯链在此断开"
                )
            hops.append(Hop(step, current.levels.get(step), value, child.version, child.manifest_sha256))
            current = child
        else:  # a department: where its figure was typed
            hops.append(
                Hop(
                    step,
                    current.levels.get(step),
                    cell["value"],
                    file=cell["file"] or None,
                    sha256=current.submitted_sha256(cell["file"]) if cell["file"] else None,
                    sheet=cell["sheet"] or None,
                    cell=cell["cell"] or None,
                    raw=cell["raw"] or None,
                )
            )
    return hops


def _path_to(top: _Release, unit: str | None, table: str, row: str, column: str) -> list[str]:
    """The ids from below `top` down to `unit`."""
    if unit is not None and "/" in unit:
        return [part for part in unit.split("/") if part]
    if unit is None:
        contributing = sorted(top.cells(table, row, column))
        if len(contributing) != 1:
            shown = "、".join(contributing[:10]) + ("……" if len(contributing) > 10 else "")
            raise TraceError(
                f"{top.bureau} 的这个数字是 {len(contributing)} 个单位之和（{shown}）：请用 --unit 指明追溯哪一个"
            )
        unit = contributing[0]
    if unit == top.bureau:
        return []
    found = list(_search(top, unit, table, row, column, []))
    if not found:
        raise TraceError(f"{top.name} 及其各级下级发布包中没有单位 {unit}")
    if len(found) > 1:
        raise TraceError(
            f"单位 {unit} 出现在多处：{'、'.join('/'.join(p) for p in found)}：请用路径指明，如 --unit {'/'.join(found[0])}"
        )
    return found[0]


def _search(release: _Release, unit: str, table: str, row: str, column: str, above: list[str]):
    """Every path of ids from `release` down to `unit`, opening the child releases on the way."""
    for step, cell in sorted(release.cells(table, row, column).items()):
        if step == unit:
            yield [*above, step]
        elif cell.get("release_version"):
            yield from _search(release.child(cell), unit, table, row, column, [*above, step])


def lines(hops: list[Hop]) -> list[str]:
    """The chain as `nianbao trace` prints it, a line per hop, top first: the level's number, the unit
    and its level, the value, and where it is read: a release's version and manifest, or a workbook's
    file, sheet and cell with what was typed."""
    shown = []
    for number, hop in enumerate(hops, start=1):
        head = f"{number}. {hop.unit}（{hop.level or '—'}）：{hop.value}"
        if hop.version is not None:
            shown.append(f"{head}    发布包 {hop.version}，MANIFEST.sha256 的 SHA-256 {hop.manifest_sha256}")
        elif hop.sheet is not None:
            typed = f"，填写“{hop.raw}”" if hop.raw is not None else ""
            shown.append(f"{head}    {hop.file}（SHA-256 {hop.sha256}）{hop.sheet}!{hop.cell}{typed}")
        else:  # a nil return: no sheet, no cell
            shown.append(f"{head}    {hop.file}（SHA-256 {hop.sha256}）：零报告")
    return shown
