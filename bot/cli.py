"""`dutybot`: the command line. The only place that prints errors and chooses exit codes.

Each command imports what only it uses: the bot (`bot.app`, the handlers, the runner) for
the commands that open it, the platforms and HTTP server for `run`, XlsxWriter for `report`,
python-docx for `record-book`. So `chat` and `check` start quickly, and `audit verify`,
`backup` and `restore`, which read the store alone, load none of it.

Exit codes: 0 fine, 1 the store or the run failed, 2 bad config or bad arguments.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import argparse_zh
from bot.clock import Clock, ShiftedClock, SystemClock
from bot.config import Config, ConfigError, LogSettings, load, store_path
from storage import backup, bindcodes
from storage.audit import describe_problems, describe_time, verify
from storage.errors import StoreError, os_why
from storage.upgrade import release

if TYPE_CHECKING:
    from schedules.model import Unit

log = logging.getLogger("dutybot")

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    argparse_zh.install()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=Path("config.toml"), metavar="文件",
                        help="配置文件（默认 ./config.toml；没有时使用内置的示例单位）")
    common.add_argument("--now", metavar="时刻",
                        help="假定现在是这个时刻（ISO 8601，如 2026-12-01T09:00；"
                             "不写时区即本单位时区）")
    parser = argparse.ArgumentParser(
        prog="dutybot",
        description="dutybot：把单位的责任清单变成聊天工具里的提醒、完成记录和台账。",
        epilog="各命令的选项：dutybot 命令 --help，如 dutybot chat --help",
    )
    parser.add_argument("--version", action="version", version=f"dutybot {release()}",
                        help="显示版本号并退出")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")
    chat = sub.add_parser("chat", parents=[common], help="在终端里与机器人对话",
                          description="在终端里与机器人对话；也可用管道逐行送入命令。")
    chat.add_argument("--as", dest="person", metavar="人员",
                      help="以谁的身份对话：姓名或 id（默认第一位管理员）")
    check = sub.add_parser("check", parents=[common], help="检查配置，列出组织、事项和近期截止",
                           description="检查配置文件，列出组织、责任事项、近期截止、日历和渠道；"
                                       "有误时指出文件、配置项和问题。")
    check.add_argument("--json", action="store_true", help="以 JSON 输出")
    sub.add_parser("run", parents=[common], help="运行机器人：每分钟检查提醒，接入已启用的渠道",
                   description="运行机器人：每分钟检查提醒，接入已启用的渠道；"
                               "按 Ctrl-C 或发送 SIGTERM 停止。")
    simulate = sub.add_parser("simulate", parents=[common],
                              help="预览一段时间内会发出的全部消息，不发送、不写入",
                              description="逐日列出这段时间内机器人会发出的每一条消息，"
                                          "不发送任何消息，也不写入数据。")
    simulate.add_argument("--from", dest="first", required=True, type=_day, metavar="日期",
                          help="开始日期，如 2026-01-01")
    simulate.add_argument("--to", dest="last", required=True, type=_day, metavar="日期",
                          help="结束日期，如 2026-12-31")
    simulate.add_argument("--format", choices=("text", "jsonl"), default="text",
                          help="text（默认，便于阅读）或 jsonl（每行一条 JSON）")
    report = sub.add_parser("report", parents=[common], help="生成年度（或半年）考核报表",
                            description="生成年度（或半年）落实情况报表：xlsx 含全部工作表，"
                                        "csv 只含完成记录明细。只读，可在机器人运行时使用。")
    report.add_argument("--year", type=int, required=True, metavar="年份", help="如 2026")
    report.add_argument("--half", type=int, choices=(1, 2), help="只统计上半年（1）或下半年（2）")
    report.add_argument("--out", type=Path, required=True, metavar="文件",
                        help="输出文件：文件名.xlsx 或 文件名.csv")
    book = sub.add_parser("record-book", parents=[common],
                          help="生成某单位全年的党支部工作记录（Word 文档）",
                          description="把某单位一年中已召开并记录纪实的会议，按召开时间先后"
                                      "写成党支部工作记录（.docx），每次会议一页。"
                                      "只读，可在机器人运行时使用。")
    book.add_argument("--unit", required=True, metavar="单位",
                      help="单位名称或 id，名称可简写，如 第一支部")
    book.add_argument("--year", type=int, required=True, metavar="年份", help="如 2026")
    book.add_argument("--out", type=Path, required=True, metavar="文件",
                      help="输出文件：文件名.docx")
    bind = sub.add_parser("bind-code", parents=[common],
                          help="生成绑定 Telegram 账号的一次性绑定码",
                          description="为某人生成一次性绑定码（24 小时内有效），"
                                      "本人在 Telegram 中发送「绑定 绑定码」即完成绑定。")
    bind.add_argument("person", metavar="人员", help="姓名或 id")
    backup = sub.add_parser("backup", parents=[common], help="备份数据目录（机器人运行时也可用）",
                            description="把数据目录（台账、任务与消息文件、会议纪实、附件）"
                                        "备份为一个 .tar.gz 文件，写完后读回核对；"
                                        "机器人运行时也可使用，不必停止。")
    backup.add_argument("--out", type=Path, metavar="文件",
                        help="备份文件（.tar.gz）；默认写入备份目录（[store] backups），"
                             "以时间命名")
    backup.add_argument("--keep", type=int, metavar="份数",
                        help="只保留备份目录中最近的这么多份自动命名的备份（用于每日定时备份）")
    restore = sub.add_parser("restore", parents=[common], help="从备份恢复到空的数据目录",
                             description="核对备份文件后恢复到空的（或尚不存在的）数据目录，"
                                         "再核对恢复后的台账；不会覆盖已有数据。")
    restore.add_argument("archive", type=Path, metavar="备份文件", help="dutybot backup 写出的文件")
    restore.add_argument("--into", type=Path, metavar="目录",
                         help="恢复到哪个目录（默认配置中的数据目录 [store] path）")
    audit = sub.add_parser("audit", help="核对台账", description="核对台账。")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="操作")
    audit_sub.add_parser("verify", parents=[common], help="核对台账的哈希链和数据文件",
                         description="逐条核对台账的哈希链、时间顺序和数据文件；"
                                     "有误时指出第一处并以 1 退出。只读，可在机器人运行时使用。")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _log_in_chinese(timestamps=args.command == "run")
    try:
        if args.command == "audit":  # the store alone: works while the config is being fixed
            return _audit_verify(store_path(_config_file(args.config)))
        if args.command == "restore":
            return _restore(args.archive, args.into or store_path(_config_file(args.config)))
        config = load(_config_file(args.config))
        clock = _clock(args.now, config)
        if args.command == "check":
            return _check(config, clock, args.json)
        if args.command == "simulate":
            return _simulate(config, clock, args.first, args.last, args.format)
        if args.command == "run":
            return _run(config, clock)
        if args.command == "bind-code":
            return _bind_code(config, clock, args.person)
        if args.command == "report":
            return _report(config, clock, args.year, args.half, args.out)
        if args.command == "record-book":
            return _record_book(config, clock, args.unit, args.year, args.out)
        if args.command == "backup":
            return _backup(config, clock, args.out, args.keep)
        return _chat(config, clock, args.person)
    except ConfigError as e:
        print(f"配置错误：{e}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"dutybot: {e}", file=sys.stderr)
        return 2
    except StoreError as e:
        print(f"数据错误：{e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`dutybot check | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _config_file(path: Path) -> Path:
    if not path.exists() and path == Path("config.toml"):
        print(f"dutybot: 未找到 ./config.toml，使用内置示例单位 {EXAMPLE_CONFIG}", file=sys.stderr)
        return EXAMPLE_CONFIG
    return path


def _clock(now: str | None, config: Config) -> Clock:
    system = SystemClock(config.org.timezone)
    if now is None:
        return system
    try:
        moment = datetime.fromisoformat(now)
    except ValueError:
        raise UsageError(f"--now「{now}」不是 ISO 8601 时刻，"
                         "应写成 2026-12-01 或 2026-12-01T09:00+08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.org.timezone)
    return ShiftedClock(moment, system)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"「{text}」不是日期，应写成 2026-01-01") from None


def _no_such_person(config: Config, who: str) -> str:
    """`--as 吴方`: say so, and name whom they may have meant."""
    names = [p.name for p in config.org.people.values()]
    ids = {p.id: p.name for p in config.org.people.values()}
    close = difflib.get_close_matches(who, names, n=3, cutoff=0.3)
    close += [ids[i] for i in difflib.get_close_matches(who, list(ids), n=3, cutoff=0.6)
              if ids[i] not in close]
    hint = f"，是不是：{'、'.join(close)}？" if close else "。"
    return f"配置中没有「{who}」这个人（可写姓名或 id）{hint}运行 dutybot check 可查看全部人员。"


def _chat(config: Config, clock: Clock, person: str | None) -> int:
    import asyncio

    from bot import runner
    from bot.app import App
    from bot.channels.console import ConsoleChannel
    from bot.delivery import Deliverer
    if person is not None and config.org.person(person) is None:
        raise UsageError(_no_such_person(config, person))
    sender = person or _default_person(config)
    logging.getLogger().setLevel(logging.ERROR)  # the chat is for replies; `check` warns
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401 - gives input() line editing, also for Chinese text
    app = App.open(config, clock)
    for warning in app.warnings(clock.now()):
        print(f"注意：{warning}", file=sys.stderr)
    try:
        audience = app.org.person(sender)
        console = ConsoleChannel(app.org, sys.stdin, sys.stdout, interactive,
                                 audience=audience.id if audience else sender)
        # With a real platform configured, reminders belong to `dutybot run`: a trial chat
        # must not take them (they would be marked sent and never reach WeCom/Telegram).
        live = config.any_channel
        outbound = {} if live else {console.name: console}
        deliverer = Deliverer(app, outbound, defer_unreached=True)
        deliverer.recover(clock.now())
        asyncio.run(runner.chat(app, console, deliverer, sender))
    except KeyboardInterrupt:  # Ctrl-C: end at once, politely
        print("\n再见。", flush=True)
    finally:
        app.close()
    return 0


LEVELS = {"DEBUG": "调试", "INFO": "信息", "WARNING": "注意", "ERROR": "错误",
          "CRITICAL": "严重"}


class _Chinese(logging.Formatter):
    """Log lines as an admin reads them: the level in Chinese (the source stays, for
    whoever has to look further)."""

    def format(self, record: logging.LogRecord) -> str:
        record.level_zh = LEVELS.get(record.levelname, record.levelname)
        return super().format(record)


PATTERN = "%(level_zh)s：%(message)s（%(name)s）"  # what it concerns: the module that logs
STAMPED = _Chinese(f"%(asctime)s {PATTERN}", datefmt="%Y-%m-%d %H:%M:%S")


def _log_in_chinese(timestamps: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(STAMPED if timestamps else _Chinese(PATTERN))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _log_to_file(settings: LogSettings) -> None:
    """`[log] file`: also a file, rotated at midnight, the last `keep_days` days kept."""
    if settings.file is None:
        return
    try:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        handler = TimedRotatingFileHandler(settings.file, when="midnight",
                                           backupCount=settings.keep_days, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"无法写入日志文件 {settings.file}（{os_why(e)}）：请检查配置 [log] file "
                         "和该目录的权限") from None
    handler.setFormatter(STAMPED)
    logging.getLogger().addHandler(handler)


class _Redact(logging.Filter):
    """Secrets never reach the log, whoever logs them (httpx logs Telegram URLs, which carry
    the bot token)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for s in self.secrets:
                message = message.replace(s, "***")
            record.msg, record.args = message, None
        return True


