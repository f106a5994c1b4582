"""The `nianbao` command. `check` and `template` never import prefect (clerks run them often)."""

from __future__ import annotations

import argparse
import atexit
import errno
import json
import os
import re
import sys
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from flows.places import CHECK_INDEX, checks_folder, year_folder
from flows.schedule import ANNUAL_CRON

SEVERITY = {"error": "错误", "warning": "警告"}
RUNNERS = ("auto", "threads", "processes", "dask")  # see flows/flow.py run_flow
LEVELS = ("province", "prefecture", "county", "township")
# The folders' defaults, when an option does not name them (docs/cli.md).
SOURCES_VARIABLE, OUTPUTS_VARIABLE = "NIANBAO_SOURCES", "NIANBAO_OUTPUTS"
# Prefect's console handler: the level of the lines it shows on stderr (-v: INFO; otherwise none).
PREFECT_CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"


class UsageError(Exception):
    """A call that cannot be carried out; the message is the one line the user sees (exit 2)."""


class CannotRun(Exception):
    """The tool could not do its job (Prefect unreachable, a worker ended by the system); the message
    is the one line the user sees (exit 3)."""


# What every command's exit status means (argparse's epilog, and docs/operations.md).
PUBLISHED, BLOCKED, WRONG_CALL, COULD_NOT_RUN = 0, 1, 2, 3
EXIT_STATUSES = {
    0: "已发布，或与已发布的版本相同、无需发布（check、import、audit、verify：没有错误）",
    1: "数据有错误，未发布（错误见输出与检查报告；发布前核验未通过也是 1）；检查、导入或核验发现错误",
    2: "调用有误或配置无法读取：参数、bureau.yaml、exceptions.yaml、签名私钥、该年度正由另一运行持有；无法读取的文件",
    3: "工具未能完成工作：无法连接 Prefect 服务器、存储已满或不可写、被中断（Ctrl+C、SIGTERM）、工作进程意外退出",
}
WRONG = "调用有误：参数，或找不到的文件、目录"
STOPPED = "工具未能完成工作：存储已满或不可写、被中断（Ctrl+C、SIGTERM）"

