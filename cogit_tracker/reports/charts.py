"""Report charts as PNG (matplotlib, Agg: no display needed): time per phase stacked per
campaign, cost per campaign, fidelity per epoch. The same figures go inline into the HTML
report and, with `report --log`, onto each campaign run so `mlflow ui` shows them."""
from __future__ import annotations

import io

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


def time_per_phase(campaigns: list[Campaign]):
    """Horizontal bars, one per campaign, stacked by phase in hours."""
    plt = _pyplot()
    names = list(dict.fromkeys(p.name for c in campaigns for p in c.phases))
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(campaigns) + 1.6))
    left = [0.0] * len(campaigns)
    labels = [c.label for c in campaigns]
    for name in names:
        hours = [sum((p.figures.duration_s or 0) for p in c.phases if p.name == name) / 3600
                 for c in campaigns]
        ax.barh(labels, hours, left=left, label=name)
        left = [a + b for a, b in zip(left, hours)]
    ax.invert_yaxis()
    ax.set_xlabel("hours")
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


def fidelity_per_epoch(campaigns: list[Campaign]):
    """One line per phase that logged a fidelity history; None when none did."""
    series = [(f"{c.label}/{p.name}", p.history) for c in campaigns for p in c.phases
              if len(p.history) > 1]
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for label, points in series:
        ax.plot([st for st, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("fidelity")
    ax.legend(fontsize=8)
    ax.set_title("Fidelity per epoch")
    return fig


def figures(campaigns: list[Campaign]) -> list[tuple[str, str, object]]:
    """(title, artifact file name, figure) for the first MAX_CAMPAIGNS campaigns."""
    shown = campaigns[:MAX_CAMPAIGNS]
    out = [("Time per phase", "time_per_phase.png", time_per_phase(shown)),
           ("Cost per campaign", "cost_per_campaign.png", cost_per_campaign(shown))]
    fid = fidelity_per_epoch(shown)
    if fid is not None:
        out.append(("Fidelity per epoch", "fidelity_per_epoch.png", fid))
    return out


def pngs(campaigns: list[Campaign]) -> list[tuple[str, bytes]]:
    return [(title, _png(fig)) for title, _, fig in figures(campaigns)]


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