def _run(config: Config, clock: Clock) -> int:
    import asyncio

    from bot import runner
    from bot.app import App
    from bot.channels.base import ChannelStartFailed
    from bot.channels.console import ConsoleChannel
    from bot.delivery import Deliverer
    _log_to_file(config.log)
    logging.getLogger().setLevel(logging.INFO)
    for noisy in ("apscheduler", "httpx", "httpcore"):  # a line per request is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from bot.metrics import Metrics
    from bot.platforms import MissingSecret, connect
    secrets = [os.environ.get(name, "") for name in config.secret_env_names()]
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Redact(secrets))
    app = App.open(config, clock)
    for warning in app.warnings(clock.now()):
        log.warning("%s", warning)
    try:
        try:
            platforms = connect(config, app, os.environ)
        except MissingSecret as e:
            print(f"dutybot: 无法启动：{e}。运行 dutybot check 查看各渠道所需的环境变量。",
                  file=sys.stderr)
            return 2
        for note in platforms.notes:
            log.warning("%s", note)
        outbound = platforms.outbound
        if not outbound:  # no platform enabled: every message is printed on this console
            console = ConsoleChannel(app.org, sys.stdin, sys.stdout, False, audience=None)
            outbound = {console.name: console}
        metrics = Metrics()
        metrics.watch(lambda: runner.store_state(app))
        deliverer = Deliverer(app, outbound, defer_unreached=False, metrics=metrics)
        services = platforms.services(lambda: runner.health(app, deliverer), config.server,
                                      metrics)

        def started() -> None:
            serving = platforms.needs_server or config.server.configured
            for line in _running(config, list(outbound), serving, clock.now()):
                print(line, file=sys.stderr, flush=True)
        try:
            asyncio.run(runner.run(app, deliverer, services, on_started=started))
        except ChannelStartFailed as e:
            print(f"dutybot: 无法启动：{e}。", file=sys.stderr)
            return 2
        except OSError as e:
            print(f"dutybot: {e}", file=sys.stderr)
            return 1
    finally:
        app.close()
    return 0


