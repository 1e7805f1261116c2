"""A job of several ranks, one line a node: which host, which GPUs, which ranks run there,
their peaks, their freshest heartbeat, and whether the phase failed there.

A torchrun job is one phase run for all its ranks, so the phase's own figures are the job's;
when one node runs out of memory or dies, the researcher needs to see *which*. The runtime
(`runtime/ranks.py`) writes each rank's node, each node's host and GPUs and each rank's peaks
as tags and `rank<N>/...` metrics; this module groups them by node, once, for every view
(`report`, `compare`, `runs watch`, the `/cogit/` campaign page). A single-process phase has
no node lines, so those views look as they did.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from .. import schema as s
from ..table import fmt_value

#: The node of a rank whose own tag has not arrived yet (it is still joining).
UNPLACED = "?"
#: How a node line's first cell starts, so it reads as belonging to the phase above it.
BRANCH = "└ "
_NODE = re.compile(r"node(\d+)$")


@dataclass
class NodeLine:
    """One node of a multi-rank phase. Peaks and time are the maxima over its ranks (the
    node is as full as its fullest GPU); `heartbeat_ms` the freshest of its ranks'."""

    node: str                                  # `node<K>`, or UNPLACED
    host: str | None = None
    gpus: str | None = None                    # "2 x NVIDIA H100 80GB HBM3", "no GPU"
    ranks: list[int] = field(default_factory=list)
    vram_peak_gb: float | None = None
    ram_peak_gb: float | None = None
    duration_s: float | None = None
    heartbeat_ms: int | None = None
    failed: bool = False                       # the phase failed on this node
    failed_rank: int | None = None             # which of its ranks, when the run says

    @property
    def name(self) -> str:
        """The node's key (what its tags and `system/node1/...` use) in words."""
        return "ranks not yet on a node" if self.node == UNPLACED else self.node

    @property
    def label(self) -> str:
        """`node1 (gpu-b)`: the key, and the host the researcher knows the machine by."""
        return f"{self.name} ({self.host})" if self.host else self.name

    @property
    def failure(self) -> str:
        """`FAILED here (rank 3)`, or blank on a node where nothing failed."""
        if not self.failed:
            return ""
        return "FAILED here" + (f" (rank {self.failed_rank})" if self.failed_rank is not None
                                else "")

    def describe(self, shown: Collection[str] = (), host: bool = False,
                 failure: bool = True) -> str:
        """The node in words, leaving out the figures a table already has a column for
        (`shown`: metric names such as `vram_peak_gb`); `host` puts the host first, and
        `failure` (unless the table has a column for it) ends with where the phase failed."""
        parts = [self.host] if host and self.host else []
        parts += [ranks_text(self.ranks)] + ([self.gpus] if self.gpus else [])
        for key, title in ((s.VRAM_PEAK_GB, "VRAM peak"), (s.RAM_PEAK_GB, "RAM peak")):
            value = getattr(self, key)
            if key not in shown and value is not None:
                parts.append(f"{title} {fmt_value(value, 'gb')} GB")
        if s.DURATION_S not in shown and self.duration_s is not None:
            parts.append(f"time {fmt_value(self.duration_s, 'seconds')}")
        if failure and self.failed:
            parts.append(self.failure)
        return " · ".join(parts)

    def data(self) -> dict:
        """The line as a report's `--json` carries it (no heartbeat: reports do not read
        them, so a null there would only mislead)."""
        return {"node": self.node, "host": self.host, "gpus": self.gpus, "ranks": self.ranks,
                "vram_peak_gb": self.vram_peak_gb, "ram_peak_gb": self.ram_peak_gb,
                "duration_s": self.duration_s, "failed": self.failed,
                "failed_rank": self.failed_rank}


def ranks_text(ranks: list[int]) -> str:
    """`ranks 0-3`, `ranks 0-1, 4`, `rank 2`: runs of consecutive ranks joined, as a
    launcher numbers a node's ranks."""
    if not ranks:
        return "no ranks yet"
    spans: list[list[int]] = []
    for r in sorted(ranks):
        if spans and r == spans[-1][1] + 1:
            spans[-1][1] = r
        else:
            spans.append([r, r])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
    return f"rank{'s' if len(ranks) > 1 else ''} {text}"


def _count(text: str | None) -> int:
    return int(text) if text and text.strip().isdigit() else 0


def _node_order(node: str) -> tuple[int, str]:
    found = _NODE.match(node)
    return (int(found.group(1)), node) if found else (1 << 30, node)


