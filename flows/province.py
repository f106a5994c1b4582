"""A tree of bureaus — departments, counties, cities, a province — made synthetic and built level by
level: each bureau's release, signed with its own key, is its parent's submission.

A tree is a folder holding one sources folder per bureau (`<tree>/<bureau id>/`, with its
bureau.yaml), the bureaus' private keys (`<tree>/keys/<bureau id>.key`, never inside a sources
folder) and, once built, their outputs (`<tree>/outputs/<bureau id>/`). A parent's bureau.yaml lists
its children as units of kind `bureau`, each with the public key the parent checks it with, kept in
the parent's own sources (`keys/<child id>.pub`). Which bureau is the root, and the order of the
build, follow from the bureau.yaml files alone.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flows import places
from flows.release.sign import public_pem, write_private_key

# The levels of a tree, top down, as `--levels` names them, and each one's bureau.yaml `level`.
LEVELS = {
    "province": "province",
    "city": "prefecture",
    "prefecture": "prefecture",
    "county": "county",
    "township": "township",
}
ORDER = ("province", "prefecture", "county", "township")
LEVEL_NAMES = {"province": "省", "prefecture": "市", "county": "县", "township": "乡镇"}
KEYS, OUTPUTS = "keys", "outputs"


class TreeError(Exception):
    """A tree that cannot be made or built; the message says what and where, in one line."""


def parse_levels(text: str) -> list[tuple[str, int]]:
    """`city:14,county:10,department:70` → [("prefecture", 14), ("county", 10), ("department", 70)]:
    each level's bureau.yaml level (department last) and how many units each parent has."""
    levels: list[tuple[str, int]] = []
    for part in text.split(","):
        name, sep, count = part.strip().partition(":")
        level = "department" if name == "department" else LEVELS.get(name)
        if not sep or level is None or not count.strip().isdigit() or int(count) < 1:
            raise TreeError(
                f"--levels 中的“{part.strip()}”应写作 层级:个数（层级为 city、county、township 或 department，个数至少为 1），"
                "如 city:14,county:10,department:70"
            )
        levels.append((level, int(count)))
    names = [level for level, _ in levels]
    if names[-1] != "department" or names.count("department") != 1:
        raise TreeError("--levels 的最后一层必须是 department（部门），且只能有一层")
    bureaus = names[:-1]
    if [ORDER.index(b) for b in bureaus] != sorted({ORDER.index(b) for b in bureaus}) or "province" in bureaus:
        raise TreeError("--levels 的各层须自上而下（city、county、township），不重复，不含 province（省为根）")
    return levels


def root_level(levels: list[tuple[str, int]]) -> str:
    """The level above the first listed: a province above cities, a city above counties …"""
    first = levels[0][0]
    return ORDER[ORDER.index(first) - 1] if first != "department" else "county"


@dataclass(frozen=True)
class Planned:
    id: str
    name: str
    level: str
    children: tuple[str, ...]  # bureau ids, or department ids for a bureau of departments
    departments: bool  # whether its children are departments (workbooks)


def plan(levels: list[tuple[str, int]]) -> list[Planned]:
    """Every bureau of the tree, the root first; ids say the path from the root (p, p-c01, p-c01-x03)."""
    letters = {"prefecture": "c", "county": "x", "township": "t"}
    bureaus: list[Planned] = []

    def add(id: str, name: str, level: str, depth: int) -> None:
        below, count = levels[depth]
        if below == "department":
            children = tuple(f"d{i:05d}" for i in range(1, count + 1))  # as synth.synthetic_files names them
            bureaus.append(Planned(id, name, level, children, True))
            return
        ids = tuple(f"{id}-{letters[below]}{i:02d}" for i in range(1, count + 1))
        bureaus.append(Planned(id, name, level, ids, False))
        for i, child in enumerate(ids, start=1):
            add(child, f"{name}第{i}{LEVEL_NAMES[below]}", below, depth + 1)

    add("p", "合成示例" + LEVEL_NAMES[root_level(levels)], root_level(levels), 0)
    return bureaus


