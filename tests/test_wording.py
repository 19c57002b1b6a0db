"""What the bot says lives in `handlers.text` (and, below it, `schedules.wording`): the
command modules hold no Chinese sentences of their own, only the grammar they parse."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# Words these modules parse (and echo back when they name a field), not sentences.
GRAMMAR = {
    "handlers/meetings.py": {"地点", "议题", "时间", "召开时间", "主持", "主持人", "记录", "记录人",
                             "缺席", "出席", "列席", "内容", "决议", "决定", "；", " :：\t"},
    "handlers/oversight.py": {"舆情"},  # the keyword of the event duty `舆情 …` opens
    "schedules/calendar.py": {"调休", "休息"},  # in the holiday package's names of days
}
MODULES = ["handlers/commands.py", "handlers/delegation.py", "handlers/followup.py",
           "handlers/meetings.py", "handlers/notices.py", "handlers/oversight.py",
           "handlers/paging.py", "schedules/periods.py", "schedules/calendar.py"]


def chinese_literals(path: Path) -> list[tuple[int, str]]:
    """Chinese str constants (an f-string counts once), docstrings and regexes aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr)}
    patterns = {id(n.args[0]) for n in ast.walk(tree)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr in ("compile", "split", "sub", "match", "search") and n.args}
    inside = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.Constant) and CJK.search(str(v.value)) for v in node.values):
            found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and CJK.search(node.value) and id(node) not in inside | docs | patterns):
            found.append((node.lineno, node.value))
    return found


@pytest.mark.parametrize("module", MODULES)
def test_sentences_live_in_the_wording_module(module: str) -> None:
    allowed = GRAMMAR.get(module, set())
    stray = [(line, s) for line, s in chinese_literals(ROOT / module) if s not in allowed]
    assert not stray, f"move these to handlers/text.py (or schedules/wording.py): {stray}"
