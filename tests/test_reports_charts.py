"""Report charts pick the time unit that fits the data (issue 12: a 22 s campaign was drawn on
an axis of hours, 0.000 to 0.006), and one campaign's timeline puts each phase where it ran."""
from __future__ import annotations

import pytest

from cogit_tracker.reports import charts
from cogit_tracker.reports.model import Campaign, Figures, Phase


def campaign(durations: dict[str, float], start_ms: int = 1_763_000_000_000) -> Campaign:
    phases, t = [], start_ms
    for i, (name, seconds) in enumerate(durations.items(), 1):
        end = t + int(seconds * 1000)
        phases.append(Phase(f"r{i}", None, name, i, "FINISHED", None, {},
                            Figures(duration_s=seconds), start_time=t, end_time=end))
        t = end
    return Campaign("c", None, "demo-fp32", "cogit-qmech", "FINISHED", {}, start_ms, phases)


@pytest.mark.parametrize("seconds,unit", [(22, "seconds"), (119, "seconds"), (600, "minutes"),
                                          (7199, "minutes"), (9 * 3600, "hours")])
def test_time_unit_fits_the_longest_span(seconds, unit):
    assert charts.time_unit(seconds)[0] == unit


def test_a_22_second_campaign_is_drawn_in_seconds():
    fig = charts.time_per_phase([campaign({"encode": 4, "train": 10, "intervene": 7,
                                           "reverse": 1})])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seconds"
    assert ax.get_xlim()[1] == pytest.approx(22, rel=0.1)


def test_a_nine_hour_campaign_is_drawn_in_hours():
    fig = charts.time_per_phase([campaign({"train": 8 * 3600, "intervene": 3600})])
    assert fig.axes[0].get_xlabel() == "hours"
    assert fig.axes[0].get_xlim()[1] == pytest.approx(9, rel=0.1)


def test_timeline_puts_each_phase_where_it_ran():
    fig = charts.timeline(campaign({"encode": 60, "train": 540, "reverse": 30}))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "minutes from the campaign's start"
    bars = sorted((p.get_y(), p.get_x(), p.get_width()) for p in ax.patches)
    assert [(round(x, 2), round(w, 2)) for _, x, w in bars] == [(0, 1), (1, 9), (10, 0.5)]