# Each command's examples and what each exit status it can end with means: the end of its --help
# (docs/cli.md sends readers there). The one place these texts are kept; the parser is built from it.
COMMANDS: dict[str, tuple[tuple[str, ...], dict[int, str]]] = {
    "run": (
        (
            "nianbao run 2021",
            "nianbao run 2021 --sources /srv/nianbao/sources --outputs /srv/www/nianbao --sign bureau.key",
            "NIANBAO_SOURCES=/srv/nianbao/sources nianbao run 2021 --json > run-2021.json",
        ),
        EXIT_STATUSES
        | {
            0: "已发布，或与已发布的版本相同、无需发布",
            1: "数据有错误，未发布（错误见输出与检查报告）；发布前核验未通过；报送文件在检查后被替换",
        },
    ),
    "check": (
        (
            "nianbao check 交警大队.xlsx --year 2021",
            "nianbao check 2021/*.xlsx --year 2021 --previous outputs/2020/latest --json",
            "nianbao check 公开年报.pdf --year 2021 --level county --html 检查报告/",
        ),
        {
            0: "没有错误（可能有警告）",
            1: "有错误",
            2: f"有文件无法作为工作簿或年度报告读取（F0）；{WRONG}",
            3: STOPPED,
        },
    ),
    "import": (
        (
            "nianbao import 公开年报.html --json",
            "nianbao import 公开年报.docx --year 2020 --out sources/2020/ --unit traffic",
        ),
        {
            0: "没有错误（可能有警告）",
            1: "有错误",
            2: f"有文件无法作为年度报告读取（F0）；要写出的文件已存在（未加 --force）；{WRONG}",
            3: STOPPED,
        },
    ),
    "audit": (
        ("nianbao audit 各县年报/ --out 审查结果/", "nianbao audit 各县年报/ --year 2021 --json --quiet"),
        {0: "所有报告都没有错误", 1: "有报告有错误", 2: WRONG, 3: STOPPED},
    ),
    "template": (
        ("nianbao template 2021", "nianbao template 2021 -o 填报模板.xlsx --force"),
        {0: "已生成", 2: f"文件已存在（未加 --force）；{WRONG}", 3: STOPPED},
    ),
    "verify": (
        (
            "nianbao verify outputs/2021/latest",
            "nianbao verify 1.0.0.zip --key bureau.pub --json",
        ),
        {
            0: "每项核验都通过",
            1: "有核验未通过",
            2: f"不是发布包（目录或其 zip），或公钥无法读取；{WRONG}",
            3: STOPPED,
        },
    ),
    "keygen": (
        ("nianbao keygen --out keys/",),
        {0: "已生成", 2: f"密钥文件已存在；{WRONG}", 3: STOPPED},
    ),
    "push": (
        (
            "nianbao push 2021 --ckan https://data.example.gov.cn --org yuanjiang-psb",
            "CKAN_API_KEY=… nianbao push 2021 --ckan https://data.example.gov.cn --org yuanjiang-psb --max-upload-mb 50",
        ),
        {
            0: "已推送",
            1: "门户拒绝或出错（原因见输出）",
            2: f"该年度没有已发布的版本；缺少 --org；{WRONG}",
            3: STOPPED,
        },
    ),
    "serve": (
        ("nianbao serve", "nianbao serve --sources /srv/nianbao/sources --cron '0 9 10 1 *'"),
        {
            0: "按 Ctrl+C 停止",
            2: f"bureau.yaml 无法读取；{WRONG}",
            3: "无法连接 Prefect 服务器；存储已满或不可写",
        },
    ),
    "deploy": (
        ("PREFECT_API_URL=http://server:4200/api nianbao deploy --sources /srv/nianbao/sources",),
        {
            0: "已创建或更新部署",
            2: f"未设置 PREFECT_API_URL；bureau.yaml 无法读取；{WRONG}",
            3: "无法连接 Prefect 服务器；存储已满或不可写；被中断",
        },
    ),
    "synth": (
        (
            "nianbao synth --departments 600 --year 2021 --out /tmp/bureau",
            "nianbao synth --departments 50 --year 2021 --out /tmp/bureau --errors 5 --seed 1 --force",
            "nianbao synth --levels city:14,county:10,department:70 --year 2021 --out /tmp/province",
        ),
        {0: "已生成", 2: f"文件已存在（未加 --force）；--levels 写法有误；{WRONG}", 3: STOPPED},
    ),
    "rollup": (
        (
            "nianbao rollup /tmp/province --year 2021",
            "nianbao rollup /srv/nianbao/tree --year 2021 --runner dask --dask-address tcp://scheduler:8786 --json",
        ),
        {
            0: "每个机关都已发布（或与已发布的版本相同）",
            1: "有机关未发布（其错误见输出与其检查报告）；其上级用它仍在发布的版本，没有则缺少它",
            2: f"目录不是机关树（缺少 bureau.yaml、成环、多个根）；该年度正由另一运行持有；{WRONG}",
            3: "工具未能完成工作：无法连接 Prefect 服务器、存储已满或不可写、被中断（Ctrl+C、SIGTERM）",
        },
    ),
    "trace": (
        (
            "nianbao trace outputs/p/2021/latest applications new natural_person",
            "nianbao trace p-1.0.0.zip applications new total --unit p-c01/p-c01-x03/d00007 --json",
            "nianbao trace outputs/2021/latest review_litigation - review_corrected --unit traffic",
        ),
        {
            0: "已追溯到填报的单元格（或所说单位的发布包）",
            1: "追溯链断开：某一级的发布包、清单或数字与上一级记录的不符",
            2: f"不是发布包（目录或其 zip）；没有该数字或该单位，或该数字来自多个单位（请用 --unit）；{WRONG}",
            3: STOPPED,
        },
    ),
    "compare": (
        ("nianbao compare 2020 2021", "nianbao compare 2021/1.0.0 2021/1.1.0 --units traffic household"),
        {0: "已写出对比", 2: f"找不到所说的年度或版本；{WRONG}", 3: STOPPED},
    ),
    "report": (
        (
            "nianbao report 2021",
            "nianbao report 2021 --unit traffic --unit household",
            "nianbao report outputs/2021/1.0.0.zip --out reports --json",
        ),
        {
            0: "已写出各单位的年度报告（网页版与 Word 版）",
            1: "发布包的文件与其哈希（datapackage.json、MANIFEST.sha256）不符或无法安全读取，或其中没有所说的单位：什么也没写",
            2: f"不是发布包（目录或其 zip），或该年度没有已发布的版本；{WRONG}",
            3: STOPPED,
        },
    ),
}
TOP_EXAMPLES = (
    "nianbao run 2021",
    "nianbao check 交警大队.xlsx --year 2021",
    "nianbao COMMAND --help    （该命令的选项、示例与退出状态）",
)


def _epilog(examples: tuple[str, ...], statuses: dict[int, str]) -> str:
    lines = ["示例：", *(f"  {e}" for e in examples), "", "退出状态："]
    lines += [f"  {status}  {meaning}" for status, meaning in sorted(statuses.items())]
    return "\n".join([*lines, "每种情况只输出一行说明，不输出 traceback。"])


# argparse's own words in Chinese. argparse says each of them through gettext (its `_` and
# `ngettext`), the way it offers to be translated; but gettext picks the language from LANG or
# LANGUAGE and reads a compiled .mo catalogue, whereas nianbao speaks Chinese whatever the locale
# (its descriptions are Chinese). So this catalogue, argparse's messages (3.11 to 3.14) as data, is
# handed to argparse directly, and only while nianbao's own parser is built, formats its help or
# parses (ChineseParser): another argparse parser in the process is left as it was. A message
# missing here stays English; tests/test_cli_habits.py fails on an English word in any --help.
ARGPARSE_WORDS = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "%(heading)s:": "%(heading)s：",
    "subcommands": "命令",
    "show this help message and exit": "显示此帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "不是可用的取值：%(value)r（可用：%(choices)s）",
    "invalid %(type)s value: %(value)r": "%(value)r 不是有效的 %(type)s 值",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多一个值",
    "expected at least one argument": "至少需要一个值",
    "expected %s argument": "需要 %s 个值",
    "expected %s arguments": "需要 %s 个值",
    "ambiguous option: %(option)s could match %(matches)s": "选项有歧义：%(option)s 可以是 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "ignored explicit argument %r": "多余的值 %r",
    "one of the arguments %s is required": "需要参数 %s 之一",
    "unexpected option string: %s": "意外的选项：%s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "没有命令 %(parser_name)r（可用：%(choices)s）",
}


def _in_chinese(message: str) -> str:
    return ARGPARSE_WORDS.get(message, message)


def _in_chinese_by_number(one: str, many: str, n: int) -> str:
    return _in_chinese(one if n == 1 else many)