def signing_key(seed: int, bureau: str) -> Ed25519PrivateKey:
    """A bureau's key, the same for the same seed: a synthetic tree is made again byte for byte."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"nianbao-synth:{seed}:{bureau}".encode()).digest())


def _write_keys(tree: Path, bureau: Planned, parent: Path | None, seed: int) -> None:
    key = signing_key(seed, bureau.id)
    (tree / KEYS).mkdir(parents=True, exist_ok=True)
    write_private_key(key, tree / KEYS / f"{bureau.id}.key", overwrite=True)
    # beside the private key, for anyone verifying the bureau's releases; and in the parent's
    # sources, which checks the child's release with it
    for folder in (tree / KEYS, *((parent / KEYS,) if parent is not None else ())):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{bureau.id}.pub").write_bytes(public_pem(key))


def write_synthetic_tree(
    out: Path, year: int, levels: list[tuple[str, int]], seed: int = 0, errors: int = 0, workers: int = 1
) -> list[dict]:
    """A deterministic tree of bureaus in `out`; `errors` departments across it (at most one a
    department) get one known error each, returned and written to out/errors-<year>.csv with the
    bureau, the cell and the rules. The bureaus of departments are written by `workers` processes
    (each from a seed of its own: the same tree whatever their number)."""
    import csv
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import numpy as np

    from flows.synth import write_synthetic_bureau

    out = Path(out)
    bureaus = plan(levels)
    names = {b.id: b.name for b in bureaus}
    parents = {child: b for b in bureaus if not b.departments for child in b.children}
    leaves = [b for b in bureaus if b.departments]
    # The known errors spread over the tree, drawn from the seed: how many land in each leaf bureau.
    rng = np.random.default_rng(seed)
    per_leaf = np.bincount(rng.choice(len(leaves), size=errors), minlength=len(leaves)) if errors else None
    jobs: list[tuple] = []
    for bureau in bureaus:
        parent = parents.get(bureau.id)
        _write_keys(out, bureau, out / parent.id if parent else None, seed)
        head = {"id": bureau.id, "name": bureau.name, "level": bureau.level}
        if bureau.departments:
            leaf = len(jobs)
            wrong = int(per_leaf[leaf]) if per_leaf is not None else 0
            jobs.append((out / bureau.id, year, len(bureau.children), seed * 100_003 + leaf, wrong, head, None, False))
        else:
            children = [
                {"id": c, "name": names[c], "kind": "bureau", "public_key": f"{KEYS}/{c}.pub"} for c in bureau.children
            ]
            write_synthetic_bureau(out / bureau.id, year, 0, seed, 0, head=head, errors_file=False, units=children)
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            found = list(pool.map(_write_leaf, jobs))
    else:
        found = [_write_leaf(job) for job in jobs]
    injected = [{"bureau": leaf.id, **entry} for leaf, entries in zip(leaves, found, strict=True) for entry in entries]
    with open(out / f"errors-{year}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["bureau", "unit", "sheet", "cell", "row", "column", "rules"])
        writer.writeheader()
        writer.writerows(injected)
    return injected


def _write_leaf(job: tuple) -> list[dict]:
    from flows.synth import write_synthetic_bureau

    return write_synthetic_bureau(*job)


# -- building ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    id: str
    sources: Path
    children: tuple[str, ...]  # its child bureaus' ids


def load_tree(tree: Path) -> tuple[Node, dict[str, Node]]:
    """The root and every bureau of a tree, read from their bureau.yaml files."""
    from flows.intake.bureau import BureauConfigError, load_bureau

    nodes: dict[str, Node] = {}
    for bureau_file in sorted(Path(tree).glob("*/bureau.yaml")):
        try:
            bureau = load_bureau(bureau_file.parent)
        except BureauConfigError as error:
            raise TreeError(str(error)) from None
        if bureau.id != bureau_file.parent.name:
            raise TreeError(f"{bureau_file}：本机关代码 {bureau.id} 与所在目录名 {bureau_file.parent.name} 不同")
        children = tuple(d.id for d in bureau.departments if d.is_bureau)
        nodes[bureau.id] = Node(bureau.id, bureau_file.parent, children)
    if not nodes:
        raise TreeError(f"{tree} 中没有机关（应有 <机关代码>/bureau.yaml）")
    parents: dict[str, str] = {}
    for node in nodes.values():
        for child in node.children:
            if child in parents:
                raise TreeError(
                    f"下级机关 {child} 同时列在 {parents[child]} 与 {node.id} 之下：每个机关只向一个上级报送"
                )
            parents[child] = node.id
    listed = set(parents)
    missing = sorted(listed - set(nodes))
    if missing:
        raise TreeError(f"{tree} 中缺少下级机关 {'、'.join(missing[:5])} 的目录（<机关代码>/bureau.yaml）")
    roots = sorted(set(nodes) - listed)
    if len(roots) != 1:
        raise TreeError(f"{tree} 应有且只有一个上级机关（根），现有 {len(roots)} 个：{'、'.join(roots[:5])}")
    return nodes[roots[0]], nodes


def build_order(root: Node, nodes: dict[str, Node]) -> list[Node]:
    """Children before parents (depth first), each bureau once; a cycle is refused."""
    order: list[Node] = []
    done: set[str] = set()

    def visit(node: Node, path: tuple[str, ...]) -> None:
        if node.id in path:
            raise TreeError(f"机关之间的上下级关系成环：{' → '.join((*path, node.id))}")
        if node.id in done:
            return
        for child in node.children:
            visit(nodes[child], (*path, node.id))
        done.add(node.id)
        order.append(node)

    visit(root, ())
    apart = sorted(set(nodes) - done)  # each has a parent, yet the root does not reach it: a ring
    if apart:
        raise TreeError(f"机关 {'、'.join(apart[:5])} 互为上下级（成环），不在根机关 {root.id} 之下")
    return order


def handed_up(release: Path, parent_sources: Path, year: int, child: str) -> Path:
    """The child's published zip (of the version folder `release`) copied into its parent's sources
    as `<year>/<child>.zip`, replaced whole (a copy then a rename): the parent never reads half a
    file."""
    target, source = parent_sources / str(year) / f"{child}.zip", release.parent / f"{release.name}.zip"
    # The same bytes are left as they are: the parent records when each submission arrived (its
    # file's time), and a re-run that hands up the same release must not look like a new one.
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copy2(source, partial)  # with the release's own time: when the child published it
    os.replace(partial, target)
    return target


@dataclass(frozen=True)
class Built:
    """What one bureau's run of a tree did, in brief: the version it published or found unchanged
    (None: blocked), the version live now (a blocked correction leaves the last one), its blocking
    errors' messages, and whether it ran at all (not when its inputs were those of its last run)."""

    id: str
    published: str | None
    live: str | None
    errors: tuple[str, ...]
    handed_up: bool  # its live release is now its parent's submission
    ran: bool = True