STARTED = "dutybot 已启动"  # the first line `run` prints once it serves


def _running(config: Config, channels: list[str], server: bool, now: datetime) -> list[str]:
    """What `dutybot run` tells the admin it is doing, in Chinese."""
    from bot.runner import TICK_SECONDS
    from handlers.text import channel_name
    policy = config.reminders
    names = "、".join(channel_name(c) for c in channels)
    lines = [f"{STARTED}：{config.org.name}。"]
    if channels == ["console"]:
        lines.append("控制台模式：尚未启用企业微信或 Telegram，所有消息都打印在这里。")
    else:
        lines.append(f"渠道：{names}。")
    quiet = (f"，免打扰 {policy.quiet_start:%H:%M}–{policy.quiet_end:%H:%M}"
             if policy.quiet_start != policy.quiet_end else "")
    local = now.astimezone(config.org.timezone) + timedelta(seconds=TICK_SECONDS)
    lines.append(f"提醒：工作日 {policy.send_at:%H:%M} 发送{quiet}；每分钟检查一次，"
                 f"下一次 {local:%H:%M}。")
    if server:
        lines.append(f"HTTP 服务：http://{config.server.host}:{config.server.port}"
                     "（健康检查 /healthz，运行指标 /metrics）。")
    lines.append("停止：按 Ctrl-C，或发送 SIGTERM。")
    return lines


