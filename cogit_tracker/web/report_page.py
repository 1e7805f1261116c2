"""`report --format html`: one self-contained page (no script, no link out, charts inlined as
PNG), rendered by the same templates as the `/cogit/` pages, so everything from a run is
escaped by one mechanism (Jinja's autoescape) wherever a table is shown as HTML."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from ..table import Table

TEMPLATES = Path(__file__).with_name("templates")


@cache
def _environment():
    import base64

    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from ..table import LEFT, fmt_value, row_class

    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals.update(fmt=fmt_value, left=LEFT, row_class=row_class)
    env.filters["png"] = lambda data: "data:image/png;base64," + base64.b64encode(data).decode()
    return env


def render_page(table: Table) -> str:
    """The whole page for `table` and its charts."""
    return _environment().get_template("report.html").render(t=table) + "\n"