@contextmanager
def _argparse_in_chinese() -> Iterator[None]:
    """argparse's `_` and `ngettext` (gettext's, imported into it) replaced by the catalogue, then put back."""
    chinese = {"_": _in_chinese, "ngettext": _in_chinese_by_number}
    said = {name: getattr(argparse, name) for name in chinese}
    for name, function in chinese.items():
        setattr(argparse, name, function)
    try:
        yield
    finally:
        for name, function in said.items():
            setattr(argparse, name, function)


def _columns(text: str) -> int:
    """How many terminal columns `text` takes: a Chinese character (or full-width sign) two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


CLOSING = "，。、；：）」』》？！"  # never at the start of a line (they close what stands before them)


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns: broken between Chinese characters or at spaces,
    never inside a Latin word (an option, a path), nor before closing punctuation. textwrap counts a
    Chinese character as one column and takes a run of them for one word, so it overflows the
    terminal and breaks `findings.csv` in two."""
    lines, line = [], ""
    for token in re.findall(r"[!-~]+| |.", text):
        if line and _columns(line + token) > width and token not in CLOSING:
            lines.append(line.rstrip())
            line = ""
        if line or token != " ":
            line += token
    return [*lines, line.rstrip()] if line else lines


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (examples and exit statuses keep their lines); an option's
    help ends with its default, as ArgumentDefaultsHelpFormatter's does, in Chinese (an option whose
    default is nothing or off says in its own words what happens without it); lines are wrapped by
    the columns they take (_wrap)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        if any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS)) or "%(default)" in help:
            return help
        return f"{help}（默认：%(default)s）"

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(" ".join(text.split()), width)

    def _format_usage(self, usage, actions, groups, prefix) -> str:
        # argparse indents the usage's next lines by the length of 用法：, which takes 3 columns more.
        first, *rest = super()._format_usage(usage, actions, groups, prefix).split("\n")
        shift = " " * (_columns(ARGPARSE_WORDS["usage: "]) - len(ARGPARSE_WORDS["usage: "]))
        return "\n".join([first, *(shift + line if line else line for line in rest)])


class ChineseParser(argparse.ArgumentParser):
    """argparse's parser speaking Chinese (ARGPARSE_WORDS), with its help formatted by HelpFormatter;
    a wrong call is one line on stderr naming --help (exit 2), as every other error of nianbao."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        with _argparse_in_chinese():
            super().__init__(*args, **kwargs)

    def add_subparsers(self, **kwargs):
        with _argparse_in_chinese():
            return super().add_subparsers(**kwargs)

    def format_usage(self) -> str:
        with _argparse_in_chinese():
            return super().format_usage()

    def format_help(self) -> str:
        with _argparse_in_chinese():
            help = super().format_help()
        # A section's heading ends with an ASCII colon that Python before 3.14 does not translate.
        return re.sub(r"^(\S[^\n]*):$", r"\1：", help, flags=re.MULTILINE)

    def parse_args(self, args=None, namespace=None):
        with _argparse_in_chinese():
            return super().parse_args(args, namespace)

    def parse_known_args(self, args=None, namespace=None):
        with _argparse_in_chinese():
            return super().parse_known_args(args, namespace)

    def error(self, message: str):
        self.exit(WRONG_CALL, f"{self.prog}：{message}（用法见 {self.prog} --help）\n")


def _folder(variable: str, fallback: str) -> str:
    """A folder option's default: the environment variable when it is set (and not empty), else `fallback`."""
    return os.environ.get(variable) or fallback


def _installed_version() -> str:
    try:
        return version("nianbao")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "（未安装，版本未知）"


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


# The verdict of `--json` on a checked file or folder, by exit status (docs/cli.md).
VERDICTS = {0: "valid", 1: "invalid", 2: "unreadable"}


def _file_status(checked) -> int:
    return 2 if checked.unreadable else 1 if checked.errors else 0


def _print_json(document: dict) -> None:
    """`--json`: the one document on stdout (what else is said goes to stderr)."""
    print(json.dumps(document, ensure_ascii=False, indent=2))


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
        status = _file_status(checked)
        worst = max(worst, status)
        edition = checked.report.edition.code if checked.report else None
        documents.append(
            {
                "path": str(path),
                "verdict": VERDICTS[status],
                "edition": edition,
                "errors": checked.errors,
                "warnings": checked.warnings,
                "findings": [f.as_dict() for f in checked.findings],
            }
        )
        if not args.json:
            print(
                f"{path}（{edition or '—'} 版）：{status_of(checked)}，错误 {checked.errors} 个，警告 {checked.warnings} 个"
            )
            for f in checked.findings:
                print(_finding_line(f))
    if args.json:
        _print_json({"verdict": VERDICTS[worst], "files": documents})
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
        status = _file_status(checked)
        documents.append({"verdict": VERDICTS[status]} | published_json(checked, published))
        worst = max(worst, status)
        if args.out and published is not None:
            from flows.documents.imported import write_imported

            unit = args.unit or path.stem
            _refuse_to_overwrite([Path(args.out) / f"{unit}{suffix}" for suffix in (".xlsx", ".md")], args.force)
            written = write_imported(
                Path(args.out), published.report, published.text.sections, unit, published.title.unit or ""
            )
            print(f"已写出 {'、'.join(map(str, written))}", file=sys.stderr if args.json else sys.stdout)
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
        _print_json({"verdict": VERDICTS[worst], "files": documents})
    return worst


