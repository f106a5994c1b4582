"""The `nianbao` command. `check` and `template` never import prefect (clerks run them often)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from flows.places import CHECK_INDEX, checks_folder, year_folder
from flows.schedule import ANNUAL_CRON

SEVERITY = {"error": "错误", "warning": "警告"}
RUNNERS = ("auto", "threads", "processes", "dask")  # see flows/flow.py run_flow


class UsageError(Exception):
    """A call that cannot be carried out; the message is the one line the user sees (exit 2)."""


class CannotRun(Exception):
    """The tool could not do its job (Prefect unreachable, a worker ended by the system); the message
    is the one line the user sees (exit 3)."""


# What every command's exit status means (argparse's epilog, and docs/operations.md).
PUBLISHED, BLOCKED, WRONG_CALL, COULD_NOT_RUN = 0, 1, 2, 3
EXIT_STATUSES = """退出状态：
  0  已发布，或与已发布的版本相同、无需发布（check、verify：没有错误）
  1  数据有错误，未发布（错误见输出与检查报告；发布前核验未通过也是 1）
  2  调用有误或配置无法读取：参数、bureau.yaml、exceptions.yaml、签名私钥、该年度正由另一运行持有
  3  工具未能完成工作：无法连接 Prefect 服务器、存储已满或不可写、被中断（Ctrl+C、SIGTERM）、工作进程意外退出
