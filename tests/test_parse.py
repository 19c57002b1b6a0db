"""The parser: examples, and properties that hold for any text at all."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.parse import (
    COMMANDS,
    Parsed,
    Unknown,
    number_arg,
    parse,
    split_keyword,
    split_number,
    split_numbers,
)
from tests.builders import Chat


@pytest.mark.parametrize(("message", "name", "args"), [
    ("待办", "todo", ""),
    ("  待办  ", "todo", ""),
    ("待办。", "todo", ""),
    ("/todo", "todo", ""),
    ("/todo@dutybot", "todo", ""),
    ("TODO", "todo", ""),
    ("打卡 3 已召开，参会12人", "checkin", "3 已召开，参会12人"),
    ("打卡3 已召开", "checkin", "3 已召开"),
    ("打卡：3", "checkin", "3"),
    ("打卡\u3000３\u3000已召开", "checkin", "３\u3000已召开"),
    ("完成 5", "checkin", "5"),
    ("/done@dutybot 5 备注", "checkin", "5 备注"),
    ("撤销", "undo", ""),
    ("撤消 7", "undo", "7"),
    ("undo 7", "undo", "7"),
    ("撤销 80 备注错了", "undo", "80 备注错了"),
    ("恢复 80", "restore", "80"),
    ("撤销豁免 9", "unexcuse", "9"),
    ("取消豁免9 误操作", "unexcuse", "9 误操作"),
    ("近期 30", "upcoming", "30"),
    ("/start", "help", ""),
    ("帮助", "help", ""),
])
def test_examples(message: str, name: str, args: str) -> None:
    assert parse(message) == Parsed(name, args)


@pytest.mark.parametrize(("message", "suggestion"), [
    ("代办", "待办"), ("打开", "打卡"), ("hepl", "help"), ("天气", None),
])
def test_unknown_words_get_a_suggestion(message: str, suggestion: str | None) -> None:
    result = parse(message)
    assert isinstance(result, Unknown) and result.suggestion == suggestion


@pytest.mark.parametrize(("token", "number"), [
    ("3", 3), ("３", 3), ("#12", 12), ("第3项", 3), ("3号", 3), ("x", None), ("-1", None),
    ("1e5", None), ("9999999999", None), ("", None),
])
def test_number_arguments(token: str, number: int | None) -> None:
    assert number_arg(token) == number


@pytest.mark.parametrize(("args", "number", "note"), [
    ("22 已召开，参会12人", 22, "已召开，参会12人"),
    ("22，已召开", 22, "已召开"),
    ("22已召开", 22, "已召开"),
    ("２２　已召开", 22, "已召开"),
    ("第22项，已召开", 22, "已召开"),
    ("#22", 22, ""),
    ("主题党日 已开展", None, "主题党日 已开展"),
    ("2026年度总结", 2026, "年度总结"),
    ("1234567890", None, "1234567890"),
])
def test_split_number(args: str, number: int | None, note: str) -> None:
    assert split_number(args) == (number, note)


@pytest.mark.parametrize(("args", "keyword", "note"), [
    ("主题党日 已开展", "主题党日", "已开展"),
    ("主题党日，已开展", "主题党日", "已开展"),
    ("主题党日", "主题党日", ""),
    ("  主题党日：已开展，参加20人", "主题党日", "已开展，参加20人"),
])
def test_split_keyword(args: str, keyword: str, note: str) -> None:
    assert split_keyword(args) == (keyword, note)


@given(st.text(max_size=300))
def test_any_text_parses_to_a_command_or_an_unknown(message: str) -> None:
    result = parse(message)
    assert isinstance(result, Parsed | Unknown)
    if isinstance(result, Parsed):
        assert result.name in COMMANDS
        assert result.args == result.args.strip()


@given(st.sampled_from([w for words in COMMANDS.values() for w in words]),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_a_command_word_followed_by_anything_is_that_command(word: str, rest: str) -> None:
    result = parse(f"{word} {rest}")
    assert isinstance(result, Parsed)
    assert word in COMMANDS[result.name]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150,
          deadline=None)
@given(message=st.one_of(
    st.text(max_size=200),
    st.builds(lambda w, a: f"{w} {a}",
              st.sampled_from(["打卡", "撤销", "近期", "待办", "/done@x", "完成"]),
              st.text(max_size=200)),
    st.just("打卡 " + "长" * 10_000),
    st.just("打卡 1 %s%n{0}{__class__}../../etc/passwd\x00"),
))
def test_the_bot_always_answers_and_never_raises(chat_as: Callable[[str], Chat],
                                                 message: str) -> None:
    reply = chat_as("吴芳").say(message)
    assert reply.strip()
    assert "Traceback" not in reply and "Error" not in reply


@pytest.mark.parametrize(("args", "numbers", "note"), [
    ("116 120 124 已召开", [116, 120, 124], "已召开"),
    ("33、37、45 已开展", [33, 37, 45], "已开展"),
    ("52,56", [52, 56], ""),
    ("１２　１３，好", [12, 13], "好"),
    ("第22项、第23项 已学习", [22, 23], "已学习"),
    ("22，已召开", [22], "已召开"),
    ("22 3人参加", [22], "3人参加"),  # a count in the note is not a task number
    ("22，2026年度总结", [22], "2026年度总结"),
    ("22已召开", [22], "已召开"),
    ("7 7 8", [7, 8], ""),
    ("主题党日 已开展", [], "主题党日 已开展"),
])
def test_several_numbers(args: str, numbers: list[int], note: str) -> None:
    assert split_numbers(args) == (numbers, note)