def cmd_audit(args) -> int:
    from flows.audit import audit_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"找不到目录：{folder}")
    out = Path(args.out or f"{folder.resolve().name}-audit")
    console = _console(stderr=args.json)
    with _progress(console, args.quiet, "份报告") as show:
        lines, index = audit_folder(folder, out, args.year, args.workers, show)
    with_errors = sum(a.errors > 0 for a in lines)
    if args.json:
        reports = [{k: v for k, v in vars(a).items() if k != "findings"} for a in lines]
        _print_json(
            {
                "verdict": VERDICTS[BLOCKED if with_errors else 0],
                "folder": str(folder),
                "index": str(index),
                "with_errors": with_errors,
                "reports": reports,
            }
        )
    elif not args.quiet:
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
    # Prefect's temporary server starts while the inputs are read (a bureau.yaml of 10,000
    # departments and their files: over a second); one that a wrong input leaves unused is stopped.
    _prefect_lines(args.verbose)
    _start_temporary_server()
    try:
        inputs = prepare(Path(args.sources), Path(args.outputs), args.year, args.from_published)
        if args.sign:
            sign(b"", Path(args.sign))
        return _run_prepared(args, inputs)
    except (BureauConfigError, SigningKeyError, PreviousYearError) as error:
        raise UsageError(str(error)) from None
    except (NotVerified, SubmissionChanged) as error:
        # Not published: the release as written failed verification (removed, latest as it was), or
        # a submission changed after its check (the checked bytes are gone); the check reports are written.
        print(f"nianbao: {error}", file=sys.stderr)
        if args.json:
            _print_json({"verdict": "not_published", "year": args.year, "message": str(error)})
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


def _prefect_lines(verbose: bool) -> None:
    """Prefect's log lines on stderr with -v, none otherwise; set before prefect is imported, which
    reads it."""
    if verbose:
        os.environ[PREFECT_CONSOLE_LEVEL] = "DEBUG" if os.environ.get(PREFECT_CONSOLE_LEVEL) == "DEBUG" else "INFO"
    else:
        os.environ.setdefault(PREFECT_CONSOLE_LEVEL, "CRITICAL")


def _start_temporary_server() -> None:
    """Prefect's temporary server started now, unless PREFECT_API_URL names another: it starts while
    this process imports prefect and gets the run going (flows/temporary_server.py)."""
    if not os.environ.get("PREFECT_API_URL"):
        from flows import temporary_server

        temporary_server.start()


def _run_prepared(args, inputs) -> int:
    from concurrent.futures.process import BrokenProcessPool

    # The terminal shows a progress bar and the verdict, or one line saying why the run stopped;
    # Prefect's own lines (a failed task's traceback among them) go to its logs, which the UI shows,
    # and with -v to stderr as well, in place of the progress bar (they say how far the run is).
    from flows.flow import PrefectUnreachable, progress_bar, run_flow  # imports prefect: only here

    console = _console(stderr=args.json)
    with _progress(console, args.quiet or args.verbose) as show:
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
            raise CannotRun(str(error)) from None  # it says what the run left (flow._Left)
        finally:
            progress_bar.reset(token)
    # For cron (--quiet): nothing on success; why not, or what else to know: a catalog not updated, a file replaced.
    if args.json:
        _print_json(run_json(outcome, Path(args.outputs)))
    elif args.quiet:
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


def _console(stderr: bool = False):
    """rich's console on stdout, or on stderr (the progress bar of a command printing `--json`)."""
    from rich.console import Console

    # Not a terminal (a log file, a pipe): wide enough that a department's row is one line.
    terminal = (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr) if terminal else Console(stderr=stderr, width=160, no_color=True)


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


def run_json(outcome, outputs: Path) -> dict:
    """`nianbao run --json`: whether the run published, what, and the errors that stopped it (docs/cli.md)."""
    publication = outcome.publication
    said = "not_published" if publication is None else "published" if publication.new else "unchanged"
    return {
        "verdict": said,
        "year": outcome.year,
        "bureau": outcome.bureau.id,
        "version": publication.version if publication else None,
        "release": str(outcome.release) if outcome.release else None,
        "departments": len(outcome.checked),
        "errors": len(outcome.errors),
        "warnings": sum(f.severity == "warning" for f in outcome.findings),
        "accepted": len(outcome.accepted),
        "blocking": [f.as_dict() for f in outcome.errors],
        "catalog_problem": publication.catalog_problem if publication else None,
        "replaced": list(publication.replaced) if publication else [],
        "checks": str(checks_folder(outputs, outcome.year) / CHECK_INDEX),
        "message": "\n".join(verdict(outcome)),
    }


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
        lines.append(f"已发布 {outcome.publication.version}，但 {outcome.publication.catalog_problem}")
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

    if args.levels:
        return _synth_tree(args)
    _refuse_to_overwrite(synthetic_files(Path(args.out), args.year, args.departments), args.force)
    injected = write_synthetic_bureau(Path(args.out), args.year, args.departments, args.seed, args.errors)
    print(
        f"已生成合成报送目录 {args.out}：{args.departments} 个部门，{args.year} 年度，注入错误 {len(injected)} 处"
        f"（见 {Path(args.out) / f'errors-{args.year}.csv'}）"
    )
    return 0


