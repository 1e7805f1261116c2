"""Experiments found through the `cogit_tracker.pipelines` entry-point group by the real
importlib.metadata, from a dist-info folder put on sys.path (what an installed package
provides), so no install into the shared environment is needed; and `cogit-log run` building
its options from what the experiment declares."""
from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from cogit_tracker.cli import cli
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime import experiments

SWEEP = textwrap.dedent('''
    import json
    from cogit_tracker import Experiment, Param

    def run_sweep(**options):
        print("OPTIONS " + json.dumps(options, sort_keys=True))
        return {"campaign": options["campaign"] or "sweep", "phases": {}}

    EXPERIMENT = Experiment("probe-sweep", run_sweep, help="a user's own experiment.", params=(
        Param("width", int, 8, "How wide the sweep is."),
        Param("dry", bool, False, "Only pretend."),
    ))
''')


def _register(tmp_path, monkeypatch, **targets: str) -> None:
    info = tmp_path / "cogit_exp_probe-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cogit-exp-probe\nVersion: 0.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in targets.items())
    (info / "entry_points.txt").write_text(f"[{experiments.GROUP}]\n{lines}")
    (tmp_path / "probe_sweep.py").write_text(SWEEP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # `run` puts charts on the campaign: no store here, no store made


@pytest.fixture
def registered(tmp_path, monkeypatch):
    _register(tmp_path, monkeypatch, **{"probe-exp": "pipelines.experiment:run_campaign",
                                        "probe-sweep": "probe_sweep:EXPERIMENT"})


def test_a_bare_callable_is_an_experiment_without_options(registered):
    from pipelines.experiment import run_campaign

    assert "probe-exp" in experiments.available()
    loaded = experiments.load("probe-exp")
    assert loaded.run is run_campaign and loaded.params == ()


def test_the_reference_experiment_declares_its_options():
    names = [p.name for p in experiments.load("cogit-qmech").params]
    assert names == ["model", "precision", "phases", "layer", "quantum_dim", "blend", "multipliers",
                     "operator_rank", "lr", "prompts"]


def test_unknown_experiment_is_bad_input_naming_the_installed(registered):
    with pytest.raises(BadInput, match=r"unknown experiment 'nope'; installed: .*probe-exp"):
        experiments.load("nope")


def test_a_users_experiment_gets_its_own_flags_and_help(registered):
    runner = CliRunner()
    helped = runner.invoke(cli, ["run", "--experiment", "probe-sweep", "--help"])
    assert helped.exit_code == 0, helped.output
    assert "--width INTEGER" in helped.output and "How wide the sweep is." in helped.output
    assert "a user's own experiment." in helped.output
    assert "--quantum-dim" not in helped.output  # the reference experiment's, not this one's
    ran = runner.invoke(cli, ["run", "--experiment=probe-sweep", "--width", "3", "--dry",
                              "--campaign", "s1", "--json"])
    assert ran.exit_code == 0, ran.output
    options = ran.output.split("OPTIONS ", 1)[1].splitlines()[0]
    assert '"dry": true' in options and '"width": 3' in options and '"campaign": "s1"' in options


def test_several_experiments_need_a_name_and_a_bad_value_is_one_line(registered):
    runner = CliRunner()
    ambiguous = runner.invoke(cli, ["run", "--campaign", "x"])
    assert ambiguous.exit_code == 2
    assert ambiguous.output.strip().splitlines() == [ambiguous.output.strip()]
    assert "give --experiment NAME" in ambiguous.output and "probe-sweep" in ambiguous.output
    bad = runner.invoke(cli, ["run", "--experiment", "probe-sweep", "--width", "wide"])
    assert bad.exit_code == 2 and "Usage" not in bad.output
    assert bad.output.strip().splitlines() == [bad.output.strip()]
    assert "'wide'" in bad.output and "--width" in bad.output


def test_an_experiment_may_not_take_cogits_own_options():
    with pytest.raises(ValueError, match="campaign"):
        experiments.Experiment("x", dict, params=(experiments.Param("campaign"),))
