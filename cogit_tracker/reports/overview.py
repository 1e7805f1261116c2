"""The campaigns page of the `cogit` web app: the report of the campaigns a reader picked, its
charts, and the choices its filters offer.

It is `cogit-log report` (the same `Table`, so the page's JSON is the command's `--json`) read
live from the store, over the experiments the reader may see: every one, or on a server with
logins the ones MLflow lets that user read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..errors import BadInput
from ..table import Table
from . import charts, fetch
from .model import Campaign, assemble, on_gpus, with_history
from .report import report


#: campaigns on one page of the campaigns page: a table that reads at a glance, and few
#: enough for its charts (charts.MAX_CAMPAIGNS) to draw them all
PER_PAGE = 25


@dataclass
class Overview:
    table: Table
    charts: list[tuple[str, bytes]] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)  # with campaigns, that may be seen
    gpus: list[str] = field(default_factory=list)         # catalog keys those ran on
    page: int = 1            # 1: the newest campaigns
    pages: int = 1
    total: int = 0           # campaigns that match the filters, on every page


def visible_campaigns(uri: str, visible: Sequence[str] | None) -> list[Campaign]:
    """Every campaign in the experiments named `visible` (all when None); none, rather than
    an error, when there are none."""
    if visible is not None and not visible:
        return []
    return assemble(fetch.fetch(uri, visible))


def overview(uri: str, experiments: Sequence[str] = (), gpus: Sequence[str] = (),
             visible: Sequence[str] | None = None, page: int | None = None) -> Overview:
    """The report of the campaigns in `experiments` on `gpus` (all, for either left empty):
    every one, or with `page` only that page's PER_PAGE, counted from the newest (a store of
    thousands opens fast and small). A filter value that names nothing the reader may see is
    bad input, naming what is."""
    every = visible_campaigns(uri, visible)
    names = sorted({c.experiment for c in every})
    for name in experiments:
        if name not in names:
            raise BadInput(f"unknown experiment {name!r}; accepted: "
                           f"{', '.join(names) or 'none with campaigns'}")
    chosen = on_gpus([c for c in every if not experiments or c.experiment in experiments], gpus)
    pages = max(1, -(-len(chosen) // PER_PAGE))
    part = chosen if page is None else _page(chosen, page, pages)
    shown = with_history(uri, part[:charts.MAX_CAMPAIGNS])  # what the charts draw
    return Overview(report(part), charts.pngs(shown) if shown else [], names,
                    sorted({c.attr("gpu.key") or "-" for c in every}), page or 1,
                    pages if page else 1, len(chosen))


def _page(chosen: list[Campaign], page: int, pages: int) -> list[Campaign]:
    """Page `page` of `chosen` (oldest first), page 1 being the newest PER_PAGE."""
    if not 1 <= page <= pages:
        raise BadInput(f"page {page}: accepted: 1 to {pages}")
    end = len(chosen) - (page - 1) * PER_PAGE
    return chosen[max(0, end - PER_PAGE):end]