def _simulate(config: Config, clock: Clock, first: date, last: date, fmt: str) -> int:
    from bot import simulate
    from bot.app import make_calendar
    if last < first:
        raise UsageError("--to 早于 --from")
    begins = simulate.record_begins(config, first, clock.now())
    if begins is not None:
        print(f"注意：{first} 至 {min(last, begins - timedelta(days=1))} 早于数据目录的起始日 "
              f"{begins}，这些日子没有任务、不会发出提醒；预览从 {begins} 开始。",
              file=sys.stderr)
    with _progress((last - first).days + 1, "预览", "天") as bar:
        messages = simulate.simulate(config, first, last, make_calendar(config), clock.now(),
                                     on_day=bar.update)
        if fmt == "jsonl":
            for message in messages:
                print(simulate.as_jsonl(message))
        else:
            for line in simulate.as_text(messages, config):
                print(line)
    return 0


def _progress(total: int, what: str, unit: str) -> Any:
    """A progress bar on the terminal (stderr) for runs that take over a second; nothing
    when stderr is not a terminal (scripts, logs, tests)."""
    from tqdm import tqdm
    return tqdm(total=total, desc=what, unit=unit, delay=1.0, leave=False, file=sys.stderr,
                disable=not sys.stderr.isatty(), bar_format="{desc} {bar} {n}/{total} {unit}",
                ncols=min(shutil.get_terminal_size().columns, 100))  # a 0×0 pty: 80


