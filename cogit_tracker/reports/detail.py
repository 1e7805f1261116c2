"""One campaign as the `cogit` web app shows it: its phases on a timeline with status, failure
class, time, cost and peaks; a sample of its generations; the decisions that link to it; and
where each run lives in `mlflow ui`.

Built from the report's records (`model.py`) plus each run as MLflow holds it (params, every
tag, its experiment id): a handful of runs, read one by one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

from .. import schema as s
from ..store.artifacts import ArtifactReader, client_reader
from ..table import Column, Table
from . import charts
from .headline import apart_from
from .model import Campaign, Phase, select
from .nodes import as_data, sub_rows
from .overview import visible_campaigns

SAMPLE_ROWS = 12  # generations shown, spread over the table so every setting appears


@dataclass(order=True)
class Link:
    """A decision linked to this campaign or one of its phases; listed by number (a campaign
    that two decisions link sorted two of these: without an order, the page was a 500)."""

    number: int
    role: str
    run: str       # the campaign's label or the phase's name


@dataclass
class Detail:
    campaign: Campaign
    experiment_id: str
    phases: Table                      # one row a phase, then the total
    timeline: bytes                    # PNG
    params: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)        # phase name -> run id
    decisions: list[Link] = field(default_factory=list)
    generations: Table | None = None
    namesakes: int = 0                 # other campaigns with the same label (older ones)


PHASE_COLUMNS = [
    Column("phase", "phase"), Column("status", "status", "status"),
    Column("start", "started", "when"), Column("duration_s", "time", "seconds"),
    Column("cost_usd", "cost", "usd"), Column("vram_peak_gb", "VRAM peak GB", "gb"),
    Column("ram_peak_gb", "RAM peak GB", "gb"),
]
FAILURE_COLUMN = Column("message", "failure")
FIGURES = PHASE_COLUMNS[3:]


def phase_table(camp: Campaign, messages: dict[str, str]) -> Table:
    """One row a phase, then the total: cogit's figures, then the campaign's headline
    metrics (what it declared, else what its phases logged), then how a phase failed."""
    taken = [c.key for c in PHASE_COLUMNS] + [FAILURE_COLUMN.key]
    headline, notes = apart_from(camp.headline, taken)
    figures = FIGURES + [Column(n, n, "number") for n in headline.names]

    def cells(f) -> dict:
        return {c.key: f.get(c.key) for c in figures}

    rows = []
    for p in camp.phases:
        rows.append({"phase": p.name, "status": p.status_text, "start": p.start_time,
                     "message": messages.get(p.run_id, ""), **cells(p.figures)})
        rows += _node_rows(p, rows[-1])
    rows.append({"phase": "total", "status": camp.status, "start": camp.start_time,
                 "_section_end": True, **cells(camp.totals())})
    return Table(f"Campaign {camp.label}", PHASE_COLUMNS[:3] + figures + [FAILURE_COLUMN],
                 rows, notes)


#: Where a node line puts its figures: every column of cogit's own that a node has.
NODE_FIGURES = {k: k for k in ("duration_s", "vram_peak_gb", "ram_peak_gb")}


def _node_rows(p: Phase, row: dict) -> list[dict]:
    """A multi-rank phase's node lines under its `row` (which carries them for json), the
    failing node's mark in the failure column; none for a single-process phase."""
    if not p.nodes:
        return []
    row["_extra"] = {"nodes": as_data(p.nodes)}
    return sub_rows(p.nodes, "phase", "status", NODE_FIGURES, failure_key=FAILURE_COLUMN.key)


def generations_sample(text: str, rows: int = SAMPLE_ROWS) -> Table:
    """Every k-th row of a `log_table` artifact (pandas' split layout), at most `rows`."""
    data = json.loads(text)
    columns, body = data["columns"], data["data"]
    step = max(1, -(-len(body) // rows))
    picked = body[::step][:rows]
    kinds = {c: _kind(picked, i) for i, c in enumerate(columns)}
    return Table(f"Generations: {len(picked)} of {len(body)}",
                 [Column(c, c, kinds[c]) for c in columns],
                 [dict(zip(columns, row)) for row in picked])


def _kind(rows: list[list], index: int) -> str:
    values = [r[index] for r in rows if r[index] is not None]
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "fraction"
    return "text"


def detail(uri: str, selector: str, visible: Sequence[str] | None = None,
           read_artifact: ArtifactReader | None = None) -> Detail:
    """The campaign `selector` names (label, run id or uid; the newest of a label's), among
    the experiments `visible` (all when None). An unknown one raises `errors.Unknown`."""
    from mlflow.tracking import MlflowClient

    matches = select(visible_campaigns(uri, visible), [selector])
    camp = max(matches, key=lambda c: c.start_time or 0)
    client = MlflowClient(tracking_uri=uri)
    runs = {r.info.run_id: r for r in (client.get_run(i) for i in
                                       [camp.run_id] + [p.run_id for p in camp.phases])}
    messages = {i: r.data.tags.get(s.FAILURE_MESSAGE, "") for i, r in runs.items()}
    out = Detail(camp, runs[camp.run_id].info.experiment_id, phase_table(camp, messages),
                 charts.timeline_png(camp), dict(runs[camp.run_id].data.params),
                 {p.name: p.run_id for p in camp.phases}, namesakes=len(matches) - 1)
    names = {camp.run_id: camp.label, **{p.run_id: p.name for p in camp.phases}}
    out.decisions = sorted(Link(n, role, names[i]) for i, r in runs.items()
                           for n, role in s.linked_decisions(r.data.tags).items())
    out.generations = _generations(camp, runs, read_artifact or client_reader(client))
    return out


def _generations(camp: Campaign, runs: dict, read: ArtifactReader) -> Table | None:
    """A sample of the first phase's generations table (`schema.GENERATIONS_TABLE`) that can
    be read, if any phase logged one."""
    for phase in camp.phases:
        try:
            return generations_sample(read(runs[phase.run_id], s.GENERATIONS_TABLE))
        except Exception:  # noqa: BLE001 - a missing or foreign table: no sample, no error
            continue
    return None