BUILT = ".rollup-{year}.json"  # in a bureau's outputs: its last run's Built and the inputs it ran on


def inputs_fingerprint(tree: Path, node: Node, year: int, code: str) -> str:
    """The SHA-256 of all a bureau's run depends on: its bureau.yaml, everything under its
    sources' <year>/ and keys/ (its children's releases included), its signing key, last year's
    version live in its outputs, and nianbao's code (`code`)."""
    digest = hashlib.sha256(f"{year}\0{code}\0".encode())
    last = places.latest(Path(tree) / OUTPUTS / node.id, year - 1)
    digest.update(f"{last.resolve().name if last.exists() else ''}\0".encode())
    files = [places.bureau_file(node.sources), Path(tree) / KEYS / f"{node.id}.key"]
    for folder in (places.year_folder(node.sources, year), node.sources / KEYS):
        files += sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    for path in files:
        content = path.read_bytes() if path.is_file() else b"(none)"
        digest.update(f"{path.relative_to(tree).as_posix()}\0".encode() + hashlib.sha256(content).digest())
    return digest.hexdigest()


def _last_built(outputs: Path, year: int, fingerprint: Callable[[], str]) -> Built | None:
    """The last run's Built, if it ran on these very inputs and its live version is still live.
    The inputs are hashed (`fingerprint`) only when there is such a run: not for a bureau never run."""
    try:
        stored = json.loads((outputs / BUILT.format(year=year)).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    live = places.latest(outputs, year)
    if stored.get("live") != (live.resolve().name if live.exists() else None) or stored.get("inputs") != fingerprint():
        return None
    fields = {k: stored[k] for k in ("id", "published", "live", "handed_up")}
    return Built(**fields, errors=tuple(stored["errors"]), ran=False)


def unchanged(tree: Path, root: Node, nodes: dict[str, Node], year: int, code: str = "") -> dict[str, Built]:
    """The bureaus that need not run, found before any runs: each whose inputs are those of its last
    run and whose children all need not run either (so that no child will hand it a new release),
    children first; each one's live release handed to its parent as build_bureau would. After one
    county republishes, 152 of a province's 155 bureaus are answered here, not as a task each."""
    from flows.release.lock import year_lock

    tree = Path(tree)
    parents = {c: node for node in nodes.values() for c in node.children}
    found: dict[str, Built] = {}
    for node in build_order(root, nodes):
        if not all(child in found for child in node.children):
            continue
        outputs = tree / OUTPUTS / node.id
        with year_lock(outputs, year):
            built = _last_built(outputs, year, partial(inputs_fingerprint, tree, node, year, code))
        if built is None:
            continue
        _hand_up(outputs, built, parents.get(node.id), year)
        found[node.id] = built
    return found


def ready_at_once(nodes: dict[str, Node], skipped: Collection[str]) -> int:
    """How many of the bureaus that must run (not `skipped`) can start at once: those with no child
    left to run. After one county republished, one: its path to the root runs a bureau at a time."""
    return sum(node.id not in skipped and all(c in skipped for c in node.children) for node in nodes.values())


def _hand_up(outputs: Path, built: Built, parent: Node | None, year: int) -> None:
    """The bureau's live release, if it has one, handed to its parent, if it has one."""
    if parent is not None and built.live is not None:
        handed_up(places.year_folder(outputs, year) / built.live, parent.sources, year, built.id)


def build_bureau(tree: Path, node: Node, parent: Node | None, year: int, run: Callable, code: str = "") -> Built:
    """One bureau's run for `year`, under its outputs' lock, and its live release handed to its
    parent; not run again when its inputs are those of its last run (`code`: nianbao's, see
    run.code_fingerprint), so that after one county republishes only its path to the root runs.
    `run(year, sources, outputs, key)`: run.run_year, or what stands for it in a test."""
    from flows.release.lock import year_lock
    from flows.release.versions import replace_file

    outputs = Path(tree) / OUTPUTS / node.id
    key = Path(tree) / KEYS / f"{node.id}.key"
    with year_lock(outputs, year):
        fingerprint = inputs_fingerprint(tree, node, year, code)
        built = _last_built(outputs, year, lambda: fingerprint)
        if built is None:
            outcome = run(year, node.sources, outputs, key if key.exists() else None)
            live = places.latest(outputs, year)
            # The version live now: this run's, or the last one when this run was blocked (a blocked
            # correction leaves the published version standing, for the parent as for everyone).
            built = Built(
                node.id,
                outcome.publication.version if outcome.publication else None,
                live.resolve().name if live.exists() else None,
                tuple(f.message for f in outcome.errors),
                parent is not None and live.exists(),
            )
            record = {**asdict(built), "inputs": fingerprint}
            del record["ran"]
            replace_file(outputs / BUILT.format(year=year), json.dumps(record, ensure_ascii=False).encode())
    _hand_up(outputs, built, parent, year)
    return built


def warm_up(year: int, run: Callable) -> None:
    """A synthetic bureau of one department run (`run` as in build_bureau) and published in a
    temporary folder: what a rollup's worker does as it starts. A process's first bureau pays for
    what the next reuses (the Word report's template compiled, frictionless's plugins, pyarrow's
    pandas, the schemas read): a county's run takes 1.3–1.6 s the first time, 0.5 s after. Paid
    while the flow starts and finds the unchanged bureaus, not on the path of those that changed."""
    import tempfile

    from flows.synth import write_synthetic_bureau

    with tempfile.TemporaryDirectory(prefix="nianbao-warm-up-") as folder:
        write_synthetic_bureau(Path(folder) / "sources", year, 1)
        run(year, Path(folder) / "sources", Path(folder) / "outputs", None)


def build_tree(tree: Path, year: int, run: Callable, code: str = "") -> dict[str, Built]:
    """Every bureau's run for `year`, children first, each live release handed to its parent: the
    plain loop (the flow, flows/flow.py's rollup_flow, runs siblings side by side)."""
    tree = Path(tree)
    root, nodes = load_tree(tree)
    parents = {c: node for node in nodes.values() for c in node.children}
    order = build_order(root, nodes)
    return {node.id: build_bureau(tree, node, parents.get(node.id), year, run, code) for node in order}