def _suffixed(tags: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in tags.items() if k.startswith(prefix)}


def _rank_heartbeat(tags: Mapping[str, str], rank: int) -> int | None:
    """Rank 0 beats on `cogit.heartbeat` (the job's), every other rank on its own tag."""
    value = tags.get(s.HEARTBEAT if rank == 0 else f"{s.HEARTBEAT}.rank{rank}")
    return int(value) if value and str(value).isdigit() else None


def _rank_metric(metrics: Mapping[str, float], rank: int, name: str) -> float | None:
    return metrics.get(f"{s.RANK_METRIC_PREFIX}{rank}/{name}")


def _peak(values) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def node_lines(tags: Mapping[str, str], metrics: Mapping[str, float],
               campaign_tags: Mapping[str, str] | None = None) -> list[NodeLine]:
    """The node lines of a phase run, from its tags and latest metrics and its campaign's
    tags (where each node's GPUs are said, once for the job); none unless `cogit.ranks` > 1.

    A rank's node is read from the phase, else the campaign; a rank with neither (still
    joining) is listed under UNPLACED rather than dropped. The failing node is the phase's
    `cogit.failure.node`, else the failing rank's node.
    """
    campaign_tags = campaign_tags or {}
    ranks = _count(tags.get(s.RANKS) or campaign_tags.get(s.RANKS))
    if ranks <= 1:
        return []
    placed = {**_suffixed(campaign_tags, s.RANK_NODE_PREFIX),
              **_suffixed(tags, s.RANK_NODE_PREFIX)}
    node_of = {r: placed.get(str(r), UNPLACED) for r in range(ranks)}
    node_of.update({int(r): n for r, n in placed.items() if r.isdigit()})
    gpus = _per_node(campaign_tags, tags, s.NODE_PREFIX)
    hosts = _per_node(campaign_tags, tags, s.HOST_PREFIX)
    rank_text = tags.get(s.FAILURE_RANK, "")
    failed_rank = int(rank_text) if rank_text.isdigit() else None
    failed_node = tags.get(s.FAILURE_NODE) or node_of.get(failed_rank)
    lines = []
    named = set(node_of.values()) | set(gpus) | set(hosts) | ({failed_node} if failed_node
                                                                else set())
    for node in sorted(named, key=_node_order):
        mine = sorted(r for r, n in node_of.items() if n == node)
        beats = [b for b in (_rank_heartbeat(tags, r) for r in mine) if b is not None]
        failed = node == failed_node
        lines.append(NodeLine(
            node, hosts.get(node), gpus.get(node), mine,
            _peak(_rank_metric(metrics, r, s.VRAM_PEAK_GB) for r in mine),
            _peak(_rank_metric(metrics, r, s.RAM_PEAK_GB) for r in mine),
            _peak(_rank_metric(metrics, r, s.DURATION_S) for r in mine),
            max(beats) if beats else None, failed, failed_rank if failed else None))
    return lines


def _per_node(campaign_tags: Mapping[str, str], tags: Mapping[str, str],
              prefix: str) -> dict[str, str]:
    """`prefix + node<K>` tags by node, the phase's over the campaign's; other keys under
    the prefix (an older run's `cogit.node.<host>`) are not nodes of this layout."""
    found = {**_suffixed(campaign_tags, prefix), **_suffixed(tags, prefix)}
    return {k: v for k, v in found.items() if _NODE.match(k)}


def sub_rows(lines: list[NodeLine], label_key: str, text_key: str,
             figures: Mapping[str, str] | None = None,
             failure_key: str | None = None) -> list[dict]:
    """Table rows under a phase's row, one a node: its label in `label_key`, its words in
    `text_key`, each figure in `figures` (column key -> NodeLine attribute) in its own
    column, and where it failed in `failure_key` when the table has such a column. The rows
    are `_sub` (csv and json leave them out: the phase's row carries the lines as data); a
    failed node's row is styled to stand out."""
    figures = figures or {}
    shown = set(figures.values())
    rows = []
    for line in lines:
        row = {label_key: BRANCH + line.label, "_sub": True,
               text_key: line.describe(shown, failure=failure_key is None),
               **{col: getattr(line, attr) for col, attr in figures.items()}}
        if failure_key:
            row[failure_key] = line.failure
        if line.failed:
            row["_style"] = "red"
        rows.append(row)
    return rows


def as_data(lines: list[NodeLine]) -> list[dict]:
    """The lines as JSON carries them, beside the phase's row."""
    return [ln.data() for ln in lines]
