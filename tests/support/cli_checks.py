"""How the command-line tests call `cogit-log` in-process (click's runner) and what they hold
every failure to: one line on stderr, exit 2, naming the bad value."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cogit_tracker.cli import cli


def invoke_json(*args: str, code: int = 0) -> dict:
    """`cogit-log ARGS --json`, which must exit with `code`; its output parsed."""
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == code, res.output
    return json.loads(res.output)


def one_line_error(args: list[str], *words: str) -> None:
    """`cogit-log ARGS` fails with exit 2 and one `Error:` line holding every word."""
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    assert all(w in lines[0] for w in words), lines[0]