每种情况只输出一行说明，不输出 traceback。"""


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"年度应为四位数字，而不是 {text!r}") from None
    from flows.format.edition import edition_for_year

    try:
        edition_for_year(year)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return year


def _finding_line(f) -> str:
    return f"  {SEVERITY[f.severity]} {f.rule} {f.message}"


def cmd_check(args) -> int:
    from flows.checks.check import check_workbook, previous_flaws
    from flows.checks.published import check_published
    from flows.checks.rules import Context
    from flows.documents.check_pages import status_of, write_department
    from flows.intake.previous import PreviousYearError, is_published_report, load_previous, load_previous_text

    documents, worst = [], 0
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"找不到文件：{path}")
        unit = args.unit or path.stem
        try:
            previous, flawed = load_previous(Path(args.previous), args.year, unit) if args.previous else (None, None)
        except PreviousYearError as error:
            raise UsageError(str(error)) from None
        # A report checked at a level is that body's; without one, a department's (rule C4's scale).
        context = Context(args.level, previous, unit_level=args.level or "department")
        if is_published_report(path):  # by content: a web page, Word file, PDF or copied text
            last_text = load_previous_text(Path(args.previous), args.year, unit) if args.previous else None
            checked, _ = check_published(path, args.year, unit, context, last_text)
        else:
            checked = check_workbook(path, args.year, unit, context)
        if previous is not None and flawed is not None and checked.report is not None:
            checked.findings += previous_flaws(unit, args.year, previous, flawed)
        if args.html:
            write_department(Path(args.html), checked, unit, args.year)
        if checked.unreadable:
            worst = 2
        elif checked.errors:
            worst = max(worst, 1)
        edition = checked.report.edition.code if checked.report else None
        documents.append({"path": str(path), "edition": edition, "findings": [f.as_dict() for f in checked.findings]})
        if not args.json:
            print(
                f"{path}（{edition or '—'} 版）：{status_of(checked)}，错误 {checked.errors} 个，警告 {checked.warnings} 个"
            )
            for f in checked.findings:
                print(_finding_line(f))
    if args.json:
        print(json.dumps({"files": documents}, ensure_ascii=False, indent=2))
    return worst


def cmd_import(args) -> int:
    from flows.checks.published import check_published, published_json
    from flows.documents.check_pages import status_of

    if args.out and args.unit and len(args.files) > 1:
        raise UsageError("--unit 只能用于一个文件：多个文件时各以文件名为部门代码")
    documents, worst = [], 0
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"找不到文件：{path}")
        checked, published = check_published(path, args.year, None)
        documents.append(published_json(checked, published))
        worst = max(worst, 2 if checked.unreadable else 1 if checked.errors else 0)
        if args.out and published is not None:
            from flows.documents.imported import write_imported

            unit = args.unit or path.stem
            _refuse_to_overwrite([Path(args.out) / f"{unit}{suffix}" for suffix in (".xlsx", ".md")], args.force)
            written = write_imported(
                Path(args.out), published.report, published.text.sections, unit, published.title.unit or ""
            )
            if not args.json:
                print(f"已写出 {'、'.join(map(str, written))}")
        if not args.json:
            report = checked.report
            what = (
                f"{published.title.unit or '—'} {report.year} 年度（{report.edition.code} 版）"
                if published and report
                else "—"
            )
            print(f"{path}：{what}，{status_of(checked)}，错误 {checked.errors} 个，警告 {checked.warnings} 个")
            for f in checked.findings:
                print(_finding_line(f))
    if args.json:
        print(json.dumps({"files": documents}, ensure_ascii=False, indent=2))
    return worst


def cmd_audit(args) -> int:
    from flows.audit import audit_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"找不到目录：{folder}")
    out = Path(args.out or f"{folder.resolve().name}-audit")
    console = _console()
    with _progress(console, args.quiet, "份报告") as show:
        lines, index = audit_folder(folder, out, args.year, args.workers, show)
    with_errors = sum(a.errors > 0 for a in lines)
    if not args.quiet:
        print(f"{len(lines)} 份报告，{with_errors} 份有错误：{index}（及 reports.csv、findings.csv）")
    return BLOCKED if with_errors else 0


def cmd_template(args) -> int:
    from flows.documents.template import write_workbook
    from flows.format.edition import edition_for_year

    edition = edition_for_year(args.year)
    out = Path(args.output or f"nianbao-template-{args.year}.xlsx")
    _refuse_to_overwrite([out], args.force)
    write_workbook(out, edition, args.year)
    print(f"已生成 {args.year} 年度填报模板（{edition.code} 版格式）：{out}")
    return 0


def cmd_run(args) -> int:
    # The year's lock before anything else (Prefect's start takes seconds: a second run started
    # meanwhile must find the lock taken), and Ctrl+C or SIGTERM from then on stops the run.
    from flows.lifetime import Interrupted, interruptible
    from flows.release.lock import RunInProgress, year_lock

    farewell = _Farewell(Path(args.outputs), args.year)
    try:
        with interruptible(farewell), year_lock(Path(args.outputs), args.year):
            return _run_locked(args)
    except RunInProgress as error:
        raise UsageError(str(error)) from None
    except OSError as error:  # the storage failed the run: say whether anything was published before it did
        if error.errno not in STORAGE:
            raise
        where = f"：{error.filename}" if error.filename else ""
        raise CannotRun(f"{STORAGE[error.errno]}{where}（{error.strerror or error}）；{farewell.left()}") from None
    except KeyboardInterrupt as error:  # the lock is released by now
        farewell(silence=isinstance(error, Interrupted))
        if isinstance(error, Interrupted):
            _exit_now(COULD_NOT_RUN)
        return COULD_NOT_RUN


def _exit_now(status: int) -> None:
    """End the process once its exit functions have run (Prefect's last logs sent, the worker
    pool's semaphores released), without the interpreter's finalization: freeing a large run's
    reports one by one takes seconds that an interrupted run is not given."""
    import atexit

    sys.stdout.flush()
    atexit._run_exitfuncs()
    os._exit(status)


def _run_locked(args) -> int:
    """The run, the year's lock held: the inputs prepared once (what is wrong with them is told at
    once, before Prefect starts and logs tracebacks), then handed to the flow."""
    from flows.intake.bureau import BureauConfigError
    from flows.intake.previous import PreviousYearError
    from flows.release.package import SubmissionChanged
    from flows.release.sign import SigningKeyError, sign
    from flows.release.versions import NotVerified
    from flows.run import prepare

    if args.runner == "dask":
        try:
            import prefect_dask  # noqa: F401 - only whether it is installed
        except ImportError:
            raise UsageError("--runner dask 需要 prefect-dask：pip install 'nianbao[dask]'") from None
    try:
        inputs = prepare(Path(args.sources), Path(args.outputs), args.year, args.from_published)
        if args.sign:
            sign(b"", Path(args.sign))
        return _run_prepared(args, inputs)
    except (BureauConfigError, SigningKeyError, PreviousYearError) as error:
        raise UsageError(str(error)) from None
    except NotVerified as error:  # the release as written failed verification: removed, latest as it was
        print(f"nianbao: {error}", file=sys.stderr)
        return BLOCKED
    except SubmissionChanged as error:  # not published: the checked bytes are gone (the check reports are written)
        print(f"nianbao: {error}", file=sys.stderr)
        return BLOCKED


class _Farewell:
    """What an interrupted run says, once, whoever says it first (the CLI as the interrupt reaches
    it, or lifetime's grace timer when unwinding takes too long): whether `latest` moved."""

    def __init__(self, outputs: Path, year: int):
        self.outputs, self.year = outputs, year
        self.before = self._live()
        self.said = threading.Lock()

    def _live(self) -> str | None:
        from flows.places import latest

        link = latest(self.outputs, self.year)
        return os.readlink(link) if link.is_symlink() else None

    def left(self) -> str:
        """What the stopped run left: nothing published, or a version published before it stopped."""
        now = self._live()
        if now == self.before:
            return f"{self.year} 年度未发布任何内容，latest 未改动（{self.before or '尚无发布'}）"
        return f"{self.year} 年度已发布 {now}，检查报告可能未写完：请再运行一次 nianbao run {self.year}"

    def __call__(self, silence: bool = True) -> None:
        if not self.said.acquire(blocking=False):
            return
        said = f"已中断：{self.left()}"
        # Not print(): while a flow runs, Prefect takes print() for its logs (log_prints).
        sys.stderr.write(f"nianbao: {said}\n")
        sys.stderr.flush()
        if silence:  # a signal: what Prefect's threads still say as they are stopped is in its logs, not here
            _silence_stderr()


def _silence_stderr() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stderr__.fileno() if sys.__stderr__ else 2)
    except (OSError, ValueError):
        pass


