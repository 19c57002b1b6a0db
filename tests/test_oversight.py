"""The leaders' view end to end: scope (every role × every query command × a target in and
out of scope), 总览 over periods, 豁免, and an opinion incident from report to check-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import Config
from bot.delivery import Deliverer
from handlers import text
from handlers.scope import scope_of
from schedules.tasks import Status
from tests.builders import Chat, RecordingChannel, at

# After November's deadline (Mon 11-30): every branch's November tasks are overdue.
NOW = "2026-12-03 10:00"

# role → (person, units whose tasks they may see)
ALL_UNITS = {"party-group", "party-committee", "discipline", "office",
             "branch-1", "branch-2", "branch-3", "branch-4"}
ROLES = {
    "party-secretary": ("王建国", ALL_UNITS),
    "admin": ("赵敏", ALL_UNITS),
    "supervising-leader": ("张伟", {"branch-2", "branch-3"}),
    "unit-head": ("郑磊", {"branch-2"}),
    "member": ("马丽", set()),
}
UNIT_NAMES = {"branch-1": "机关第一党支部", "branch-2": "机关第二党支部",
              "branch-3": "林业技术推广站党支部", "branch-4": "森林防火站党支部",
              "office": "办公室", "party-committee": "机关党委"}
SHORT = {"branch-1": "第一支部", "branch-2": "第二支部", "branch-4": "防火站"}


@pytest.fixture
def late(config: Config) -> Iterator[tuple[App, FakeClock]]:
    clock = FakeClock(at("2026-11-26 10:00"))  # the bureau started using the bot
    app = App.open(config, clock)
    clock.set(at(NOW))
    app.refresh(clock.now())
    yield app, clock
    app.close()


def say(late: tuple[App, FakeClock], who: str, message: str, message_id: str | None = None
        ) -> str:
    app, clock = late
    return Chat(app, clock, who).say(message, message_id=message_id)


def number(app: App, key: str) -> int:
    task = app.store.task(key)
    assert task is not None
    return task.number


def units_listed(reply: str) -> set[str]:
    return {u for u, name in UNIT_NAMES.items() if name in reply}


def overdue_units(app: App, reply: str) -> set[str]:
    owners = set()
    for n in re.findall(r"【(\d+)】", reply):
        task = app.store.task_by_number(int(n))
        assert task is not None
        owners.add(task.owner)
    return owners


# ---- scope matrix ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("unit", sorted(SHORT))
def test_status_shows_a_unit_in_scope_and_hides_one_outside(
        late: tuple[App, FakeClock], role: str, unit: str) -> None:
    person, visible = ROLES[role]
    reply = say(late, person, f"查询 {SHORT[unit]}")
    if unit in visible:
        assert reply.startswith(UNIT_NAMES[unit]) and "已逾期" in reply
        assert overdue_units(late[0], reply) == {unit}
    else:
        nowhere = say(late, person, "查询 第九支部")
        assert reply.replace(SHORT[unit], "X") == nowhere.replace("第九支部", "X")
        assert UNIT_NAMES[unit] not in reply and not re.search(r"【\d+】", reply)


@pytest.mark.parametrize("role", ROLES)
def test_overview_lists_exactly_the_units_in_scope(late: tuple[App, FakeClock],
                                                   role: str) -> None:
    person, visible = ROLES[role]
    reply = say(late, person, "总览")
    if not visible:
        assert reply == text.NO_SCOPE
        return
    assert reply.startswith("【总览】2026年下半年")
    assert units_listed(reply) == visible & set(UNIT_NAMES)
    assert overdue_units(late[0], reply) <= visible | {ROLES[role][0]}


@pytest.mark.parametrize("role", ROLES)
def test_overdue_lists_only_tasks_in_scope(late: tuple[App, FakeClock], role: str) -> None:
    app = late[0]
    person, visible = ROLES[role]
    reply = say(late, person, "逾期")
    expected = {t.owner for t in app.store.open_tasks()
                if t.owner in visible and t.due.isoformat() < NOW[:10]}
    if not expected:
        assert reply == text.OVERDUE_NONE
        return
    assert {"branch-2"} <= expected  # November's 三会一课 and 主题党日, at least
    assert overdue_units(app, reply) == expected
    assert "已逾期3个工作日" in reply  # 12-01, 12-02, 12-03


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("unit", ["branch-1", "branch-2"])
def test_excuse_in_scope_and_out(late: tuple[App, FakeClock], role: str, unit: str) -> None:
    app = late[0]
    person, visible = ROLES[role]
    n = number(app, f"theme-day:{unit}:2026-11")
    reply = say(late, person, f"豁免 {n} 支部书记病假，并入下月")
    task = app.store.task_by_number(n)
    assert task is not None
    may = role in ("party-secretary", "admin") or (role == "supervising-leader"
                                                    and unit in visible)
    if may:
        assert reply.startswith("已豁免") and task.status is Status.EXCUSED
        assert task.excuse is not None and task.excuse.reason == "支部书记病假，并入下月"
    elif unit in visible:  # the head sees the unit's task but may not excuse it
        assert "豁免需由该单位的分管领导" in reply and task.status is Status.OPEN
    else:
        assert reply == text.excuse_not_found(n) and task.status is Status.OPEN
        assert say(late, person, "豁免 99999 x") == text.excuse_not_found(99999)


def test_scope_of_follows_the_org(config: Config) -> None:
    org = config.org
    liu = scope_of(org, org.people["liu-zhiqiang"])
    assert liu.units == ("party-committee", "discipline", "branch-4")
    assert liu.people == ("liu-zhiqiang",) and not liu.everything
    assert scope_of(org, org.people["zhao-min"]).everything
    assert scope_of(org, org.people["zhou-tao"]).units == ("office",)


def test_a_person_is_found_through_the_units_they_head(late: tuple[App, FakeClock]) -> None:
    reply = say(late, "张伟", "查询 郑磊")
    assert reply.startswith("机关第二党支部") and overdue_units(late[0], reply) == {"branch-2"}
    assert "没有找到您可查询的「吴芳」" in say(late, "张伟", "查询 吴芳")
    mine = say(late, "张伟", "查询 本人")
    assert mine.startswith("张伟") and overdue_units(late[0], mine) == {"zhang-wei"}


def test_an_ambiguous_name_asks_for_the_full_one(late: tuple[App, FakeClock]) -> None:
    reply = say(late, "王建国", "查询 支部")
    assert "对应多个单位或人员" in reply and "机关第一党支部" in reply


# ---- 总览 over periods -----------------------------------------------------------------

def test_overview_counts_match_the_store(late: tuple[App, FakeClock]) -> None:
    app = late[0]
    n = number(app, "theme-day:branch-1:2026-11")
    assert text.CHECKED_IN in say(late, "吴芳", f"打卡 {n} 已开展")
    m = number(app, "three-meetings-group:branch-1:2026-11")
    say(late, "李红梅", f"豁免 {m} 合并开展")
    reply = say(late, "李红梅", "总览")
    row = next(line for line in reply.splitlines() if line.startswith("· 机关第一党支部"))
    h2 = [t for t in app.store.tasks_of(["branch-1"])
          if "2026-07-01" <= t.due.isoformat() <= "2026-12-31"]
    done = sum(t.status is Status.DONE for t in h2)
    assert row.startswith(f"· 机关第一党支部：应完成 {len(h2)} 项，已完成 {done}，已豁免 1，逾期 1")
    assert "未到期" in row  # December's and Q4's tasks


def test_overview_of_a_past_half_year(config: Config) -> None:
    clock = FakeClock(at("2026-01-05 10:00"))  # a store that has lived through 2026-H1
    app = App.open(config, clock)
    try:
        n = app.store.task("theme-day:branch-1:2026-01")
        assert n is not None
        app.store.check_in(n.key, "wu-fang", at("2026-01-20 10:00"), "", "console")
        clock.set(at("2026-07-10 10:00"))
        app.refresh(clock.now())
        reply = Chat(app, clock, "王建国").say("总览 2026-H1")
        assert reply.startswith(text.overview_header("2026年上半年", date(2026, 7, 10), True))
        row = next(line for line in reply.splitlines() if line.startswith("· 机关第一党支部"))
        h1 = [t for t in app.store.tasks_of(["branch-1"]) if t.due.isoformat() <= "2026-06-30"]
        assert row == text.overview_row("机关第一党支部", len(h1), 1, 0, len(h1) - 1, 0)
        assert "逾期事项：" in reply and "已逾期" in reply
    finally:
        app.close()


def test_overview_periods_and_a_bad_one(late: tuple[App, FakeClock]) -> None:
    assert say(late, "王建国", "总览 2026-H2").startswith("【总览】2026年下半年")
    assert say(late, "王建国", "总览 2026年第四季度").startswith("【总览】2026年第四季度")
    assert say(late, "王建国", "总览 上月").startswith("【总览】2026年11月")
    assert say(late, "王建国", "总览 下辈子") == text.bad_period("下辈子")
    # The store began on 2026-11-26: an earlier period has no records, and says so.
    assert say(late, "王建国", "总览 2026-H1") == text.before_records("2026年上半年",
                                                                   date(2026, 11, 26))


# ---- 豁免 ------------------------------------------------------------------------------

def test_an_excused_task_stops_reminding(late: tuple[App, FakeClock]) -> None:
    app, clock = late
    channel = RecordingChannel()
    deliverer = Deliverer(app, {"console": channel}, defer_unreached=False)
    n = number(app, "theme-day:branch-1:2026-11")
    say(late, "赵敏", f"豁免 {n} 与上级联合开展")
    clock.set(at("2026-12-04 09:00"))
    deliverer.run_pass(clock.now())
    assert not any(f"【{n}】" in t for t in channel.texts_for("wu-fang"))
    assert any("三会一课" in t for t in channel.texts_for("wu-fang"))  # the others still do
    assert f"【{n}】" not in say(late, "吴芳", "待办")
    assert say(late, "吴芳", f"打卡 {n}").endswith(text.excused("")[1:])


def test_excuse_needs_a_reason_and_a_redelivered_excuse_is_replayed(
        late: tuple[App, FakeClock]) -> None:
    app = late[0]
    n = number(app, "theme-day:branch-2:2026-11")
    assert say(late, "张伟", f"豁免 {n}") == text.EXCUSE_USAGE
    first = say(late, "张伟", f"豁免 {n} 并入下月", message_id="m1")
    again = say(late, "张伟", f"豁免 {n} 并入下月", message_id="m1")
    assert first.startswith("已豁免") and again.startswith("这条消息此前已处理，已豁免")
    records = app.store.ledger_path().read_text(encoding="utf-8").count('"task-excused"')
    assert records == 1
    assert "已于12月3日（周四）豁免" in say(late, "赵敏", f"豁免 {n} 又一次")


# ---- 舆情 ------------------------------------------------------------------------------

def test_an_incident_is_routed_reminded_and_closed(late: tuple[App, FakeClock]) -> None:
    app, clock = late
    channel = RecordingChannel()
    deliverer = Deliverer(app, {"console": channel}, defer_unreached=False)
    reply = say(late, "马丽", "舆情 某论坛出现涉及本局的不实帖子", message_id="i1")
    assert reply.startswith("已登记舆情") and "已转周涛处置" in reply and "李红梅" in reply
    assert "12月4日（周五）前" in reply  # the next working day
    task = next(t for t in app.store.open_tasks() if t.duty == "opinion-incident")
    assert task.owner == "office" and task.note == "某论坛出现涉及本局的不实帖子"
    assert task.opened_by == "ma-li" and task.due.isoformat() == "2026-12-04"
    # A redelivered report opens nothing more.
    assert "此前已处理" in say(late, "马丽", "舆情 某论坛出现涉及本局的不实帖子",
                            message_id="i1")
    assert sum(t.duty == "opinion-incident" for t in app.store.all_tasks()) == 1

    deliverer.run_pass(clock.now())  # at once: the office head and the supervising leader
    [to_head] = [t for t in channel.texts_for("zhou-tao") if "舆情" in t]
    [to_leader] = [t for t in channel.texts_for("li-hongmei") if "舆情" in t]
    assert "马丽报告：某论坛出现涉及本局的不实帖子" in to_head and f"完成 {task.number}" in to_head
    assert "知悉" in to_leader and "已转周涛处置" in to_leader
    assert not channel.texts_for("ma-li")

    clock.set(at("2026-12-04 09:00"))  # due day
    deliverer.run_pass(clock.now())
    assert "今日截止" in channel.texts_for("zhou-tao")[-1]
    clock.set(at("2026-12-07 09:00"))  # overdue (Monday)
    deliverer.run_pass(clock.now())
    assert "逾期提醒" in channel.texts_for("zhou-tao")[-1]

    clock.set(at("2026-12-07 11:00"))
    done = say(late, "周涛", f"打卡 {task.number} 已联系平台澄清并删帖")
    assert text.CHECKED_IN in done
    sent = len(channel.sent)
    clock.set(at("2026-12-08 09:00"))
    deliverer.run_pass(clock.now())
    assert not any(f"【{task.number}】" in r.text for _, _, r in channel.sent[sent:])


def test_an_incident_needs_a_description(late: tuple[App, FakeClock]) -> None:
    assert say(late, "马丽", "舆情") == text.INCIDENT_USAGE
    assert not [t for t in late[0].store.all_tasks() if t.duty == "opinion-incident"]


def test_unregistered_people_learn_nothing(late: tuple[App, FakeClock]) -> None:
    for command in ("查询 第一支部", "总览", "逾期", "豁免 1 x", "舆情 测试"):
        assert say(late, "陌生人", command) == text.NOT_REGISTERED

