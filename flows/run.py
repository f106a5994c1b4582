"""A year's run as plain functions: run_year takes a year from the sources to the published
release, step by step; flows/flow.py runs the same steps as Prefect tasks (Steps)."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from flows import places
from flows.checks.accepted import Accepted, apply_exceptions, carry_up, load_exceptions
from flows.checks.check import Checked, check_report, check_workbook
from flows.checks.published import check_published
from flows.checks.rules import Context, rule_e2, rule_e3
from flows.checks.text import ReportText, check_text
from flows.documents.check_pages import start_department_pages, status_of, write_check_pages
from flows.documents.imported import TEXT_SECTIONS
from flows.format.edition import SCHEMAS, edition_for_year, editions
from flows.format.report import Finding, Report, make_finding
from flows.format.text import sections as section_titles
from flows.intake.bureau import Bureau, BureauConfigError, discover, load_bureau
from flows.intake.kept import Pack, all_kept, changed_since_check, keep_only
from flows.intake.previous import live_release, previous_release, previous_texts, published_year
from flows.intake.workbook import sha256_of
from flows.merge import Merged, merge
from flows.release.child import accepted_in_children, check_child, is_release, release_bytes
from flows.release.untrusted import Refused
from flows.release.versions import Publication, publish


@dataclass
class Inputs:
    """What a run starts from: the bureau, who submitted what, and last year's published reports."""

    year: int
    sources: Path
    bureau: Bureau
    submitted: dict[str, Path]
    findings: list[Finding]  # of discovery: E4, E5
    previous: dict[str, Report]  # unit → its report of year - 1 ({} when none was published)
    previous_texts: dict[str, ReportText] = field(default_factory=dict)  # unit → its text of year - 1
    exceptions: list[dict] = field(default_factory=list)  # exceptions.yaml's entries
    kept: Path | None = None  # where the bytes read are kept for publication (places.checked_copies)
    # Read from the units' reports as published (sources/<year>/published/), not from workbooks:
    # a year before nianbao, published as nianbao would have (back-fill).
    from_published: bool = False
    # Child bureaus' releases (docs/rollup.md): unit → its zip or folder; verified, not read as workbooks.
    children: dict[str, Path] = field(default_factory=dict)


def prepare(sources: Path, outputs: Path, year: int, from_published: bool = False) -> Inputs:
    """Discover the submissions and load last year's release. Raises BureauConfigError or
    PreviousYearError for inputs that cannot be used at all, and NoLiveRelease, before any work,
    when the year's own live version cannot be told. exceptions.yaml is read here too, so that a
    mistake in it is told before any work, in one line."""
    bureau = load_bureau(sources)
    live_release(outputs, year)
    exceptions = load_exceptions(sources, year)
    if from_published:
        submitted, findings = published_submissions(sources, year, bureau)
    else:
        submitted, findings = discover(sources, year, bureau)
    children = {unit: path for unit, path in submitted.items() if is_release(path)}
    submitted = {unit: path for unit, path in submitted.items() if unit not in children}
    previous, texts = previous_release(outputs, year), previous_texts(outputs, year)
    if not previous:  # no release of last year: its reports as published, when sources/ has them
        previous, texts = backfilled(sources, year, bureau)
    return Inputs(
        year,
        Path(sources),
        bureau,
        submitted,
        findings,
        previous,
        texts,
        exceptions,
        places.checked_copies(outputs, year),
        from_published,
        children,
    )


def published_submissions(sources: Path, year: int, bureau: Bureau) -> tuple[dict[str, Path], list[Finding]]:
    """Each department's published report in sources/<year>/published/ (<department id>.<ext>),
    as discover() finds workbooks: E4 for a department without one, E5 for a file that names no
    department or a second one. The bureau's own report is its text (bureau_text), no submission."""
    folder = places.published_reports(sources, year)
    submitted: dict[str, Path] = {}
    findings = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        unit = path.stem
        if not path.is_file() or path.name.startswith((".", "~$")) or unit == bureau.id:
            continue
        if bureau.department(unit) is None or unit in submitted:
            problem = "不对应 bureau.yaml 中的任何部门" if unit not in submitted else f"与“{submitted[unit].name}”重复"
            findings.append(
                make_finding("E5", bureau.id, file=str(path), file_name=path.name, problem=problem, problem_en=problem)
            )
            continue
        submitted[unit] = path
    for department in bureau.departments:
        if department.id not in submitted:
            expected = f"{year}/{places.PUBLISHED}/{department.id}.htm"
            findings.append(make_finding("E4", department.id, unit_name=department.name, year=year, expected=expected))
    return submitted, findings