def _run_prepared(args, inputs) -> int:
    from concurrent.futures.process import BrokenProcessPool

    # The terminal shows a progress bar and the verdict, or one line saying why the run stopped;
    # Prefect's own lines (a failed task's traceback among them) go to its logs, which the UI shows.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from flows.flow import PrefectUnreachable, progress_bar, run_flow  # imports prefect: only here

    console = _console()
    with _progress(console, args.quiet) as show:
        token = progress_bar.set(show)
        try:
            outcome = run_flow(
                args.year,
                Path(args.sources),
                Path(args.outputs),
                args.reason,
                args.sign and Path(args.sign),
                args.runner,
                args.dask_address,
                inputs,
            )
        except BrokenProcessPool:  # the OS ended a worker (out of memory?): publishing had not switched
            raise CannotRun(
                "读取或发布用的工作进程意外退出（可能内存不足）：本次没有发布任何内容，可用 --runner threads 重新运行"
            ) from None
        except PrefectUnreachable as error:
            raise CannotRun(f"{error}；本次没有发布任何内容") from None
        finally:
            progress_bar.reset(token)
    # For cron (--quiet): nothing on success; why not, or what else to know: a catalog not updated, a file replaced.
    if args.quiet:
        publication = outcome.publication
        if publication is None or publication.catalog_problem or publication.replaced:
            print("\n".join(verdict(outcome)), file=sys.stderr)
    else:
        print(f"{outcome.bureau.name} {outcome.year} 年度：{len(outcome.checked)} 个部门报送")
        for table in summary_tables(outcome):
            console.print(table)
        print("\n".join(verdict(outcome)))
        print(f"检查报告：{checks_folder(Path(args.outputs), args.year) / CHECK_INDEX}")
    return PUBLISHED if outcome.release else BLOCKED