def _synth_tree(args) -> int:
    from flows.province import TreeError, parse_levels, plan, write_synthetic_tree

    try:
        levels = parse_levels(args.levels)
    except TreeError as error:
        raise UsageError(str(error)) from None
    out = Path(args.out)
    bureaus = plan(levels)
    if not args.force:
        _refuse_to_overwrite([out / b.id for b in bureaus] + [out / "keys", out / f"errors-{args.year}.csv"], False)
    injected = write_synthetic_tree(out, args.year, levels, args.seed, args.errors, workers=os.cpu_count() or 1)
    departments = sum(len(b.children) for b in bureaus if b.departments)
    print(
        f"已生成合成的机关树 {out}：{len(bureaus)} 个机关、{departments} 个部门，{args.year} 年度，"
        f"注入错误 {len(injected)} 处（见 {out / f'errors-{args.year}.csv'}）；逐级汇总：nianbao rollup {out} --year {args.year}"
    )
    return 0


def cmd_rollup(args) -> int:
    from flows.province import TreeError
    from flows.release.lock import RunInProgress

    _prefect_lines(args.verbose)
    _start_temporary_server()
    from flows.flow import PrefectUnreachable, run_rollup  # imports prefect: after the lines above

    try:
        built = run_rollup(Path(args.tree), args.year, args.runner, args.dask_address)
    except (TreeError, RunInProgress) as error:
        raise UsageError(str(error)) from None
    except PrefectUnreachable as error:
        raise CannotRun(str(error)) from None
    except OSError as error:
        if error.errno not in STORAGE:
            raise
        raise CannotRun(f"{STORAGE[error.errno]}：{error.filename or ''}（{error.strerror or error}）") from None
    blocked = [b for b in built.values() if b.published is None]
    if args.json:
        bureaus = [
            {
                "id": b.id,
                "published": b.published,
                "live": b.live,
                "errors": list(b.errors),
                "handed_up": b.handed_up,
                "ran": b.ran,
            }
            for b in built.values()
        ]
        _print_json({"verdict": "not_published" if blocked else "published", "year": args.year, "bureaus": bureaus})
        return BLOCKED if blocked else PUBLISHED
    for b in blocked:
        live = f"上级用其仍在发布的 {b.live} 版" if b.live else "上级缺少它"
        print(f"未发布  {b.id}：{len(b.errors)} 个错误（{live}）")
        for message in b.errors[:3]:
            print(f"    - {message}")
    root = list(built.values())[-1]
    print(
        f"{args.year} 年度逐级汇总：{len(built)} 个机关，{len(built) - len(blocked)} 个已发布，{len(blocked)} 个未发布；"
        f"根机关 {root.id}：{f'{root.live} 版' if root.live else '未发布'}"
    )
    return BLOCKED if blocked else PUBLISHED


def cmd_trace(args) -> int:
    from flows.release.trace import BrokenChain, TraceError, lines, trace

    if not Path(args.release).exists():
        raise UsageError(f"找不到发布包：{args.release}")
    row = "" if args.row == "-" else args.row
    try:
        hops = trace(Path(args.release), args.table, row, args.column, args.unit)
    except BrokenChain as error:  # the release is not what it claims
        if args.json:
            _print_json({"verdict": "broken", "error": str(error)})
        else:
            print(f"追溯链断开：{error}", file=sys.stderr)
        return BLOCKED
    except TraceError as error:  # no such figure or unit, or several to choose from: a wrong call
        raise UsageError(str(error)) from None
    if args.json:
        document = {
            "verdict": "traced",
            "release": args.release,
            "table": args.table,
            "row": row,
            "column": args.column,
        }
        _print_json({**document, "hops": [h.as_dict() for h in hops]})
        return PUBLISHED
    print("\n".join(lines(hops)))
    return PUBLISHED


def cmd_compare(args) -> int:
    from flows.release.comparison import NoSuchRelease, write_comparison

    try:
        page = write_comparison(Path(args.outputs), args.a, args.b, args.units, Path(args.out) if args.out else None)
    except NoSuchRelease as error:
        raise UsageError(str(error)) from None
    print(f"已写出对比：{page}（及 {page.parent / 'comparison.xlsx'}）")
    return 0


def cmd_report(args) -> int:
    from flows.intake.previous import PreviousYearError, live_release
    from flows.places import reports_folder
    from flows.release.unit_reports import NotARelease, NotVouched, link_from_reports, render_reports

    named, compared, out = Path(args.release), None, Path(args.out) if args.out else None
    if args.release.isdigit() and not named.exists():  # a year: its live release under --outputs
        try:
            year = _year(args.release)
        except argparse.ArgumentTypeError as error:
            raise UsageError(str(error)) from None
        try:
            release = live_release(Path(args.outputs), year)
        except PreviousYearError as error:
            raise UsageError(str(error)) from None
        if release is None:
            raise UsageError(f"{args.outputs} 中没有 {year} 年度已发布的版本")
        if out is None:  # there, beside checks/<year>/, the link to last year's comparison resolves
            out, compared = reports_folder(Path(args.outputs), year), link_from_reports(Path(args.outputs), year)
        named = release
    try:
        rendered = render_reports(named, out, args.unit, compared, default_out=_reports_out)
    except NotARelease as error:
        raise UsageError(str(error)) from None
    except NotVouched as error:
        if args.json:
            _print_json({"verdict": "refused", "release": args.release, "error": str(error)})
        else:
            print(f"nianbao: {error}", file=sys.stderr)
        return BLOCKED
    folder = rendered.out
    if args.json:
        files = [{"unit": unit, "html": str(html), "docx": str(docx)} for unit, html, docx in rendered.files]
        document = {"verdict": "written", "release": args.release, "year": rendered.year, "version": rendered.version}
        _print_json({**document, "out": str(folder), "compared": compared, "reports": files})
        return PUBLISHED
    units = [unit for unit, _, _ in rendered.files]
    shown = "、".join(units[:5]) + (f"等 {len(units)} 个单位" if len(units) > 5 else "")
    print(f"已写出 {rendered.year} 年度（版本 {rendered.version}）{shown}的年度报告（<单位>.html 与 .docx）：{folder}")
    if compared:
        print(f"网页版链接到与上年的对比：{compared}")
    return PUBLISHED