def backfilled(sources: Path, year: int, bureau: Bureau) -> tuple[dict[str, Report], dict[str, ReportText]]:
    """Last year's reports as published (sources/<year - 1>/published/), so that the rules across
    years run from nianbao's first year. Without the bureau's own report, its figures are the sum
    of its departments' as published (as nianbao would have merged them)."""
    reports, texts = published_year(sources, year - 1)
    departments = [reports[d.id] for d in bureau.departments if d.id in reports]
    if bureau.id not in reports and departments and len({r.edition.code for r in departments}) == 1:
        reports[bureau.id] = merge(bureau.id, departments).bureau
    return reports, texts


def bureau_id(sources: Path) -> str | None:
    """The bureau's id in bureau.yaml, to name and tag a run before it starts; None when bureau.yaml
    cannot be read (prepare then says why)."""
    try:
        return load_bureau(sources).id
    except (BureauConfigError, OSError):
        return None


@dataclass
class Outcome:
    """What a run did: each department's check, every finding, what was accepted, the release."""

    year: int
    bureau: Bureau
    checked: list[Checked]
    findings: list[Finding]  # all of them: discovery, departments, bureau, stale exceptions
    accepted: list[Accepted] = field(default_factory=list)
    texts: dict[str, ReportText] = field(default_factory=dict)  # unit → its report text, filled
    publication: Publication | None = None
    merged: Merged | None = field(default=None, repr=False)

    @property
    def release(self) -> Path | None:
        """The version folder published (or found unchanged), None when blocked."""
        return self.publication.path if self.publication else None

    @property
    def errors(self) -> list[Finding]:
        """The errors that block publication: those not accepted in exceptions.yaml."""
        accepted = {a.finding for a in self.accepted}
        return [f for f in self.findings if f.is_error and f not in accepted]


def _no_previous(unit: str, year: int) -> Finding:
    return make_finding("D0", unit, previous_year=year - 1)


def check_batch(
    batch: list[tuple[str, Path]],
    year: int,
    level: str | None,
    previous: dict[str, Report],
    keep: Path | None = None,
) -> list[Checked]:
    """Read and check a batch of (department id, file) submissions; a nil return is all zeros.
    With `keep` (a folder), the bytes read are kept there, in one pack for the batch: what
    publication ships (flows/intake/kept.py)."""
    checked = []
    with Pack(keep) if keep is not None else nullcontext() as pack:
        for unit, path in batch:
            context = Context(level, previous.get(unit))
            if path.name == places.NIL_RETURNS:
                report = nil_return(path, unit, year, pack)
                result = Checked(path, unit, report, check_report(report, context))
            elif path.parent.name == places.PUBLISHED:  # a back-filled year's report as published
                result, _ = check_published(path, year, unit, context)
            else:
                result = check_workbook(path, year, unit, context, pack)
            if context.previous is None:
                result.findings.append(_no_previous(unit, year))
            checked.append(result)
    return checked


def nil_return(path: Path, unit: str, year: int, keep: Pack | None = None) -> Report:
    """A department's nil return (nil_returns.yaml): its tables all zeros, the file read once for
    its hash and its bytes kept."""
    data = path.read_bytes()
    report = Report.zeros(unit, year, edition_for_year(year), file=str(path), sha256=hashlib.sha256(data).hexdigest())
    if keep is not None:
        keep.add(report, data, path)
    return report


def packs_present(checked: list[Checked]) -> bool:
    """Whether the bytes a batch's checks were read from are still kept: a cached check names packs
    of an earlier run, which may be gone since; then the batch is read again."""
    return all_kept(c.report for c in checked)


