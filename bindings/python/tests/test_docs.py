"""The examples of README.md run as written."""
import os
import re

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_there_are_examples():
    assert len(blocks()) == 4


@pytest.mark.parametrize("i", range(4))
def test_readme_example_runs(i, primary, replica, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", primary)
    monkeypatch.setenv("REPLICA_URL", replica)
    exec(compile(blocks()[i], "README.md block %d" % i, "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.strip()
    if i == 0:
        assert "[{'id': 42, 'name': 'ada'}]" in out and "42P01" in out and "canceled" in out
    if "alchdb.Dashboard(" in blocks()[i]:
        assert "# HELP" in out and any(s in out for s in ("healthy", "warning", "critical"))