def _check_output(out: Path, year: int, *suffixes: str) -> None:
    if out.suffix.lower() not in suffixes:
        raise UsageError(f"--out「{out}」应以 {' 或 '.join(suffixes)} 结尾")
    if not 2000 <= year <= 2100:
        raise UsageError(f"--year {year} 不是有效年份")
    if not out.parent.is_dir():
        raise UsageError(f"--out 的目录 {out.parent} 不存在")


WRITE_ERRORS = {errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限",
                errno.EISDIR: "已有同名的目录", errno.ENOSPC: "磁盘空间不足",
                errno.EROFS: "所在磁盘只读"}


def _cannot_write(out: Path, e: OSError) -> str:
    why = WRITE_ERRORS.get(e.errno or 0, f"系统错误 {e.errno}" if e.errno else "系统错误")
    return f"dutybot: 无法写入 {out}：{why}。原有文件（如有）未改动。"


def _report(config: Config, clock: Clock, year: int, half: int | None, out: Path) -> int:
    from bot.app import App
    from bot.report import Report, Span
    _check_output(out, year, ".xlsx", ".csv")
    now, span = clock.now(), Span.of(year, half)
    # Read-only: a report can be made beside the running bot, and changes nothing. It holds
    # the span's tasks alone, unless a meeting of the span fulfils a task of another.
    with _progress(8, "生成报表", "步") as bar:
        app = App.open(config, clock, read_only=True, counting_in=(span.first, span.last))
        try:
            report = Report(app.org, app.store, app.calendar, span, app.today(now))
            if report.lacks_tasks:
                app.close()
                app = App.open(config, clock, read_only=True)
                report = Report(app.org, app.store, app.calendar, span, app.today(now))
            bar.update()
            made = report.write(out, step=bar.update)
        except OSError as e:
            print(_cannot_write(out, e), file=sys.stderr)
            return 1
        finally:
            app.close()
    what = "完成记录明细" if out.suffix.lower() == ".csv" else "报表"
    print(f"已生成{what}：{out}（{span.label}：事项 {made.tasks} 项，"
          f"完成记录 {made.checkins} 条，升级督办 {made.escalations} 次，"
          f"会议 {made.meetings} 次，补学 {made.makeups} 项）")
    return 0


def _record_book(config: Config, clock: Clock, which: str, year: int, out: Path) -> int:
    from bot.app import App
    from bot.record_book import write_record_book
    _check_output(out, year, ".docx")
    unit = _find_unit(config, which)
    app = App.open(config, clock, read_only=True)  # beside the running bot, like `report`
    try:
        held = write_record_book(app.org, app.store, unit, year, clock.now(), out)
    except OSError as e:
        print(_cannot_write(out, e), file=sys.stderr)
        return 1
    finally:
        app.close()
    print(f"已生成党支部工作记录：{out}（{unit.name}，{year}年，已召开会议 {held} 次）")
    if not held:
        print(f"注意：{unit.name}{year}年没有已记录纪实的会议，文档中已注明。", file=sys.stderr)
    return 0


def _find_unit(config: Config, which: str) -> Unit:
    """A unit by id or name, a shortened name too (第一支部), as `查询` finds one."""
    from handlers.scope import Scope, find_owners
    org = config.org
    everywhere = Scope("", True, tuple(org.units), ())
    found = list(dict.fromkeys(owners[0] for owners in find_owners(org, everywhere, which)
                               if len(owners) == 1))
    if len(found) == 1:
        return org.units[found[0]]
    if found:
        several = "、".join(org.units[u].name for u in found)
        raise UsageError(f"「{which}」对应多个单位：{several}，请写全称或 id。")
    by_word = {u.name: u.name for u in org.units.values()} | {u.id: u.name
                                                              for u in org.units.values()}
    close = dict.fromkeys(by_word[w] for w in difflib.get_close_matches(
        which, list(by_word), n=3, cutoff=0))  # cutoff 0: always the nearest three
    raise UsageError(f"配置中没有「{which}」这个单位（可写名称或 id），最接近的是："
                     f"{'、'.join(close)}。运行 dutybot check 可查看全部单位。")