def check_batch_pickled(
    batch: list[tuple[str, Path]],
    year: int,
    level: str | None,
    previous: dict[str, Report],
    keep: Path | None = None,
) -> bytes:
    """check_batch's result pickled where it was made (a worker process): it then crosses to the
    flow and into Prefect's cache as one bytes object, not as the batch's hundred thousand cell
    sources one by one in the flow's process, which would make that process the bottleneck."""
    return pickle.dumps(check_batch(batch, year, level, previous, keep), protocol=pickle.HIGHEST_PROTOCOL)


# Departments read and checked per task: Prefect costs about 5 ms a task run, a workbook about 2 ms.
BATCH_SIZE = 200


def warm_up() -> None:
    """The imports and editions a worker process needs for its batches and documents: run once in
    each worker as the pool starts, so that they are not paid at its first batch."""
    from flows.documents import annual_report as render  # noqa: F401 - imported to be paid for now, not used

    editions()


def batches(submitted: dict[str, Path], size: int = BATCH_SIZE) -> list[list[tuple[str, Path]]]:
    """The submissions in batches of about `size`, in order of department id. A batch ends after a
    department whose id hashes to one in `size` (or at twice `size`): cut points that belong
    to the ids, not to positions, so adding or removing a department changes only its own batch,
    and a re-run takes every other batch from the cache (see batch_key)."""
    result, current = [], []
    for unit, path in sorted(submitted.items()):
        current.append((unit, path))
        if int.from_bytes(hashlib.sha256(unit.encode()).digest()[:8], "big") % size == 0 or len(current) >= 2 * size:
            result.append(current)
            current = []
    return [*result, current] if current else result


def previous_of(batch: list[tuple[str, Path]], previous: dict[str, Report]) -> dict[str, Report]:
    """Last year's reports of the batch's departments only: what its checks need, and no more to
    send to the process that checks it."""
    return {unit: previous[unit] for unit, _ in batch if unit in previous}


def batch_key(
    batch: list[tuple[str, Path]],
    year: int,
    level: str | None,
    previous: dict[str, Report],
    keep: Path | None = None,
) -> str:
    """What a batch's check depends on, hashed: each file's path and content (SHA-256), last year's
    figures of its departments, the year, the level, and nianbao's own code and schemas. Equal keys
    give equal findings, so a re-run need not read the files again. And where the bytes read are
    kept (`keep`): a cached result names a pack there (see flow._read_and_check for one gone)."""
    digest = hashlib.sha256(f"{code_fingerprint()}|{year}|{level}|{keep}".encode())
    for unit, path in batch:
        digest.update(f"|{unit}|{path}|{sha256_of(path) if path.is_file() else 'missing'}|".encode())
        if unit in previous:
            digest.update(b"".join(v.tobytes() for _, v in sorted(previous[unit].values.items())))
    return digest.hexdigest()


@cache
def code_fingerprint() -> str:
    """The SHA-256 of nianbao's modules and schemas: a cached check is stale once they change."""
    digest = hashlib.sha256()
    for root in (Path(__file__).parent, SCHEMAS):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def merge_checked(bureau: Bureau, checked: list[Checked]) -> Merged | None:
    """The bureau's report, when every department's tables were read in the year's edition. A child
    bureau whose release was refused (its E4) is left out, as a department that did not submit is:
    its siblings merge without it."""
    checked = [c for c in checked if c.report is not None or not is_release(c.path)]
    reports = [c.report for c in checked if c.report is not None]
    if not reports or len(reports) < len(checked) or len({r.edition.code for r in reports}) > 1:
        return None
    if any(f.rule in ("F1", "F2") for c in checked for f in c.findings):
        return None
    return merge(bureau.id, reports)