def _reports_out(bureau: str, year: int, version: str) -> Path:
    """`nianbao report RELEASE`'s folder without --out: in the current directory, named after the release."""
    return Path(f"{bureau}-{year}-{version}-reports")


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
    failed = sum(not c.passed for c in results)
    if args.json:
        checks = [{"name": c.name, "passed": c.passed, "problems": c.problems} for c in results]
        _print_json({"verdict": "invalid" if failed else "valid", "path": args.path, "checks": checks})
        return 1 if failed else 0
    for result in results:
        print(f"{'通过' if result.passed else '未通过'}  {result.name}")
        for problem in result.problems[:50]:
            print(f"    - {problem}")
        if len(result.problems) > 50:
            print(f"    - ……另有 {len(result.problems) - 50} 处")
    print(f"核验结论：{'全部通过' if not failed else f'{failed} 项未通过'}（共 {len(results)} 项）")
    return 1 if failed else 0


def _command(sub, name: str, summary: str, description: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """A command's parser: its summary in `nianbao --help`, and in its own help its examples and exit statuses."""
    examples, statuses = COMMANDS[name]
    return sub.add_parser(
        name, help=summary, description=description or summary, epilog=_epilog(examples, statuses), **kwargs
    )


def _sources(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--sources",
        metavar="DIR",
        default=_folder(SOURCES_VARIABLE, "sources"),
        help=f"报送目录（含 bureau.yaml 与 <年度>/ 子目录）；环境变量 {SOURCES_VARIABLE} 可设其默认值",
    )


def _outputs(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--outputs",
        metavar="DIR",
        default=_folder(OUTPUTS_VARIABLE, "outputs"),
        help=f"发布目录；环境变量 {OUTPUTS_VARIABLE} 可设其默认值",
    )


def _force(command: argparse.ArgumentParser) -> None:
    command.add_argument("--force", action="store_true", help="覆盖已存在的文件（默认拒绝覆盖）")


def _json(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--json", action="store_true", help=f"在标准输出上只输出一个 JSON 文档：{what}（见 docs/cli.md）"
    )


def parser() -> argparse.ArgumentParser:
    p = ChineseParser(
        prog="nianbao",
        description="政府信息公开工作年度报告：检查、汇总、发布",
        epilog=_epilog(TOP_EXAMPLES, EXIT_STATUSES),
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"nianbao {_installed_version()}",
        help="显示版本号（nianbao <版本>）并退出",
    )
    sub = p.add_subparsers(
        dest="command", required=True, title="命令", metavar="COMMAND", help="nianbao COMMAND --help 显示该命令的说明"
    )

    run = _command(
        sub,
        "run",
        "运行年度流程：读取、检查、汇总各部门报表并发布数据包",
        "运行年度流程：读取、检查、汇总各部门报表并发布数据包；检查报告无论是否发布都会写出",
    )
    run.add_argument("year", type=_year, metavar="YEAR", help="报告年度（四位数字，如 2021）：读取 <报送目录>/<年度>/")
    _sources(run)
    _outputs(run)
    run.add_argument("--reason", metavar="TEXT", help="更正发布的原因（写入新版本的变更记录；默认无）")
    run.add_argument(
        "--sign", metavar="KEYFILE", help="用本机关的 Ed25519 私钥签署发布包的哈希清单（默认不签署；见 nianbao keygen）"
    )
    run.add_argument(
        "--runner",
        choices=RUNNERS,
        default="auto",
        help="读取与检查的执行方式：本进程线程、每核一个进程、Dask 集群；auto：报送超过 200 份时用进程",
    )
    run.add_argument(
        "--dask-address", metavar="URL", help="Dask 集群调度器地址（--runner dask；默认在本机起两个 worker）"
    )
    run.add_argument("--quiet", action="store_true", help="不显示进度与汇总表，只在未发布时输出错误（适合 cron）")
    run.add_argument(
        "-v", "--verbose", action="store_true", help="在标准错误上显示 Prefect 的日志行（代替进度条；默认不显示）"
    )
    _json(run, "verdict（published、unchanged、not_published）、版本、发布目录、错误与警告数、阻止发布的错误")
    run.add_argument(
        "--from-published",
        action="store_true",
        help="读取 <年度>/published/ 中各部门已发布的年度报告（网页、Word、PDF、文本）而不是工作簿：补录使用 nianbao 之前的年度",
    )
    run.set_defaults(handler=cmd_run)

    check = _command(sub, "check", "检查部门报表（工作簿）或发布的年度报告（网页、Word、PDF、文本），不发布")
    check.add_argument(
        "files", nargs="+", metavar="FILE", help="要检查的文件：工作簿（xlsx、xls、ods）或发布的报告，按内容识别"
    )
    check.add_argument("--year", type=_year, required=True, help="报告年度（必填）")
    check.add_argument("--unit", metavar="ID", help="部门代码（默认取文件名）")
    _json(check, "verdict（valid、invalid、unreadable）与每个文件的检查发现")
    check.add_argument(
        "--previous",
        metavar="PATH",
        help="上年报表（工作簿或发布的报告）或上年发布包（目录或 datapackage.json），用于跨年度核对（默认不核对，报 D0）",
    )
    check.add_argument("--level", choices=LEVELS, help="本机关层级（规则 C3、C4；默认按部门核对）")
    check.add_argument("--html", metavar="DIR", help="把检查报告（HTML 与 JSON）写入该目录（默认不写）")
    check.set_defaults(handler=cmd_check)

    imported = _command(
        sub,
        "import",
        "读取发布的年度报告（网页、Word、PDF、文本）：输出其数字、正文与检查发现，或写成填报工作簿与 report.md",
    )
    imported.add_argument("files", nargs="+", metavar="FILE", help="发布的年度报告：网页、Word、PDF 或文本，按内容识别")
    imported.add_argument("--year", type=_year, help="所报告的年度（默认取报告标题中的年度）")
    _json(imported, "verdict（valid、invalid、unreadable），每份报告的单位、年度、格式、三张表、六部分正文、检查发现")
    imported.add_argument(
        "--out",
        metavar="DIR",
        help="写出 <部门代码>.xlsx（本年度填报模板）与 <部门代码>.md（正文），可放入 sources/<年度>/（默认不写）",
    )
    imported.add_argument("--unit", metavar="ID", help="部门代码（--out 写出的文件名；默认取文件名）")
    _force(imported)
    imported.set_defaults(handler=cmd_import)

    audit = _command(
        sub, "audit", "检查一个目录中所有发布的年度报告，写出可浏览的汇总（index.html、reports.csv、findings.csv）"
    )
    audit.add_argument(
        "folder", metavar="DIR", help="存放发布的报告的目录（含子目录；按内容识别网页、Word、PDF、文本）"
    )
    audit.add_argument("--out", metavar="DIR", help="写入汇总的目录（默认 <目录名>-audit）")
    audit.add_argument("--year", type=_year, help="所报告的年度（默认取各报告标题中的年度）")
    audit.add_argument("--workers", type=int, metavar="N", help="工作进程数（默认每核一个）")
    audit.add_argument("--quiet", action="store_true", help="不显示进度与结论")
    _json(audit, "verdict（valid、invalid）、有错误的报告数与每份报告的一行")
    audit.set_defaults(handler=cmd_audit)

    verify = _command(sub, "verify", "核验发布包：哈希、表结构、规则、汇总数与报送文件")
    verify.add_argument("path", metavar="PATH", help="发布目录（如 outputs/2021/latest）或其 zip")
    verify.add_argument("--key", metavar="PUBKEY", help="本机关的公钥：核验发布包的签名（默认不核验签名）")
    _json(verify, "verdict（valid、invalid）与每项核验的结果")
    verify.set_defaults(handler=cmd_verify)

    push = _command(sub, "push", "把某年度的最新版本推送到 CKAN 门户（旧名称 publish）", aliases=["publish"])
    push.add_argument("year", type=_year, metavar="YEAR", help="要推送的年度：其当前发布的版本")
    push.add_argument("--ckan", required=True, metavar="URL", help="CKAN 门户地址（必填）")
    _outputs(push)
    push.add_argument("--api-key", metavar="KEY", help="CKAN API 密钥（默认取环境变量 CKAN_API_KEY）")
    push.add_argument("--org", metavar="ORG", help="CKAN 组织（owner_org，名称或 id），必填")
    push.add_argument(
        "--max-upload-mb",
        type=float,
        metavar="MB",
        help="门户允许上传的最大文件（默认 10，即 CKAN 的 ckan.max_resource_size 默认值）；更大的文件以 base_url 下的链接发布",
    )
    push.set_defaults(handler=cmd_push)

    cron = "运行时间（cron，北京时间；默认每年 1 月 5 日 9:00，报告上一年度）"
    serve = _command(
        sub,
        "serve",
        "按年度计划（每年一月）自动运行流程",
        "按年度计划在本机运行流程（部署 nianbao-annual/<机关代码>-serve）；Prefect 的日志显示在标准错误上",
    )
    _sources(serve)
    _outputs(serve)
    serve.add_argument("--cron", default=ANNUAL_CRON, help=cron)
    serve.set_defaults(handler=cmd_serve)

    deploy = _command(
        sub, "deploy", "在 Prefect 服务器（PREFECT_API_URL）上创建工作池与年度部署，由 prefect worker 按计划运行"
    )
    _sources(deploy)
    _outputs(deploy)
    deploy.add_argument("--cron", default=ANNUAL_CRON, help=cron)
    deploy.add_argument("--pool", default="nianbao", metavar="NAME", help="工作池名称（process 类型；不存在时创建）")
    deploy.set_defaults(handler=cmd_deploy)

    synth = _command(sub, "synth", "生成合成的报送目录（演示、负载测试与基准），或一棵逐级汇总的机关树")
    size = synth.add_mutually_exclusive_group(required=True)
    size.add_argument("--departments", type=int, metavar="N", help="一个机关的部门数；与 --levels 二选一，必填")
    size.add_argument(
        "--levels",
        metavar="SPEC",
        help="一棵机关树的各层与每个上级的下级个数，自上而下，最后一层为部门，如 city:14,county:10,department:70"
        "（省为根；每个机关一个报送目录与签名密钥，见 docs/rollup.md）；与 --departments 二选一，必填",
    )
    synth.add_argument("--year", type=_year, required=True, help="报告年度（必填）")
    synth.add_argument("--out", required=True, metavar="DIR", help="写入的报送目录（必填）")
    synth.add_argument("--seed", type=int, default=0, metavar="S", help="随机数种子：同一种子生成同样的数字")
    synth.add_argument(
        "--errors", type=int, default=0, metavar="K", help="注入的已知错误个数（记录在 errors-<年度>.csv）"
    )
    _force(synth)
    synth.set_defaults(handler=cmd_synth)

    rollup = _command(
        sub,
        "rollup",
        "逐级汇总一棵机关树：自下而上运行每个机关，下级签署的发布包作为上级的报送",
        "逐级汇总一棵机关树（<目录>/<机关代码>/bureau.yaml，如 nianbao synth --levels 所写）：自下而上运行每个机关，"
        "以 <目录>/keys/<机关代码>.key 签署，发布于 <目录>/outputs/<机关代码>/，仍在发布的版本交给上级",
    )
    rollup.add_argument("tree", metavar="DIR", help="机关树目录")
    rollup.add_argument("--year", type=_year, required=True, help="报告年度（必填）")
    rollup.add_argument(
        "--runner",
        choices=("processes", "threads", "dask"),
        default="processes",
        help="各机关的执行方式：每核一个进程、本进程、Dask 集群（子树在各 worker 上）",
    )
    rollup.add_argument(
        "--dask-address", metavar="URL", help="Dask 集群调度器地址（--runner dask；默认在本机起两个 worker）"
    )
    rollup.add_argument("-v", "--verbose", action="store_true", help="在标准错误上显示 Prefect 的日志行（默认不显示）")
    _json(rollup, "verdict（published、not_published）与每个机关的结果")
    rollup.set_defaults(handler=cmd_rollup)

    traced = _command(
        sub,
        "trace",
        "追溯一个数字：从发布包逐级向下，直到部门填报的工作簿单元格，每级一行（单位、版本与清单哈希、数值）",
    )
    traced.add_argument("release", metavar="RELEASE", help="发布包目录或其 zip")
    traced.add_argument(
        "table", metavar="TABLE", help="表代码：proactive_disclosure、applications 或 review_litigation"
    )
    traced.add_argument("row", metavar="ROW", help="行代码（如 new、disclosed）；表四只有一行，写 -")
    traced.add_argument("column", metavar="COLUMN", help="列代码（如 natural_person、total）")
    traced.add_argument(
        "--unit",
        metavar="ID",
        help="追溯哪个单位的数字：单位代码，或自上而下的路径（如 p-c01/p-c01-x03/d00007）；默认：该数字只来自一个下级单位时沿它追溯",
    )
    _json(
        traced, "verdict（traced、broken）与每一级（unit、level、value、version、manifest_sha256 或 file、sheet、cell）"
    )
    traced.set_defaults(handler=cmd_trace)

    compare = _command(sub, "compare", "对比两个年度（或两个版本）：网页与 xlsx")
    compare.add_argument("a", metavar="A", help="年度（其当前版本）、年度/版本（如 2021/1.0.0）或发布包目录")
    compare.add_argument("b", metavar="B", help="同上：与 A 对比的年度或版本")
    compare.add_argument("--units", nargs="+", metavar="ID", help="只列出这些部门（本机关总在其中；默认全部）")
    _outputs(compare)
    compare.add_argument("--out", metavar="DIR", help="写入的目录（默认 <发布目录>/compare/<A>-<B>/）")
    compare.set_defaults(handler=cmd_compare)

    report = _command(
        sub,
        "report",
        "按需生成单位的年度报告（网页版与 Word 版）：取自发布包的表格、单位名称与文字部分，先核对其哈希",
    )
    report.add_argument(
        "release",
        metavar="RELEASE",
        help="年度（--outputs 中其当前版本，如 2021），或发布包目录或其 zip",
    )
    report.add_argument(
        "--unit",
        action="append",
        metavar="ID",
        help="只生成该单位的报告（本机关或部门代码；可重复；默认发布包 data/reports.csv 中的每个单位）",
    )
    _outputs(report)
    report.add_argument(
        "--out",
        metavar="DIR",
        help="写入的目录（默认：给年度时 <发布目录>/reports/<年度>/，有与上年的对比时网页版链接到它；"
        "给发布包时当前目录下的 <机关代码>-<年度>-<版本>-reports/）",
    )
    _json(report, "verdict（written、refused）与每个单位写出的文件")
    report.set_defaults(handler=cmd_report)

    keys = _command(sub, "keygen", "生成用于签署发布包的 Ed25519 密钥对")
    keys.add_argument("--out", default=".", metavar="DIR", help="写入密钥的目录")
    keys.set_defaults(handler=cmd_keygen)

    template = _command(sub, "template", "生成某年度的填报模板")
    template.add_argument("year", type=_year, metavar="YEAR", help="报告年度：按其格式版本生成")
    template.add_argument("-o", "--output", metavar="FILE", help="写入的文件（默认 nianbao-template-<年度>.xlsx）")
    _force(template)
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
    command = parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (docs/cli.md): answered, then exits
        import argcomplete

        argcomplete.autocomplete(command)
    args = command.parse_args(argv)
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


def entry() -> None:
    """The `nianbao` command (pyproject.toml's script): main(), then out. Its exit handler, registered
    before any other, runs after them all (Prefect's, logging's, which flush what they hold), and
    ends the process without freeing its objects one by one: 1.5 s after a run of 10,000
    departments, for nothing. A traceback still ends the process the usual way."""
    status: list[int] = []
    atexit.register(_leave, status)
    status.append(main())
    sys.exit(status[0])


def _leave(status: list[int]) -> None:
    if not status:
        return
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe (piped into head) or stream: nothing to say
            stream.flush()
    os._exit(status[0])


if __name__ == "__main__":
    entry()