def _console():
    from rich.console import Console

    # Not a terminal (a log file, a pipe): wide enough that a department's row is one line.
    return Console() if sys.stdout.isatty() else Console(width=160, no_color=True)


@contextmanager
def _progress(console, quiet: bool, unit: str = "个部门"):
    """A progress bar by departments, or `unit` (none with --quiet); yields what the flow calls as batches finish."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("读取并检查"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        bar = progress.add_task("departments", total=None)
        yield lambda done, total: progress.update(bar, completed=done, total=total)


SUMMARY_ROWS = 30  # departments listed one by one; past that, counts by status and the ones with errors


def summary_tables(outcome) -> list:
    """The run's verdict as tables: one row per department for a bureau of up to SUMMARY_ROWS; past
    that, the count of units by status, then the departments that did not pass (the first 30)."""
    from rich.table import Table
    from rich.text import Text

    per_unit = Counter((f.unit, f.severity) for f in outcome.findings)
    missing = {f.unit for f in outcome.findings if f.rule == "E4"}
    unreadable = {c.unit for c in outcome.checked if c.unreadable}
    names = {d.id: d.name for d in outcome.bureau.departments} | {outcome.bureau.id: outcome.bureau.name}
    departments = [d.id for d in outcome.bureau.departments]
    units = departments + sorted({f.unit for f in outcome.findings} - set(departments))

    def status(unit: str) -> str:
        if unit in missing:
            return "未报送"
        if unit in unreadable:
            return "无法读取"
        return "有错误" if per_unit[(unit, "error")] else "通过"

    tables = []
    if len(units) > SUMMARY_ROWS:
        by_status, counts = Counter(status(u) for u in units), Table()
        counts.add_column("结论")
        counts.add_column("单位数", justify="right")
        for name in ("通过", "有错误", "无法读取", "未报送"):
            counts.add_row(name, str(by_status[name]))
        tables.append(counts)
        units = [u for u in units if status(u) != "通过"][:SUMMARY_ROWS]
    if units:
        table = Table()
        for column in ("单位", "代码", "结论", "错误", "警告"):
            table.add_column(column, justify="right" if column in ("错误", "警告") else "left")
        for unit in units:
            table.add_row(
                Text(names.get(unit, unit)),  # a name is the bureau's text, not rich markup: "[/]" is shown, not parsed
                Text(unit),
                status(unit),
                str(per_unit[(unit, "error")]),
                str(per_unit[(unit, "warning")]),
            )
        tables.append(table)
    return tables


ERROR_LINES = 50


def verdict(outcome) -> list[str]:
    """Whether the run published, and the errors that stopped it (the first 50)."""
    lines = []
    if not outcome.checked:  # E4 for every department: said first, in so many words
        lines.append(f"{outcome.year} 年度还没有部门报送：{len(outcome.bureau.departments)} 个部门都未报送报表，未发布")
    if outcome.accepted:
        lines.append(f"已接受的例外 {len(outcome.accepted)} 个（见 exceptions.yaml），不阻止发布")
    errors = outcome.errors
    if errors:
        lines.append(f"有 {len(errors)} 个错误，未发布：")
        lines += [f"  [{f.unit}] {_finding_line(f).strip()}" for f in errors[:ERROR_LINES]]
        if len(errors) > ERROR_LINES:
            lines.append(f"  ……另有 {len(errors) - ERROR_LINES} 个错误，见检查报告")
    elif outcome.publication is None:  # every error accepted, yet no department's tables to sum
        lines.append("没有可汇总的部门报表，未发布：请核对报送目录和 exceptions.yaml")
    elif outcome.publication.new:
        lines.append(f"已发布版本 {outcome.publication.version}：{outcome.release / 'datapackage.json'}")
    else:
        lines.append(f"输入与已发布的版本 {outcome.publication.version} 相同，未发布新版本：{outcome.release}")
    if outcome.publication and outcome.publication.catalog_problem:
        lines.append(
            f"已发布 {outcome.publication.version}，但 catalog.json 未更新：{outcome.publication.catalog_problem}"
        )
    lines += [
        f"注意：{file} 在检查之后被替换或删除：发布的是检查过的内容，现在的文件未经检查；"
        f"请再运行一次 nianbao run {outcome.year}"
        for file in (outcome.publication.replaced if outcome.publication else ())
    ]
    return lines


def cmd_push(args) -> int:
    import os

    if args.command == "publish":  # its name until 0.2.0: scripts may still use it
        print("nianbao: “nianbao publish” 已更名为 “nianbao push”（推送到 CKAN）；旧名称仍可使用", file=sys.stderr)

    from flows.intake.previous import NoLiveRelease, live_release
    from flows.release.ckan import PortalError, push_release

    try:
        release = live_release(Path(args.outputs), args.year)
    except NoLiveRelease as error:
        raise UsageError(str(error)) from None
    if release is None:
        raise UsageError(
            f"{year_folder(Path(args.outputs), args.year)} 中没有已发布的版本：请先运行 nianbao run {args.year}"
        )
    if not args.org:  # CKAN refuses a dataset without an organisation (ckan.auth.create_unowned_dataset)
        raise UsageError("推送到 CKAN 需要 --org：数据集所属的门户组织（名称或 id）")
    try:
        apikey = args.api_key or os.environ.get("CKAN_API_KEY")
        dataset = push_release(release, args.ckan, apikey, args.org, args.max_upload_mb)
    except PortalError as error:
        print(f"nianbao: {error}", file=sys.stderr)
        return 1
    print(
        f"已推送版本 {release.name} 到 {args.ckan}：数据集 {dataset['name']}，资源 {len(dataset.get('resources', []))} 个"
    )
    return 0


def _bureau_id(sources: Path) -> str:
    from flows.intake.bureau import BureauConfigError, load_bureau

    try:
        return load_bureau(sources).id
    except BureauConfigError as error:
        raise UsageError(str(error)) from None


def cmd_serve(args) -> int:
    bureau = _bureau_id(Path(args.sources))
    from flows.flow import FLOW_NAME, PrefectUnreachable, deployment_name, serve_annual  # imports prefect: only here

    name = f"{FLOW_NAME}/{deployment_name(bureau, served=True)}"
    print(f"按计划运行年度流程 {name}（cron “{args.cron}”，北京时间），报送目录 {args.sources}；按 Ctrl+C 停止")
    try:
        serve_annual(Path(args.sources), Path(args.outputs), args.cron)
    except PrefectUnreachable as error:
        raise CannotRun(str(error)) from None
    except KeyboardInterrupt:  # how serving is stopped
        print("已停止按计划运行", file=sys.stderr)
    return 0


def cmd_deploy(args) -> int:
    _bureau_id(Path(args.sources))
    from flows.flow import DeployRefused, PrefectUnreachable, deploy_annual  # imports prefect: only here

    try:
        name = deploy_annual(Path(args.sources), Path(args.outputs), args.cron, args.pool)
    except DeployRefused as error:
        raise UsageError(str(error)) from None
    except PrefectUnreachable as error:
        raise CannotRun(str(error)) from None
    print(f"已创建（或更新）部署 {name}：工作池 {args.pool}（process），cron “{args.cron}”（北京时间）")
    print(
        f"下一步，在装有 nianbao、能读写 {Path(args.sources).resolve()} 的机器上：prefect worker start --pool {args.pool}"
    )
    return 0


def _refuse_to_overwrite(paths: list[Path], force: bool) -> None:
    """A command that writes files refuses to replace one that exists (a submitted workbook, a
    bureau.yaml someone edited) unless told --force."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        more = f" 等 {len(existing)} 个文件" if len(existing) > 3 else ""
        raise UsageError(f"{'、'.join(existing[:3])}{more} 已存在：不会覆盖；确需覆盖请加 --force")