def check_bureau(inputs: Inputs, merged: Merged) -> list[Finding]:
    """The bureau's own findings: totals of the merge (E1), across years (D1–D4, E2), E3, and its
    fees at the scale of its level (C4, when bureau.yaml gives one)."""
    findings = list(merged.findings)
    bureau = merged.bureau
    previous = inputs.previous.get(inputs.bureau.id)
    level = inputs.bureau.metadata.get("level")
    if level:
        findings += check_report(bureau, Context(level, previous, unit_level=level), only=("C4",))
    if previous is None:
        findings.append(_no_previous(bureau.unit, inputs.year))
    else:
        findings += check_report(bureau, Context(previous=previous), only=("D1", "D2", "D3", "D4"))
    if inputs.previous:
        last_units = set(inputs.previous) - {inputs.bureau.id}
        findings += rule_e2(bureau, {d.unit for d in merged.departments}, last_units, inputs.year - 1)
    if bureau.edition.code == "2019":
        findings += rule_e3(bureau, merged.departments)
    return findings


def check_texts(inputs: Inputs, merged: Merged) -> tuple[dict[str, ReportText], list[Finding]]:
    """The bureau's report text (report.md, required) and any department's own (<unit>.md)."""
    texts: dict[str, ReportText] = {}
    findings: list[Finding] = []
    if inputs.from_published and not places.report_text(inputs.sources, inputs.year).is_file():
        bureau = bureau_text(inputs, merged.bureau)
        if bureau is not None:
            return bureau
    own = [(d, places.report_text(inputs.sources, inputs.year, d.unit)) for d in merged.departments]
    for report, path in [(merged.bureau, places.report_text(inputs.sources, inputs.year))] + [
        (d, p) for d, p in own if p.is_file()
    ]:
        texts[report.unit], found = check_text(path, report, inputs.previous_texts.get(report.unit))
        findings += found
    return texts, findings


def bureau_text(inputs: Inputs, bureau: Report) -> tuple[dict[str, ReportText], list[Finding]] | None:
    """A back-filled year's report text: the bureau's own published report's sections 一、五、六
    (sources/<year>/published/<bureau id>.<ext>) with the text rules' findings; None without one."""
    folder = places.published_reports(inputs.sources, inputs.year)
    found = sorted(folder.glob(f"{inputs.bureau.id}.*")) if folder.is_dir() else []
    if not found:
        return None
    checked, published = check_published(
        found[0], inputs.year, inputs.bureau.id, Context(), inputs.previous_texts.get(bureau.unit)
    )
    if published is None:
        return {}, checked.findings
    sections = {n: t for n, t in published.text.sections.items() if n in TEXT_SECTIONS}
    # Its figures are the departments' sum (merged); its tables' findings are not the release's.
    text_rules = [f for f in checked.findings if f.rule in ("D6", "W5", "W6", "W7")]
    missing = [
        make_finding(
            "T1", bureau.unit, file=str(found[0]), where=found[0].name, expected=f"{n}、{section_titles()[n]['title']}"
        )
        for n in TEXT_SECTIONS
        if not sections.get(n)
    ]
    return {bureau.unit: ReportText(bureau.unit, found[0], sections)}, missing + text_rules


def settle(inputs: Inputs, checked: list[Checked], merged: Merged | None) -> Outcome:
    """Gather every finding of the run, the report texts, and apply the accepted exceptions: those
    of exceptions.yaml, then the bureau's errors that are the sum of accepted department errors
    (carry_up), which also tells every other bureau error the entry that would accept it."""
    findings = list(inputs.findings)
    texts: dict[str, ReportText] = {}
    for c in checked:
        findings += c.findings
    if merged is not None:
        findings += check_bureau(inputs, merged)
        texts, text_findings = check_texts(inputs, merged)
        findings += text_findings
    path = places.year_folder(inputs.sources, inputs.year) / places.EXCEPTIONS
    accepted, stale = apply_exceptions(findings, inputs.exceptions, path, inputs.bureau.id)
    explicit = {a.finding for a in accepted}  # exceptions.yaml's own word comes first
    accepted += [a for a in accepted_in_children(findings, checked) if a.finding not in explicit]
    findings, carried = carry_up(findings, accepted, inputs.bureau.id)
    return Outcome(inputs.year, inputs.bureau, checked, findings + stale, accepted + carried, texts, merged=merged)


def start_pages(outcome: Outcome, outputs: Path, map=map):
    """The departments' check reports, started in `map`'s workers (see write_pages)."""
    return start_department_pages(outcome, places.checks_folder(outputs, outcome.year), map)


