"""Plans as bureaus write them (issue 12): weekly and weekday rules, adjust, last period's
duties, event keywords, deputies and delegation — in config, validated, and lived through."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import ConfigError, load
from bot.delivery import Deliverer
from bot.report import Report, Span
from handlers import text
from schedules.calendar import WorkCalendar
from schedules.standing import Standing
from schedules.tasks import Status
from tests.builders import Chat, RecordingChannel, at, numbers_in

CAL = WorkCalendar()

WEEKLY = '''
[[duties]]
id = "weekly-study"
title = "每周五政治学习"
clause = "三.3"
cadence = "weekly"
owners = { kinds = ["office"] }
'''
FIRST_FRIDAY = '''
[[duties]]
id = "first-friday"
title = "主题党日（每月第一个周五）"
clause = "三.4"
cadence = "monthly"
due = "first-fri"
adjust = "next-workday"
owners = { units = ["branch-1"] }
'''
LAST_YEAR = '''
[[duties]]
id = "annual-report"
title = "年度述职"
clause = "三.1"
cadence = "yearly"
due = ["01-20"]
period = "previous"
owners = { role = "leader" }
'''
FLOOD = '''
[[duties]]
id = "flood"
title = "汛情处置"
clause = "附"
cadence = "event"
keyword = "汛情"
due = "2wd"
owners = { units = ["office"] }
'''


def with_text(path: Path, extra: str = "", replace: tuple[str, str] | None = None) -> Path:
    content = path.read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in content, replace[0]
        content = content.replace(*replace)
    path.write_text(content + extra, encoding="utf-8")
    return path


def year_of(path: Path, first: str, last: str, now: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["simulate", "--from", first, "--to", last, "--format", "jsonl",
                     "--config", str(path), "--now", now]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def tasks_of(messages: list[dict[str, Any]], prefix: str) -> dict[str, set[str]]:
    """Task key → the days (ISO) a message about it went out."""
    found: dict[str, set[str]] = {}
    for m in messages:
        for n in m["notices"]:
            if n.get("task", "").startswith(prefix):
                found.setdefault(n["task"], set()).add(m["at"][:10])
    return found


# ---- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("duty", "key", "says"), [
    ('cadence = "monthly"\ndue = "fri"', "due", "只适用于每周"),
    ('cadence = "monthly"\ndue = "5th-fri"', "due", "第 1 至第 4 个"),
    ('cadence = "monthly"\ndue = "25th-workday"', "due", "第 1 至第 19 个工作日"),
    ('cadence = "weekly"\ndue = ["06-20"]', "due", "不用月-日"),
    ('cadence = "weekly"\ndue = "someday"', "due", "first-fri"),
    ('cadence = "monthly"\nadjust = "sometimes"', "adjust", "previous-workday"),
    ('cadence = "as-required"\ndue = ["2026-12-01"]\nperiod = "previous"', "period",
     "只适用于按周期"),
    ('cadence = "event"', "keyword", "须写关键词"),
    ('cadence = "event"\nkeyword = "舆情"', "keyword", "已是事项"),
    ('cadence = "monthly"\nkeyword = "汛情"', "keyword", "只有随时发生"),
])
def test_plan_rules_are_validated_with_a_precise_error(config_path: Path, duty: str, key: str,
                                                       says: str) -> None:
    with_text(config_path, f'\n[[duties]]\nid = "x"\ntitle = "x"\nclause = "x"\n{duty}\n'
                           'owners = { units = ["office"] }\n')
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert caught.value.key.endswith(f"duties[19].{key}") and says in caught.value.problem


@pytest.mark.parametrize(("deputy", "says"), [("nobody", "没有 id 为"),
                                              ("wu-fang", "不能是负责人")])
def test_a_deputy_must_be_someone_else(config_path: Path, deputy: str, says: str) -> None:
    with_text(config_path, replace=('head = "wu-fang"\n',
                                    f'head = "wu-fang"\ndeputy = "{deputy}"\n'))
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert caught.value.key.endswith(".deputy") and says in caught.value.problem


# ---- a year of the new rules ------------------------------------------------------------------

def test_weekly_duties_fall_on_each_weeks_last_working_day(config_path: Path) -> None:
    with_text(config_path, WEEKLY)
    messages = year_of(config_path, "2026-01-05", "2026-12-31", "2026-01-04T12:00")
    app = App.open(load(config_path), FakeClock(at("2026-01-04 12:00")), read_only=True)
    app.close()
    weekly = tasks_of(messages, "weekly-study:office:")
    assert len(weekly) >= 50  # one per week, not 57 as-required dates
    for key in weekly:
        week = key.rsplit(":", 1)[1]
        monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
        days = [monday + timedelta(days=i) for i in range(7)]
        workdays = [d for d in days if CAL.is_workday(d)]
        if not workdays:
            continue
        text_of = next(m["text"] for m in messages if any(n.get("task") == key
                                                          for n in m["notices"]))
        assert f"{workdays[-1].month}月{workdays[-1].day}日" in text_of or "今天截止" in text_of
    national_day = "weekly-study:office:2026-W40"  # Mon 09-28 … holiday from Thursday
    assert national_day in weekly
    assert all(CAL.is_workday(date.fromisoformat(d)) for days in weekly.values() for d in days)


def test_first_fridays_and_last_years_duties(config_path: Path, tmp_path: Path) -> None:
    with_text(config_path, FIRST_FRIDAY + LAST_YEAR)
    clock = FakeClock(at("2026-11-02 10:00"))
    app = App.open(load(config_path), clock)
    try:
        first = {t.period: t.due for t in app.store.all_tasks() if t.duty == "first-friday"}
        assert first == {"2026-11": date(2026, 11, 6)}
        clock.set(at("2027-01-15 10:00"))  # 元旦 2027 is the first Friday: the next workday
        app.refresh(clock.now())
        first = {t.period: t.due for t in app.store.all_tasks() if t.duty == "first-friday"}
        assert first == {"2026-11": date(2026, 11, 6), "2026-12": date(2026, 12, 4),
                         "2027-01": date(2027, 1, 4)}
        report = app.store.task("annual-report:li-hongmei:2026")
        assert report is not None and report.due == date(2027, 1, 20)  # done in 2027, about 2026
        todo = Chat(app, clock, "李红梅").say("待办")
        assert "年度述职（本人 · 2026年）" in todo
        app.store.check_in(report.key, "li-hongmei", clock.now(), "已述职", "console")
        year_2026 = Report(app.org, app.store, app.calendar, Span.of(2026, None),
                           clock.now().date())
        year_2027 = Report(app.org, app.store, app.calendar, Span.of(2027, None),
                           clock.now().date())
        assert report.key in {t.key for t in year_2026.tasks}
        assert report.key not in {t.key for t in year_2027.tasks}
        overview = Chat(app, clock, "王建国").say("总览 2026")
        assert "李红梅（本人事项）" in overview
    finally:
        app.close()


# ---- event keywords ---------------------------------------------------------------------------

def test_each_event_opens_only_its_own_duty(config_path: Path) -> None:
    with_text(config_path, FLOOD)
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(load(config_path), clock)
    try:
        ma = Chat(app, clock, "马丽")
        assert ma.say("舆情 论坛帖子").startswith("已登记舆情")
        assert ma.say("上报 汛情 河道水位上涨").startswith("已登记汛情")
        assert ma.say("上报 火情 山火") == text.report_usage(["舆情", "汛情"])
        opened = [(t.duty, t.note) for t in app.store.all_tasks() if t.opened_by == "ma-li"]
        assert opened == [("opinion-incident", "论坛帖子"), ("flood", "河道水位上涨")]
        flood = next(t for t in app.store.all_tasks() if t.duty == "flood")
        assert flood.due == date(2026, 11, 30)  # two working days after Thursday
    finally:
        app.close()


# ---- deputies and delegation ------------------------------------------------------------------

@pytest.fixture
def deputy_bureau(config_path: Path) -> Iterator[tuple[App, FakeClock]]:
    """机关第一党支部 with 马丽 as the secretary's standing deputy."""
    with_text(config_path, replace=('head = "wu-fang"\n', 'head = "wu-fang"\ndeputy = "ma-li"\n'))
    clock = FakeClock(at("2026-11-20 10:00"))
    app = App.open(load(config_path), clock)
    yield app, clock
    app.close()