def _backup(config: Config, clock: Clock, out: Path | None, keep: int | None) -> int:
    if keep is not None and keep < 1:
        raise UsageError("--keep 至少为 1")
    now = clock.now()
    if out is None:
        config.backups.mkdir(parents=True, exist_ok=True)
        out = config.backups / backup.automatic_name(config.store_path, now)
    elif not out.name.endswith(".tar.gz"):
        raise UsageError(f"--out「{out}」应以 .tar.gz 结尾")
    elif not out.parent.is_dir():
        raise UsageError(f"--out 的目录 {out.parent} 不存在")
    made = backup.take(config.store_path, out, now, release())
    newest = f"，最新一条记于 {describe_time(made.last_at)}" if made.last_at else ""
    print(f"已备份：{made.path}（{made.files} 个文件，{made.size / 1e6:.1f} MB，"
          f"台账 {made.records} 条记录{newest}；已读回核对）")
    if keep is not None:
        for old in backup.prune(config.backups, config.store_path, keep):
            print(f"已删除较早的备份：{old}")
    return 0


def _restore(archive: Path, into: Path) -> int:
    done = backup.restore(archive, into)
    print(f"已恢复到 {done.folder}：{done.files} 个文件，台账 {done.records} 条记录，"
          f"备份时间 {describe_time(done.created)}；台账核对完好。")
    print("下一步：确认配置文件 [store] path 指向该目录，再启动 dutybot。")
    return 0


def _bind_code(config: Config, clock: Clock, who: str) -> int:
    from bot.channels import registry
    person = config.org.person(who)
    if person is None:
        raise UsageError(_no_such_person(config, who))
    channel = next(c for c in registry.CHANNELS if c.bindable)  # accounts bound by code
    hours = config.channels[channel.name].bind_code_hours
    code, expires = bindcodes.issue(config.store_path, person.id, clock.now(),
                                    timedelta(hours=hours))
    local = expires.astimezone(config.org.timezone)
    print(f"{person.name} 的绑定码：{code}")
    print(f"有效期至 {local:%Y-%m-%d %H:%M}（{hours} 小时），只能使用一次。"
          f"请当面或通过内部渠道交给本人，由本人向 {channel.label} 机器人发送：绑定 {code}")
    if config.channel(channel.name) is None:
        print(f"注意：配置中尚未启用 {channel.label}（[channels.{channel.name}] enabled = true）。",
              file=sys.stderr)
    return 0


def _default_person(config: Config) -> str:
    from schedules.model import Role
    people = list(config.org.people.values())
    chosen = next((p for p in people if p.has(Role.ADMIN)), people[0])
    print(f"dutybot: 以 {chosen.name} 的身份运行（用 --as 姓名 切换）", file=sys.stderr)
    return chosen.id


def _check(config: Config, clock: Clock, as_json: bool) -> int:
    """0 when the bot can run on this config; 1 when its store folder cannot be used."""
    from bot import summary
    from bot.app import make_calendar
    from bot.review import review
    now = clock.now()
    found = review(config, now, make_calendar(config))
    if as_json:
        document: dict[str, Any] = summary.as_json(config, now, timedelta(days=60), found)
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(summary.as_text(config, now, timedelta(days=60), found))
    return 1 if found.store_problem else 0


def _audit_verify(folder: Path) -> int:
    result = verify(folder)
    problems = describe_problems(result, folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"台账完好：共 {result.records} 条记录，哈希链连续，时间顺序正确，数据文件与台账一致"
          + (f"，最新一条记于 {describe_time(result.last_at)}" if result.last_at else "")
          + "。")
    if result.torn_tail:
        print("注意：最后一行是中断的写入（未确认的操作），"
              "bot 下次启动时会把它移到 ledger.jsonl.torn-* 文件。")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