def write_pages(outcome: Outcome, outputs: Path, started=None, map=map) -> Path:
    """Each department's check report (`started` by start_pages, or now by `map`) and the bureau's
    index, blocked or not: outputs/checks/<year>/."""
    return write_check_pages(outcome, places.checks_folder(outputs, outcome.year), map, started)


def status_rows(outcome: Outcome) -> list[dict]:
    """One row per department: its status and counts (the run's verdict, as a table)."""
    names = {d.id: d.name for d in outcome.bureau.departments}
    return [
        {
            "department": names.get(c.unit, c.unit),
            "unit": c.unit,
            "status": status_of(c),
            "errors": c.errors,
            "warnings": c.warnings,
        }
        for c in sorted(outcome.checked, key=lambda c: c.unit)
    ]


def publish_outcome(
    outcome: Outcome, outputs: Path, reason: str | None = None, key: Path | None = None, map=map
) -> Publication | None:
    """Publish a new version in `outputs/<year>/` unless an error blocks it (or nothing changed);
    `map` renders the reports."""
    if outcome.errors or outcome.merged is None:
        return None
    publication = publish(
        outcome.merged,
        outcome.bureau,
        outcome.findings,
        outcome.accepted,
        Path(outputs),
        reason,
        key,
        outcome.texts,
        map,
    )
    return replace(publication, replaced=replaced_since_check(outcome.merged.departments, map))


def replaced_since_check(reports: tuple[Report, ...], map=map) -> tuple[str, ...]:
    """The submitted files (of reports whose bytes were kept) that hold other bytes now than when
    they were checked, or are gone: the release has the checked bytes, and the run says so."""
    jobs = sorted({(r.file, r.sha256) for r in reports if r.kept and r.file and r.sha256 and not Path(r.file).is_dir()})
    folders = [str(r.file) for r in reports if r.file and r.sha256 and Path(r.file).is_dir() and _refolded(r)]
    return tuple(
        file for (file, _), changed in zip(jobs, map(changed_since_check, jobs), strict=True) if changed
    ) + tuple(folders)


def _refolded(report: Report) -> bool:
    """Whether a child bureau's release submitted as a folder holds other files now than when it was
    verified (its zip, made the same way, has another hash)."""
    try:
        return hashlib.sha256(release_bytes(Path(str(report.file)))).hexdigest() != report.sha256
    except (Refused, OSError):
        return True


def check_all(inputs: Inputs) -> list[Checked]:
    """Every submission read and checked, batch by batch, in this process; then the child bureaus'
    releases."""
    level = inputs.bureau.metadata.get("level")
    return [
        c
        for batch in batches(inputs.submitted)
        for c in check_batch(batch, inputs.year, level, inputs.previous, inputs.kept)
    ] + check_children(inputs)


def check_children(inputs: Inputs) -> list[Checked]:
    """Each child bureau's release verified and read (flows/release/child.py), in order of its id;
    its bytes kept as a workbook's are, for publication. A release verified by an earlier run, with
    the same key and last year's figures, and nianbao unchanged, is taken from that run's check
    (child_key): when one child republishes, a re-run verifies that child alone."""
    checked: list[Checked] = []
    fresh: list[tuple[Path, Checked]] = []
    with Pack(inputs.kept) if inputs.kept is not None else nullcontext() as pack:
        for unit, path in sorted(inputs.children.items()):
            child = inputs.bureau.department(unit)
            assert child is not None  # discovery submits only the units of bureau.yaml
            previous = inputs.previous.get(unit)
            cached = _child_cache(inputs, unit, path, child.public_key, previous)
            result = _cached_check(cached)
            if result is None:
                result = check_child(path, inputs.year, unit, child.name, child.public_key, previous, pack)
                if cached is not None:
                    fresh.append((cached, result))
            checked.append(result)
    for cached, result in fresh:  # once the pack is complete: the reports now name where their bytes are
        _store_check(cached, result)
    return checked


CHILD_CHECKS = "children"  # in the year's folder of kept bytes: one folder per child, its last check


