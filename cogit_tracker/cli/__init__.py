"""`cogit-log`: the command line. Thin by rule: each command parses its options, calls one
library function and hands the result to `render.py`. One module per command group; failures
read as one line (`group.py`).
"""
from __future__ import annotations

from . import (advise, decision, machine, plan, reports, run, runs,  # noqa: F401 - they
               stores)  # register their commands
from .group import cli


def main() -> None:
    cli(prog_name="cogit-log")
