"""Config errors: each kind names the file, the key path and the problem; `check` exits 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config, ConfigError, load, store_path
from schedules.model import Cadence, Role
from tests.builders import EXAMPLE


def broken(config_path: Path, old: str, new: str) -> ConfigError:
    text = config_path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found: {old!r}"
    config_path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert str(config_path) in str(caught.value)
    return caught.value


def test_the_example_is_valid_and_complete() -> None:
    config = load(EXAMPLE)
    org = config.org
    assert len([u for u in org.units.values() if u.kind == "branch"]) >= 4
    leaders = [p for p in org.people.values() if p.has(Role.LEADER)]
    assert 4 <= len(leaders) <= 5
    secretary = [p for p in org.people.values() if p.has(Role.PARTY_SECRETARY)]
    assert len(secretary) == 1
    expected = {"party-group-meeting", "branch-meeting", "annual-inspection", "report-to-city",
                "life-meeting", "duty-report", "office-summary", "summary-to-party-group",
                "theory-study", "party-lecture", "intellectual-liaison", "theme-day",
                "supervision", "opinion-incident"}
    assert expected <= set(org.duties)
    assert len([d for d in org.duties if d.startswith("three-meetings-")]) == 4
    assert all(d.clause for d in org.duties.values())
    assert org.duties["opinion-incident"].cadence is Cadence.EVENT


def test_toml_syntax_error_names_the_line(config_path: Path) -> None:
    error = broken(config_path, 'name = "示例市林业局"', 'name = "示例市林业局')
    assert "TOML 语法错误，第 11 行" in error.problem


def test_unknown_key(config_path: Path) -> None:
    error = broken(config_path, 'kind = "party-group"\nhead',
                   'kind = "party-group"\ncolour = 1\nhead')
    assert error.key == "units[1].colour" and "不是这里可用的配置项" in error.problem


def test_unknown_top_level_table(config_path: Path) -> None:
    error = broken(config_path, "[store]", "[stores]")
    assert error.key == "stores"


def test_missing_required_key(config_path: Path) -> None:
    error = broken(config_path, 'title = "主题党日活动"\n', "")
    assert error.key.endswith(".title") and error.key.startswith("duties[")
    assert "必填" in error.problem


def test_reference_to_a_missing_person(config_path: Path) -> None:
    error = broken(config_path, 'head = "he-jun"', 'head = "he-junn"')
    assert error.key == "units[8].head" and "“he-junn”" in error.problem


def test_reference_to_a_missing_unit(config_path: Path) -> None:
    error = broken(config_path, 'units = ["branch-2"]\n\n[[people]]\nid = "lin-xiao"',
                   'units = ["branch-9"]\n\n[[people]]\nid = "lin-xiao"')
    assert error.key == "people[14].units[0]" and "“branch-9”" in error.problem


def test_duty_naming_a_missing_unit(config_path: Path) -> None:
    error = broken(config_path, 'owners = { units = ["party-committee", "discipline"] }',
                   'owners = { units = ["party-committee", "disciplne"] }')
    assert error.key.endswith(".owners.units[1]")


def test_duplicate_ids(config_path: Path) -> None:
    error = broken(config_path, 'id = "gao-yuan"', 'id = "luo-min"')
    assert error.key == "people[18].id" and "重复使用" in error.problem
    assert "people[17]" in error.problem


def test_duplicate_duty_ids(config_path: Path) -> None:
    error = broken(config_path, 'id = "supervision"', 'id = "theme-day"')
    assert error.key.endswith(".id") and "重复使用" in error.problem


def test_unknown_cadence(config_path: Path) -> None:
    error = broken(config_path, 'cadence = "quarterly"               # 方案：各支部',
                   'cadence = "fortnightly"               # 方案：各支部')
    assert error.key.endswith(".cadence") and "“fortnightly”" in error.problem


@pytest.mark.parametrize(("due", "hint"), [
    ('due = "end-40d"', "超出了 monthly 周期"),
    ('due = ["06-20"]', "正好一个月-日"),
    ('due = ["06-20", "06-25"]', "正好一个月-日"),
    ('due = ["02-30", "12-20"]', "不是一年中的日期"),
    ('due = "tomorrow"', "不是截止日规则"),
    ("due = 5", "而不是数字"),
])
def test_due_rules_that_make_no_sense(config_path: Path, due: str, hint: str) -> None:
    old = 'due = ["06-20", "12-20"]            # 留出时间给机关党委汇总'
    if "40d" in due:  # on a monthly duty, 40 days before the end leaves the month
        old = ('cadence = "monthly"                 '
               '# 方案：按上级要求开展；默认每月一次，可调整')
        due = 'cadence = "monthly"\ndue = "end-40d"'
    error = broken(config_path, old, due)
    assert error.key.split(".")[-1].startswith("due") and hint in error.problem


def test_duty_for_a_unit_kind_nobody_has(config_path: Path) -> None:
    error = broken(config_path, 'owners = { kinds = ["branch"] }\nevidence = "活动时间',
                   'owners = { kinds = ["brnach"] }\nevidence = "活动时间')
    assert error.key.endswith(".owners.kinds[0]") and "“brnach”" in error.problem
    assert "branch" in error.problem  # lists the kinds in use


def test_owners_must_say_one_thing(config_path: Path) -> None:
    error = broken(config_path, 'owners = { units = ["office"] }',
                   'owners = { units = ["office"], role = "leader" }')
    assert error.key.endswith(".owners") and "正好写一个" in error.problem


def test_roles_that_follow_from_units_are_not_listed(config_path: Path) -> None:
    error = broken(config_path, 'roles = ["admin"]', 'roles = ["admin", "unit-head"]')
    assert error.key == "people[6].roles[1]"


def test_supervisor_must_be_a_leader(config_path: Path) -> None:
    error = broken(config_path, 'supervisor = "li-hongmei"', 'supervisor = "zhao-min"')
    assert error.key == "units[4].supervisor" and "leader 身份" in error.problem


def test_secrets_are_refused_in_the_file(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + '\n[channels.wecom]\nenabled = true\nsecret = "abc"\n',
                           encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert caught.value.key == "channels.wecom.secret" and "环境变量" in caught.value.problem


@pytest.mark.parametrize(("key", "pasted"), [
    ("secret_env", "Kx7Qv2pLm9RtZ4wYb8NcJd3FhG6sA1eU0oIiV5yTqWx"),  # a corp secret
    ("aes_key_env", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"),  # an EncodingAESKey
    ("token_env", "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"),  # a callback token
    ("token_env", "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"),  # a Telegram token
])
def test_a_secret_pasted_into_an_env_field_is_refused_unechoed(
        config_path: Path, key: str, pasted: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    table = "channels.telegram" if pasted.startswith("123456:") else "channels.wecom"
    config_path.write_text(config_path.read_text(encoding="utf-8")
                           + f'\n[{table}]\n{key} = "{pasted}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert caught.value.key == f"{table}.{key}" and "密钥本身" in caught.value.problem
    assert pasted not in str(caught.value) and pasted[:12] not in str(caught.value)
    assert main(["check", "--config", str(config_path)]) == 2
    said = capsys.readouterr()
    assert pasted[:12] not in said.out + said.err


def test_ordinary_env_names_are_accepted(config_path: Path) -> None:
    config_path.write_text(config_path.read_text(encoding="utf-8") + (
        '\n[channels.wecom]\nsecret_env = "DUTYBOT_WECOM_SECRET"\n'
        'token_env = "wecom_token"\naes_key_env = "AES_KEY_2"\n'), encoding="utf-8")
    settings = load(config_path).channels["wecom"]
    assert (settings.secret_env, settings.token_env) == ("DUTYBOT_WECOM_SECRET", "wecom_token")


def test_check_prints_one_error_and_exits_2(config_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('head = "he-jun"', 'head = "nobody"'), encoding="utf-8")
    assert main(["check", "--config", str(config_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(config_path) in err[0] and "units[8].head" in err[0] and "nobody" in err[0]


def test_check_json_lists_people_units_and_duties(config_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "--config", str(config_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    people = {p["id"]: p for p in document["people"]}
    assert people["wang-jianguo"]["roles"] == ["leader", "member", "party-secretary",
                                                "unit-head"]
    assert people["wang-jianguo"]["wecom_userid"] == "WangJianGuo"
    assert "wecom_userid" not in people["ma-li"]
    assert {u["kind"] for u in document["units"]} >= {"branch", "office", "party-group"}
    assert all(d["title"] and d["id"] for d in document["duties"])


def test_check_summary_shows_next_deadlines(config_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(config_path), "--now", "2026-11-26T10:00"]) == 0
    out = capsys.readouterr().out
    assert "配置有效" in out and "示例市林业局" in out
    assert "11月30日（周一） 主题党日活动 × 4" in out
    assert "2027 年为推算" in out and "尚缺法定节假日 13 天" in out


def test_a_missing_config_file_is_named(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_optional_keys_may_be_left_out(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('evidence = "活动时间、主题、参加人数"\n', "")
    text += ('\n[channels.wecom]\nenabled = false\n'
             '\n[channels.telegram]\nenabled = true\ntoken_env = "TG_TOKEN"\nmode = "polling"\n')
    config_path.write_text(text, encoding="utf-8")
    config = load(config_path)
    assert config.org.duties["theme-day"].evidence == ""
    assert config.channel("telegram") is not None and config.channels["telegram"].webhook_url == ""


def test_an_empty_value_written_out_is_refused(config_path: Path) -> None:
    error = broken(config_path, 'evidence = "活动时间、主题、参加人数"', 'evidence = " "')
    assert error.key.endswith(".evidence") and "不能为空" in error.problem


def test_a_time_zone_that_is_a_folder_is_refused(config_path: Path) -> None:
    error = broken(config_path, 'timezone = "Asia/Shanghai"', 'timezone = "Asia"')
    assert error.key == "bureau.timezone"


def test_duplicate_platform_accounts_are_refused(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    for userid in ("WuFang", "ZhengLei"):
        text = text.replace(f'wecom_userid = "{userid}"',
                            f'wecom_userid = "{userid}"\ntelegram_id = 42')
    config_path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert caught.value.key == "people[10].telegram_id" and "wu-fang" in caught.value.problem
    error = broken(config_path, 'wecom_userid = "ZhengLei"', 'wecom_userid = "WuFang"')
    assert error.key == "people[10].wecom_userid" and "wu-fang" in error.problem


def test_a_unit_listed_twice_for_a_duty_is_refused(config_path: Path) -> None:
    error = broken(config_path, 'owners = { units = ["party-committee", "discipline"] }',
                   'owners = { units = ["party-committee", "party-committee"] }')
    assert error.key.endswith(".owners.units[1]") and "重复" in error.problem


def test_reminder_policy_defaults_and_a_per_duty_override(config: Config) -> None:
    assert config.reminders.advance_days == 7 and config.reminders.send_at == time(9, 0)
    duties = config.org.duties
    assert duties["party-group-meeting"].policy.advance_days == 14
    assert duties["party-group-meeting"].policy.overdue_max == 5  # the rest inherited
    assert duties["theme-day"].policy == config.reminders
    assert config.org.units["branch-1"].group is not None
    group = config.org.units["branch-1"].group
    assert group is not None and group.address("wecom_robot_key_env") == "DUTYBOT_ROBOT_BRANCH_1"
    assert config.org.units["office"].group is None


@pytest.mark.parametrize(("old", "new", "key", "hint"), [
    ('send_at = "09:00"', 'send_at = "21:00"', "reminders.send_at", "免打扰"),
    ('send_at = "09:00"', 'send_at = "9点"', "reminders.send_at", "不是时刻"),
    ("overdue_max = 5 ", "overdue_max = 99 ", "reminders.overdue_max", "0 到 30"),
    ('quiet_hours = ["20:00", "08:00"]', 'quiet_hours = ["20:00"]', "reminders.quiet_hours",
     "两个时刻"),
    ("reminders = { advance_days = 14 }", "reminders = { advance = 14 }",
     "reminders.advance", "不是这里可用的配置项"),
    ('wecom_robot_key_env = "DUTYBOT_ROBOT_BRANCH_1"', 'wecom_robot_key = "abc"',
     "units[5].group.wecom_robot_key", "环境变量"),
])
def test_reminder_and_group_mistakes(config_path: Path, old: str, new: str, key: str,
                                     hint: str) -> None:
    error = broken(config_path, old, new)
    assert error.key.endswith(key) and hint in error.problem


def test_quiet_hours_can_be_switched_off(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('quiet_hours = ["20:00", "08:00"]', "quiet_hours = []")
                           .replace('send_at = "09:00"', 'send_at = "22:30"'), encoding="utf-8")
    policy = load(config_path).reminders
    assert not policy.quiet(policy.send_at)


STORE = '[store]\npath = "data/example"             # 数据目录，相对于本文件所在目录\n'


@pytest.mark.parametrize("edit", [
    lambda text: text,  # the [store] table cut out and parsed alone
    lambda text: text.replace(STORE, "[store]  # 数据\npath = 'kept'\n"),
    lambda text: text.replace(STORE, ""),  # the default
    lambda text: 'store = { path = "inline" }\n' + text.replace(STORE, ""),
    lambda text: 'store.path = "dotted"\n' + text.replace(STORE, ""),
    # a line of a multi-line string that looks like the table: never read as it
    lambda text: text.replace('name = "示例市林业局"',
                              'name = """示例市林业局\n[store]\npath = "not-this"\n"""'),
], ids=["as-is", "comment", "absent", "inline", "dotted", "in-a-string"])
def test_the_store_path_alone_is_what_the_whole_config_says(
        config_path: Path, edit: Callable[[str], str]) -> None:
    """`audit verify` and `restore` read only `[store] path` (a city's file takes half a
    second to parse whole): the same folder as reading the whole file, however written."""
    text = config_path.read_text(encoding="utf-8")
    assert STORE in text
    config_path.write_text(edit(text), encoding="utf-8")
    assert store_path(config_path) == load(config_path).store_path


def test_the_store_path_alone_names_a_syntax_error_where_it_is(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace(STORE, '[store]\npath = "unclosed\n'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        store_path(config_path)
    assert "第 15 行" in str(caught.value)