def _child_cache(inputs: Inputs, unit: str, path: Path, key: Path | None, previous: Report | None) -> Path | None:
    """Where a child's check is kept, named by child_key; None when the run keeps nothing (no
    `kept` folder) or the release cannot be read (check_child says why)."""
    if inputs.kept is None:
        return None
    try:
        data = release_bytes(path)
    except (Refused, OSError):
        return None
    return inputs.kept / CHILD_CHECKS / unit / f"{child_key(data, inputs.year, key, previous)}.pickle"


def child_key(release: bytes, year: int, key: Path | None, previous: Report | None) -> str:
    """What a child's check depends on, hashed: its release's bytes (which fix its manifest, and so
    every file it holds), the key it must be signed with, last year's figures of it, the year, and
    nianbao's own code and schemas."""
    digest = hashlib.sha256(f"{code_fingerprint()}|{year}|".encode())
    digest.update(hashlib.sha256(release).digest())
    digest.update(key.read_bytes() if key is not None else b"no key")
    if previous is not None:
        digest.update(b"".join(v.tobytes() for _, v in sorted(previous.values.items())))
    return digest.hexdigest()


def _cached_check(path: Path | None) -> Checked | None:
    """A child's check kept by an earlier run, if there is one and the bytes it names are still kept."""
    if path is None or not path.is_file():
        return None
    try:
        checked = pickle.loads(path.read_bytes())
    except Exception:  # a file cut short or of an older nianbao: checked again
        return None
    return checked if isinstance(checked, Checked) and all_kept([checked.report]) else None


def _store_check(path: Path, checked: Checked) -> None:
    """Keep a child's check, and only its latest: the child's older checks are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("*.pickle"):
        old.unlink(missing_ok=True)
    aside = path.with_suffix(".partial")
    aside.write_bytes(pickle.dumps(checked, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(aside, path)


@dataclass(frozen=True)
class Steps:
    """How each step of a run is carried out: here, plainly, by default. flows/flow.py gives Prefect
    tasks instead (retries, the batch cache, worker processes); the order is run_year's alone."""

    prepare: Callable[[Path, Path, int], Inputs] = prepare
    check: Callable[[Inputs], list[Checked]] = check_all
    merge: Callable[[Bureau, list[Checked]], Merged | None] = merge_checked
    settle: Callable[[Inputs, list[Checked], Merged | None], Outcome] = settle
    start_pages: Callable[[Outcome, Path], Any] = start_pages
    publish: Callable[[Outcome, Path, str | None, Path | None], Publication | None] = publish_outcome
    write_pages: Callable[[Outcome, Path, Any], Path] = write_pages


def run_in_tree(year: int, sources: Path, outputs: Path, key: Path | None) -> Outcome:
    """A bureau's run within a tree (flows/province.py): its steps plain, not Prefect's tasks (a
    county's few dozen workbooks take less than they would cost), in a worker process when the
    rollup has them. Here, not in flows/flow.py: a worker given a function unpickles it by its
    module's name, and importing flows.flow (prefect) cost each worker 1.2 s at its first bureau."""
    return run_year(year, sources, outputs, key=key)


def run_year(
    year: int,
    sources: Path,
    outputs: Path,
    reason: str | None = None,
    key: Path | None = None,
    steps: Steps = Steps(),
    inputs: Inputs | None = None,
) -> Outcome:
    """The year's run, the one way through: discover the submissions (unless `inputs` were prepared
    already), read and check them, merge, settle the findings, publish unless an error blocks it,
    and write the check reports either way. With `key`, the release is signed."""
    inputs = inputs or steps.prepare(Path(sources), Path(outputs), year)
    checked = steps.check(inputs)
    merged = steps.merge(inputs.bureau, checked)
    outcome = steps.settle(inputs, checked, merged)
    started = steps.start_pages(outcome, Path(outputs))  # written by the workers while this process publishes
    try:
        outcome.publication = steps.publish(outcome, Path(outputs), reason, key)
    finally:  # the check reports are the run's answer to each department, published or not
        steps.write_pages(outcome, Path(outputs), started)
    if inputs.kept is not None:  # this run's packs are all a re-run can need (see batch_key)
        keep_only(inputs.kept, [c.report.kept.path for c in checked if c.report is not None and c.report.kept])
    return outcome
