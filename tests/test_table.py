"""The command table: one row per command routes it, marks it read-only and describes it."""

from __future__ import annotations

import subprocess
import sys

from handlers import dispatch, table, text
from handlers.parse import COMMANDS, Parsed, parse


def test_help_lists_every_row_with_a_help_line_in_table_order() -> None:
    lines = table.HELP.split("\n")
    assert lines[0] == text.HELP_HEAD and lines[-1] == text.HELP_FOOT
    assert lines[1:-1] == [line for c in table.COMMANDS for line in c.help]
    described = [c for c in table.COMMANDS if c.help]
    assert all(line in lines for c in described for line in c.help)


def test_every_row_has_a_handler_and_every_handler_a_row() -> None:
    routed = {c.name for c in table.COMMANDS if not c.special}
    assert set(dispatch.HANDLERS) == routed
    assert [c.name for c in table.COMMANDS if c.special] == ["bind"]  # Dispatcher.handle's own


def test_the_parser_knows_exactly_the_table_words() -> None:
    assert {c.name: c.words for c in table.COMMANDS if c.words} == COMMANDS
    words = [w for c in table.COMMANDS for w in c.words]
    assert len(words) == len(set(words))  # a word means one command
    for c in table.COMMANDS:
        assert all(parse(w) == Parsed(c.name, "") for w in c.words)
        assert not c.words or not c.words[0].isascii()  # Chinese first


def test_read_only_rows_are_the_ones_answered_without_writing() -> None:
    quiet = {"help", "todo", "upcoming", "status", "overview", "overdue", "more", "greeting",
             "thanks", "ack"}
    assert quiet == table.READ_ONLY


def test_every_writing_command_says_what_a_failed_write_did_not_do() -> None:
    writing = {c.name for c in table.COMMANDS if not c.reads_only}
    assert set(text._NOT_SAVED) == writing
    generic = text.write_failed("no-such-command")
    assert all(text.write_failed(name) != generic for name in writing)


def test_the_parser_imports_no_handler() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, handlers.parse; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert not {"handlers.commands", "handlers.dispatch", "handlers.meetings",
                "handlers.oversight", "handlers.delegation", "handlers.binding",
                "handlers.notices", "storage.repository"} & set(loaded)