def test_a_deputy_gets_the_heads_reminders_and_records_for_the_unit(
        deputy_bureau: tuple[App, FakeClock]) -> None:
    app, clock = deputy_bureau
    channel = RecordingChannel()
    clock.set(at("2026-11-23 09:00"))
    Deliverer(app, {"console": channel}, False).run_pass(clock.now())
    assert sorted(channel.numbers_for("ma-li")) == sorted(channel.numbers_for("wu-fang"))
    assert channel.numbers_for("ma-li")
    ma = Chat(app, clock, "马丽")
    n = channel.numbers_for("ma-li")[0]
    assert f"【{n}】" in ma.say("待办") and text.acting_for("吴芳") in ma.say("待办")
    reply = ma.say(f"完成 {n} 已开展")
    assert reply.startswith(text.CHECKED_IN) and "代吴芳记录" in reply
    task = app.store.task_by_number(n)
    assert task is not None and task.checkin is not None
    assert (task.checkin.person, task.checkin.on_behalf_of) == ("ma-li", "wu-fang")
    last = app.store.ledger_path().read_text(encoding="utf-8").splitlines()[-1]
    assert '"on_behalf_of":"wu-fang"' in last  # the ledger says who acted for whom


def test_delegation_for_a_while(app: App, clock: FakeClock) -> None:
    wu, zheng = Chat(app, clock, "吴芳"), Chat(app, clock, "郑磊")
    assert wu.say("委托 郑磊 至11月30日") == text.delegated("郑磊", "11月30日（周一）")
    assert wu.say("委托").startswith("您目前委托给郑磊")
    assert wu.say("委托 吴芳") == text.DELEGATE_SELF
    channel = RecordingChannel()
    deliverer = Deliverer(app, {"console": channel}, False)
    clock.set(at("2026-11-27 09:00"))  # the eve of the November deadlines
    deliverer.run_pass(clock.now())
    mine = set(channel.numbers_for("wu-fang"))
    assert mine and mine <= set(channel.numbers_for("zheng-lei"))  # his own, and hers
    n = sorted(mine)[0]
    assert zheng.say(f"完成 {n}").startswith(text.CHECKED_IN)
    task = app.store.task_by_number(n)
    assert task is not None and task.checkin is not None
    assert task.checkin.on_behalf_of == "wu-fang"
    channel.sent.clear()
    clock.set(at("2026-12-01 09:00"))  # the delegation ended with 30 November
    deliverer.run_pass(clock.now())
    assert channel.numbers_for("wu-fang")
    assert not set(channel.numbers_for("wu-fang")) & set(channel.numbers_for("zheng-lei"))
    other = next(t for t in app.store.open_tasks() if t.owner == "branch-1")
    assert zheng.say(f"完成 {other.number}") == text.no_such_task(other.number)
    wu.say("委托 郑磊")
    assert wu.say("取消委托") == text.delegation_ended("郑磊")
    assert wu.say("取消委托") == text.NO_DELEGATION