def cmd_synth(args) -> int:
    from flows.synth import synthetic_files, write_synthetic_bureau

    _refuse_to_overwrite(synthetic_files(Path(args.out), args.year, args.departments), args.force)
    injected = write_synthetic_bureau(Path(args.out), args.year, args.departments, args.seed, args.errors)
    print(
        f"已生成合成报送目录 {args.out}：{args.departments} 个部门，{args.year} 年度，注入错误 {len(injected)} 处"
        f"（见 {Path(args.out) / f'errors-{args.year}.csv'}）"
    )
    return 0


def cmd_compare(args) -> int:
    from flows.release.comparison import NoSuchRelease, write_comparison

    try:
        page = write_comparison(Path(args.outputs), args.a, args.b, args.units, Path(args.out) if args.out else None)
    except NoSuchRelease as error:
        raise UsageError(str(error)) from None
    print(f"已写出对比：{page}（及 {page.parent / 'comparison.xlsx'}）")
    return 0


def cmd_keygen(args) -> int:
    from flows.release.sign import SigningKeyError, keygen

    try:
        private, public = keygen(Path(args.out))
    except SigningKeyError as error:
        raise UsageError(str(error)) from None
    print(
        f"私钥（妥善保管，用于 nianbao run --sign）：{private}\n公钥（随发布公开，用于 nianbao verify --key）：{public}"
    )
    return 0


