"""Report charts as PNG (matplotlib, Agg: no display needed): time per phase stacked per
campaign, cost per campaign, each charted headline metric per step (fidelity per epoch for
the reference experiment, accuracy for another), one campaign's phases on a timeline. The same
figures go inline into the HTML report and the `/cogit/` pages and, with `report --log`, onto
each campaign run so `mlflow ui` shows them. Time axes pick the unit that fits the data."""
from __future__ import annotations

import io

from .headline import union
from .model import Campaign

MAX_CAMPAIGNS = 30  # beyond this a bar chart is unreadable; the table still has every row


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit a time axis reaching `seconds` reads best in, and its length in seconds: a
    22 s campaign in hours reads 0.000 to 0.006, a 9-hour one in seconds 0 to 32,400."""
    if seconds < 120:
        return "seconds", 1.0
    if seconds < 2 * 3600:
        return "minutes", 60.0
    return "hours", 3600.0


def time_per_phase(campaigns: list[Campaign]):
    """Horizontal bars, one per campaign, stacked by phase."""
    plt = _pyplot()
    names = list(dict.fromkeys(p.name for c in campaigns for p in c.phases))
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(campaigns) + 1.6))
    unit, size = time_unit(max((c.totals().duration_s or 0 for c in campaigns), default=0))
    left = [0.0] * len(campaigns)
    labels = [c.label for c in campaigns]
    for name in names:
        spans = [sum((p.figures.duration_s or 0) for p in c.phases if p.name == name) / size
                 for c in campaigns]
        ax.barh(labels, spans, left=left, label=name)
        left = [a + b for a, b in zip(left, spans)]
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Time per phase")
    return fig


def cost_per_campaign(campaigns: list[Campaign]):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(campaigns) + 1.6))
    costs = [c.totals().cost_usd or 0 for c in campaigns]
    ax.barh([c.label for c in campaigns], costs, color="#c0504d")
    if not any(costs):  # an empty axis would read as "free"; say why instead
        ax.text(0.5, 0.5, "no cost recorded: no hourly rate was known for these runs\n"
                "(usd_per_hour=, COGIT_USD_PER_HOUR or cogit.toml)", ha="center",
                va="center", transform=ax.transAxes, color="#666")
    ax.invert_yaxis()
    ax.set_xlabel("USD")
    ax.set_title("Cost per campaign")
    return fig


def metric_per_step(campaigns: list[Campaign], name: str):
    """One line per phase that logged more than one point of `name`; None when none did."""
    series = [(f"{c.label}/{p.name}", p.history[name]) for c in campaigns for p in c.phases
              if len(p.history.get(name, ())) > 1]
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for label, points in series:
        ax.plot([st for st, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.legend(fontsize=8)
    ax.set_title(f"{name} per step")
    return fig


STATUS_COLOURS = {"FINISHED": "#4c9a2a", "FAILED": "#c0504d", "KILLED": "#e39b2d",
                  "RUNNING": "#3b7dd8"}


def timeline(campaign: Campaign):
    """One campaign's phases as bars from their start to their end (a RUNNING one to its
    measured duration), coloured by status, from the campaign's start."""
    plt = _pyplot()
    starts = [p.start_time for p in campaign.phases if p.start_time]
    origin = min(starts + ([campaign.start_time] if campaign.start_time else []), default=0)
    spans = [((p.start_time or origin) - origin) / 1000 for p in campaign.phases]
    lengths = [((p.end_time - p.start_time) / 1000 if p.end_time and p.start_time
                else p.figures.duration_s or 0) for p in campaign.phases]
    unit, size = time_unit(max((a + b for a, b in zip(spans, lengths)), default=0))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(campaign.phases) + 1.4))
    ax.barh([p.name for p in campaign.phases], [b / size for b in lengths],
            left=[a / size for a in spans],
            color=[STATUS_COLOURS.get(p.status, "#888") for p in campaign.phases])
    ax.invert_yaxis()
    ax.set_xlabel(f"{unit} from the campaign's start")
    ax.set_title(f"Phases of {campaign.label}")
    return fig


def figures(campaigns: list[Campaign]) -> list[tuple[str, str, object]]:
    """(title, artifact file name, figure) for the first MAX_CAMPAIGNS campaigns: time, cost,
    and each of their charted headline metrics that has a history."""
    shown = campaigns[:MAX_CAMPAIGNS]
    out = [("Time per phase", "time_per_phase.png", time_per_phase(shown)),
           ("Cost per campaign", "cost_per_campaign.png", cost_per_campaign(shown))]
    for name in union(c.headline for c in shown).names:
        fig = metric_per_step(shown, name)
        if fig is not None:
            out.append((f"{name} per step", f"{_file_part(name)}_per_step.png", fig))
    return out


def _file_part(name: str) -> str:
    """A metric name (which may hold `/`, `:` or spaces) as one artifact file name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def pngs(campaigns: list[Campaign]) -> list[tuple[str, bytes]]:
    return [(title, _png(fig)) for title, _, fig in figures(campaigns)]


def timeline_png(campaign: Campaign) -> bytes:
    return _png(timeline(campaign))


def log_to_runs(campaigns: list[Campaign], client) -> list[str]:
    """Log each campaign's own charts under `cogit-report/` on its run; returns the paths."""
    logged = []
    for camp in campaigns:
        for _, name, fig in figures([camp]):
            path = f"cogit-report/{name}"
            client.log_figure(camp.run_id, fig, path)
            _pyplot().close(fig)
            logged.append(f"runs:/{camp.run_id}/{path}")
    return logged