# ---- config changes across a restart ----------------------------------------------------------

def test_a_changed_plan_retires_tasks_under_their_old_names(config_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    clock = FakeClock(at("2026-11-26 10:00"))
    App.open(load(config_path), clock).close()
    original = config_path.read_text(encoding="utf-8")
    changed = original.replace('''[[units]]
id = "branch-4"
name = "森林防火站党支部"
kind = "branch"
head = "he-jun"
committee = ["he-jun", "sun-li", "gao-yuan"]
supervisor = "liu-zhiqiang"
group = { name = "森林防火站党支部工作群", wecom_robot_key_env = "DUTYBOT_ROBOT_BRANCH_4" }
''', "").replace('due = ["2026-12-10", "2027-06-30"]', 'due = ["2027-06-30"]').replace(
        'id = "theme-day"\ntitle = "主题党日活动"\nclause = "三.4"\ncadence = "monthly"',
        'id = "theme-day"\ntitle = "主题党日活动"\nclause = "三.4"\ncadence = "weekly"')
    changed = changed.replace('units = ["branch-4"]', 'units = ["branch-3"]').replace(
        'units = ["discipline", "branch-4"]', 'units = ["discipline", "branch-3"]')
    config_path.write_text(changed, encoding="utf-8")

    assert main(["check", "--config", str(config_path), "--now", "2026-11-26T11:00"]) == 0
    said = capsys.readouterr().out
    assert "将停用" in said and "森林防火站党支部" in said and "向市委及主管部门汇报" in said
    assert "将开始" in said and "主题党日活动 — 机关第一党支部" in said

    clock.set(at("2026-12-03 10:00"))  # after a restart, November overdue everywhere
    app = App.open(load(config_path), clock)
    try:
        gone = [t for t in app.store.all_tasks() if t.owner == "branch-4"]
        assert gone and all(t.owner_name == "森林防火站党支部" for t in gone)
        channel = RecordingChannel()
        Deliverer(app, {"console": channel}, False).run_pass(clock.now())
        sent = {n for who in ("he-jun", "liu-zhiqiang", "zhao-min")
                for n in channel.numbers_for(who)}
        assert not sent & {t.number for t in gone}  # no reminder, no escalation
        admin = Chat(app, clock, "赵敏")
        assert not set(numbers_in(admin.say("逾期"))) & {t.number for t in gone}
        weekly = [t for t in app.store.all_tasks() if t.duty == "theme-day"
                  and t.period.startswith("2026-W")]
        monthly_open = [t for t in app.store.all_tasks() if t.duty == "theme-day"
                        and t.period == "2026-12" and t.status is Status.OPEN]
        assert weekly and not any(t.due < date(2026, 11, 26) for t in weekly)  # no backlog
        assert not monthly_open  # one live task per period: no December monthly one
        overview = Chat(app, clock, "王建国").say("总览 2026-H2")
        report = Report(app.org, app.store, app.calendar, Span.of(2026, 2), clock.now().date())
        total = sum((report.standing_of(o) for o in report.owners()), start=Standing())
        assert "森林防火站党支部" in " ".join(report.owner_label(o) for o in report.owners())
        assert total.retired >= len([t for t in gone if t.status is Status.OPEN])
        counted = [int(x) for x in re.findall(r"应完成 (\d+) 项", overview)]
        assert sum(counted) == total.due  # 总览 and the report agree
        status = Chat(app, clock, "王建国").say("查询 何军")
        assert "森林防火站党支部" not in status  # the unit is gone from the config…
        shown = Chat(app, clock, "王建国").say("查询 我")  # …but its tasks keep their names
        assert shown
        retired_line = text.describe(app.org, gone[0])
        assert "森林防火站党支部" in retired_line and "branch-4" not in retired_line
    finally:
        app.close()


def test_a_moved_deadline_is_announced_once(config_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock(at("2026-11-26 10:00"))
    App.open(load(config_path), clock).close()
    with_text(config_path, replace=('due = ["06-20", "12-20"]            # 留出时间给机关党委汇总',
                                    'due = ["06-20", "12-20"]\nadjust = "previous-workday"'))
    assert main(["check", "--config", str(config_path), "--now", "2026-11-30T10:00"]) == 0
    said_by_check = capsys.readouterr().out
    assert "将改截止日 3 项" in said_by_check and "12-20 → 12-18" in said_by_check
    clock.set(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    try:
        task = app.store.task("office-summary:office:2026-H2")
        assert task is not None and task.due == date(2026, 12, 18)  # 12-20 is a Sunday
        channel = RecordingChannel()
        deliverer = Deliverer(app, {"console": channel}, False)
        deliverer.run_pass(clock.now())
        deliverer.run_pass(clock.now() + timedelta(minutes=5))
        clock.set(at("2026-12-02 09:00"))
        deliverer.run_pass(clock.now())
        said = [t for t in channel.texts_for("zhou-tao") if "截止日已由" in t]
        assert len(said) == 1 and "12月20日" in said[0] and "12月18日" in said[0]
    finally:
        app.close()


# ---- check before harm is done ----------------------------------------------------------------

def test_check_warns_before_harm(config_path: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with_text(config_path, '\n[channels.wecom]\nenabled = true\ncorp_id = "ww1"\n'
                           'agent_id = 1\ntoken_env = "T"\naes_key_env = "A"\nsecret_env = "S"\n',
              replace=('wecom_userid = "HeJun"\n', ''))
    with_text(config_path, replace=('roles = ["admin"]\n', ''))
    assert main(["check", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "何军（森林防火站党支部负责人）收不到提醒" in out
    assert "没有管理员" in out
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with_text(config_path, replace=('path = "data/example"', f'path = "{blocked}"'))
    assert main(["check", "--config", str(config_path)]) == 1
    assert "是一个文件，不是目录" in capsys.readouterr().out


def test_simulate_says_which_days_precede_the_record(config_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    App.open(load(config_path), FakeClock(at("2026-11-20 10:00"))).close()
    assert main(["simulate", "--from", "2026-11-01", "--to", "2026-11-25", "--config",
                 str(config_path), "--now", "2026-11-20T11:00"]) == 0
    said = capsys.readouterr()
    assert "2026-11-01 至 2026-11-19 早于数据目录的起始日 2026-11-20" in said.err
    assert "2026-11-0" not in said.out  # nothing shown for those days