def cmd_verify(args) -> int:
    from flows.release.sign import SigningKeyError
    from flows.release.verify import NotARelease, verify

    try:
        results = verify(Path(args.path), Path(args.key) if args.key else None)
    except (NotARelease, SigningKeyError) as error:
        raise UsageError(str(error)) from None
    for result in results:
        print(f"{'通过' if result.passed else '未通过'}  {result.name}")
        for problem in result.problems[:50]:
            print(f"    - {problem}")
        if len(result.problems) > 50:
            print(f"    - ……另有 {len(result.problems) - 50} 处")
    failed = sum(not c.passed for c in results)
    print(f"核验结论：{'全部通过' if not failed else f'{failed} 项未通过'}（共 {len(results)} 项）")
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nianbao",
        description="政府信息公开工作年度报告：检查、汇总、发布",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="运行年度流程：读取、检查、汇总各部门报表并发布数据包",
        description="运行年度流程：读取、检查、汇总各部门报表并发布数据包；检查报告无论是否发布都会写出",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("year", type=_year)
    run.add_argument("--sources", default="sources", help="报送目录（含 bureau.yaml 与 <年度>/ 子目录）")
    run.add_argument("--outputs", default="outputs", help="发布目录")
    run.add_argument("--reason", help="更正发布的原因（写入新版本的变更记录）")
    run.add_argument("--sign", metavar="KEYFILE", help="用本机关的 Ed25519 私钥签署发布包的哈希清单")
    run.add_argument(
        "--runner",
        choices=RUNNERS,
        default="auto",
        help="读取与检查的执行方式：本进程线程、每核一个进程、Dask 集群（默认 auto：部门多时用进程）",
    )
    run.add_argument(
        "--dask-address", metavar="URL", help="Dask 集群调度器地址（--runner dask；默认在本机起两个 worker）"
    )
    run.add_argument("--quiet", action="store_true", help="不显示进度与汇总表，只在未发布时输出错误（适合 cron）")
    run.add_argument(
        "--from-published",
        action="store_true",
        help="读取 <年度>/published/ 中各部门已发布的年度报告（网页、Word、PDF、文本）而不是工作簿：补录使用 nianbao 之前的年度",
    )
    run.set_defaults(handler=cmd_run)

    check = sub.add_parser("check", help="检查部门报表（工作簿）或发布的年度报告（网页、Word、PDF、文本），不发布")
    check.add_argument("files", nargs="+")
    check.add_argument("--year", type=_year, required=True)
    check.add_argument("--unit", help="部门代码（默认取文件名）")
    check.add_argument("--json", action="store_true", help="输出 JSON")
    check.add_argument(
        "--previous", help="上年报表（工作簿或发布的报告）或上年发布包（目录或 datapackage.json），用于跨年度核对"
    )
    check.add_argument(
        "--level",
        choices=["province", "prefecture", "county", "township"],
        help="本机关层级（规则 C3、C4）；不填时按部门核对",
    )
    check.add_argument("--html", metavar="DIR", help="把检查报告（HTML 与 JSON）写入该目录")
    check.set_defaults(handler=cmd_check)

    imported = sub.add_parser(
        "import",
        help="读取发布的年度报告（网页、Word、PDF、文本）：输出其数字、正文与检查发现，或写成填报工作簿与 report.md",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imported.add_argument("files", nargs="+")
    imported.add_argument("--year", type=_year, help="所报告的年度（默认取报告标题中的年度）")
    imported.add_argument(
        "--json", action="store_true", help="输出 JSON：单位、年度、格式、三张表、六部分正文、检查发现"
    )
    imported.add_argument(
        "--out",
        metavar="DIR",
        help="写出 <部门代码>.xlsx（本年度填报模板）与 <部门代码>.md（正文），可放入 sources/<年度>/",
    )
    imported.add_argument("--unit", help="部门代码（--out 写出的文件名；默认取文件名）")
    imported.add_argument("--force", action="store_true", help="覆盖已存在的文件（默认拒绝覆盖）")
    imported.set_defaults(handler=cmd_import)

    audit = sub.add_parser(
        "audit",
        help="检查一个目录中所有发布的年度报告，写出可浏览的汇总（index.html、reports.csv、findings.csv）",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("folder", help="存放发布的报告的目录（含子目录；按内容识别网页、Word、PDF、文本）")
    audit.add_argument("--out", metavar="DIR", help="写入汇总的目录（默认 <目录名>-audit）")
    audit.add_argument("--year", type=_year, help="所报告的年度（默认取各报告标题中的年度）")
    audit.add_argument("--workers", type=int, help="工作进程数（默认每核一个）")
    audit.add_argument("--quiet", action="store_true", help="不显示进度与结论")
    audit.set_defaults(handler=cmd_audit)

    verify = sub.add_parser("verify", help="核验发布包：哈希、表结构、规则、汇总数与报送文件")
    verify.add_argument("path", help="发布目录或其 zip")
    verify.add_argument("--key", metavar="PUBKEY", help="本机关的公钥：核验发布包的签名")

    push = sub.add_parser("push", aliases=["publish"], help="把某年度的最新版本推送到 CKAN 门户（旧名称 publish）")
    push.add_argument("year", type=_year)
    push.add_argument("--ckan", required=True, metavar="URL", help="CKAN 门户地址")
    push.add_argument("--outputs", default="outputs", help="发布目录")
    push.add_argument("--api-key", help="CKAN API 密钥（默认取环境变量 CKAN_API_KEY）")
    push.add_argument("--org", help="CKAN 组织（owner_org），必填")
    push.add_argument(
        "--max-upload-mb",
        type=float,
        metavar="MB",
        help="门户允许上传的最大文件（默认 10，即 CKAN 的 ckan.max_resource_size 默认值）；更大的文件以 base_url 下的链接发布",
    )
    push.set_defaults(handler=cmd_push)

    serve = sub.add_parser("serve", help="按年度计划（每年一月）自动运行流程")
    serve.add_argument("--sources", default="sources")
    serve.add_argument("--outputs", default="outputs")
    serve.add_argument("--cron", default=ANNUAL_CRON, help="运行时间（cron，北京时间；默认每年 1 月 5 日 9:00）")
    serve.set_defaults(handler=cmd_serve)

    deploy = sub.add_parser(
        "deploy",
        help="在 Prefect 服务器（PREFECT_API_URL）上创建工作池与年度部署，由 prefect worker 按计划运行",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deploy.add_argument("--sources", default="sources")
    deploy.add_argument("--outputs", default="outputs")
    deploy.add_argument("--cron", default=ANNUAL_CRON, help="运行时间（cron，北京时间；默认每年 1 月 5 日 9:00）")
    deploy.add_argument("--pool", default="nianbao", help="工作池名称（process 类型；不存在时创建）")
    deploy.set_defaults(handler=cmd_deploy)

    synth = sub.add_parser("synth", help="生成合成的报送目录（演示、负载测试与基准）")
    synth.add_argument("--departments", type=int, required=True)
    synth.add_argument("--year", type=_year, required=True)
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--errors", type=int, default=0, help="注入的已知错误个数（记录在 errors-<年度>.csv）")
    synth.add_argument("--force", action="store_true", help="覆盖已存在的文件（默认拒绝覆盖）")
    synth.set_defaults(handler=cmd_synth)

    compare = sub.add_parser("compare", help="对比两个年度（或两个版本）：网页与 xlsx")
    compare.add_argument("a", help="年度（其当前版本）、年度/版本（如 2021/1.0.0）或发布包目录")
    compare.add_argument("b", help="同上：与 a 对比的年度或版本")
    compare.add_argument("--units", nargs="+", help="只列出这些部门（本机关总在其中）")
    compare.add_argument("--outputs", default="outputs", help="发布目录")
    compare.add_argument("--out", help="写入的目录（默认 outputs/compare/<a>-<b>/）")
    compare.set_defaults(handler=cmd_compare)

    keys = sub.add_parser("keygen", help="生成用于签署发布包的 Ed25519 密钥对")
    keys.add_argument("--out", default=".", help="写入密钥的目录")
    keys.set_defaults(handler=cmd_keygen)
    verify.set_defaults(handler=cmd_verify)

    template = sub.add_parser("template", help="生成某年度的填报模板")
    template.add_argument("year", type=_year)
    template.add_argument("-o", "--output")
    template.add_argument("--force", action="store_true", help="覆盖已存在的文件（默认拒绝覆盖）")
    template.set_defaults(handler=cmd_template)
    return p


# Storage that cannot take what a command writes: the tool could not do its job (exit 3), not a wrong call.
STORAGE = {
    errno.ENOSPC: "存储空间已满",
    errno.EDQUOT: "超出存储配额",
    errno.EROFS: "存储为只读",
    errno.EACCES: "没有读写权限",
    errno.EPERM: "没有读写权限",
    errno.EIO: "存储读写出错",
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"nianbao: {error}", file=sys.stderr)
        return WRONG_CALL
    except CannotRun as error:
        print(f"nianbao: {error}", file=sys.stderr)
        return COULD_NOT_RUN
    except KeyboardInterrupt:  # a command other than run (which says what it left)
        print("nianbao: 已中断", file=sys.stderr)
        return COULD_NOT_RUN
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        return PUBLISHED
    except OSError as error:
        where = f"：{error.filename}" if error.filename else ""
        if error.errno in STORAGE:
            print(f"nianbao: {STORAGE[error.errno]}{where}（{error.strerror or error}）", file=sys.stderr)
            return COULD_NOT_RUN
        print(f"nianbao: {error.strerror or error}{where}", file=sys.stderr)
        return WRONG_CALL


if __name__ == "__main__":
    sys.exit(main())
