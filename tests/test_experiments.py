"""Experiments found through the `cogit_tracker.pipelines` entry-point group by the real
importlib.metadata, from a dist-info folder put on sys.path (what an installed package
provides), so no install into the shared environment is needed; each a click command of
`cogit-log run` made from what it declares, run in a campaign that cogit opens on a real
sqlite store in a temp dir."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.cli import cli
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime import experiments

SWEEP = textwrap.dedent('''
    import json
    from cogit_tracker import Experiment, Param

    def run_sweep(camp, params):
        print("GOT " + json.dumps({"label": camp.label, "params": params}, sort_keys=True))
        with camp.phase("sweep") as ph:
            ph.log_metrics({"accuracy": 0.5 + 0.1 * params["width"]})
        return {"sweep": {"width": params["width"]}}

    def run_bare(camp, params):
        return {}

    EXPERIMENT = Experiment("probe-sweep", run_sweep, help="a user's own experiment.", params=(
        Param("width", int, 8, "How wide the sweep is."),
        Param("seed", int, (0,), "Seeds to try.", multiple=True),
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


@pytest.fixture
def registered(store, tmp_path, monkeypatch):
    """Two more experiments beside the installed cogit-qmech; cwd and the default store in
    tmp_path (`store`)."""
    _register(tmp_path, monkeypatch, **{"probe-bare": "probe_sweep:run_bare",
                                        "probe-sweep": "probe_sweep:EXPERIMENT"})


def _got(output: str) -> dict:
    return json.loads(output.split("GOT ", 1)[1].splitlines()[0])


def _one_line(res, *words: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Usage" not in res.output and "Traceback" not in res.output
    assert res.output.strip().splitlines() == [res.output.strip()], res.output
    assert all(w in res.output for w in words), res.output


def test_a_bare_callable_is_an_experiment_without_parameters(registered):
    assert "probe-bare" in experiments.available()
    loaded = experiments.load("probe-bare")
    assert loaded.name == "probe-bare" and loaded.params == ()


def test_the_reference_experiment_declares_its_parameters():
    names = [p.name for p in experiments.load("cogit-qmech").params]
    assert names == ["model", "precision", "phases", "layer", "quantum_dim", "blend",
                     "multipliers", "operator_rank", "lr", "epochs", "target_fidelity",
                     "checkpoint_every", "encode_prompts", "eval_prompts", "max_new_tokens",
                     "prompts"]


def test_unknown_experiment_is_bad_input_naming_the_installed(registered):
    with pytest.raises(BadInput, match=r"unknown experiment 'nope'; installed: .*probe-sweep"):
        experiments.load("nope")
    _one_line(CliRunner().invoke(cli, ["run", "nope", "--width", "3"]), "'nope'", "probe-sweep")


def test_each_experiment_is_a_command_with_its_own_flags_and_help(registered):
    runner = CliRunner()
    listed = runner.invoke(cli, ["run", "--help"])
    assert listed.exit_code == 0 and "probe-sweep" in listed.output and "cogit-qmech" in listed.output
    helped = runner.invoke(cli, ["run", "probe-sweep", "--width", "3", "--help"])
    assert helped.exit_code == 0, helped.output
    assert "--width INTEGER" in helped.output and "How wide the sweep is." in helped.output
    assert "a user's own experiment." in helped.output and "Example:" in helped.output
    assert "--budget-usd" in helped.output  # cogit's own, on every experiment
    assert "--quantum-dim" not in helped.output  # the reference experiment's, not this one's


def test_cogit_opens_the_campaign_and_the_experiment_gets_its_own_parameters(registered, store):
    ran = CliRunner().invoke(cli, ["run", "probe-sweep", "--width", "3", "--seed", "1",
                                   "--seed", "2", "--dry", "--campaign", "s1",
                                   "--usd-per-hour", "2", "--json"])
    assert ran.exit_code == 0, ran.output
    got = _got(ran.output)
    assert got == {"label": "s1", "params": {"width": 3, "seed": [1, 2], "dry": True}}
    summary = json.loads(ran.output.split("\n", 1)[1])
    assert summary["campaign"] == "s1" and summary["phases"] == {"sweep": {"width": 3}}
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("probe-sweep")
    camp, = client.search_runs([exp.experiment_id], f"tags.`{schema.KIND}` = 'campaign'")
    assert camp.data.tags[schema.CAMPAIGN] == "s1" and camp.info.status == "FINISHED"
    assert camp.data.tags[schema.RATE_SOURCE] == "arg"
    assert camp.data.params["width"] == "3" and camp.data.params["seed"] == "1,2"


def test_a_comma_list_says_in_one_line_what_replaced_it(registered):
    res = CliRunner().invoke(cli, ["run", "probe-sweep", "--seed", "1,2"])
    _one_line(res, "'1,2'", "give --seed 1 --seed 2")
    assert not (Path.cwd() / "mlruns").exists()  # refused before any run
    with pytest.raises(BadInput, match="give --seed 1 --seed 2"):
        experiments.run(experiments.load("probe-sweep"), seed="1,2")


def test_an_undeclared_parameter_is_bad_input_naming_the_declared(registered):
    with pytest.raises(BadInput, match=r"no parameter 'depth'; accepted: width, seed, dry"):
        experiments.run(experiments.load("probe-sweep"), depth=3)


def test_several_experiments_need_a_name_and_the_old_spellings_route(registered):
    runner = CliRunner()
    _one_line(runner.invoke(cli, ["run", "--campaign", "x"]), "several experiments",
              "cogit-log run cogit-qmech --help")
    old = runner.invoke(cli, ["run", "--experiment=probe-sweep", "--width", "4", "--json"])
    assert old.exit_code == 0, old.output
    assert _got(old.output)["params"]["width"] == 4
    bad = runner.invoke(cli, ["run", "--experiment", "probe-sweep", "--width", "wide"])
    _one_line(bad, "'wide'", "--width")


def test_the_old_spelling_with_one_experiment_installed_routes_to_it(store):
    """Only cogit-qmech is installed here: options with no experiment name are its own."""
    assert list(experiments.available()) == ["cogit-qmech"]
    runner = CliRunner()
    _one_line(runner.invoke(cli, ["run", "--blend", "0.5,1.0"]), "'0.5,1.0'",
              "give --blend 0.5 --blend 1.0", "run cogit-qmech --help")
    _one_line(runner.invoke(cli, ["run", "--phases", "9"]), "--phases '9'")


def test_help_shows_each_models_recipe(registered):
    helped = CliRunner().invoke(cli, ["run", "cogit-qmech", "--help"])
    text = " ".join(helped.output.split())
    for shown in ("16 on smollm2-135m; else 0", "0.02 on smollm2-135m; else 0.002",
                  "12 on smollm2-135m; else the middle one", "0.25, 0.5, 0.75, 1.0"):
        assert shown in text, shown


def test_values_left_out_come_from_the_models_recipe(tiny_model):
    """A model with no recipe of its own gets the generic one; what is given wins."""
    from pipelines import EXPERIMENT
    from pipelines.config import ANY_MODEL

    params = EXPERIMENT.complete({"model": str(tiny_model), "lr": 0.01, "blend": [0.5]})
    plan = EXPERIMENT.plan(params, None)
    assert plan.model == str(tiny_model) and plan.phases == ("encode", "train", "intervene",
                                                             "reverse")
    assert plan.params["lr"] == 0.01 and plan.params["blend"] == "0.5"
    assert plan.params["epochs"] == ANY_MODEL.epochs and "operator_rank" not in plan.params
    assert plan.config.layer == 1  # the middle of tiny's 2 layers


@pytest.mark.slow
def test_smollm2_with_no_flags_is_the_readmes_recipe():
    """`cogit-log run cogit-qmech --model smollm2-135m` with nothing else: rank 16 at lr 0.02,
    layer 12, 400 pairs, 20 new tokens (converts the GGUF on an empty model cache)."""
    from pipelines import EXPERIMENT

    plan = EXPERIMENT.plan(EXPERIMENT.complete({"model": "smollm2-135m"}), None)
    cfg = plan.config
    assert (cfg.operator_rank, cfg.lr, cfg.layer, cfg.encode_prompts, cfg.max_new_tokens) == \
        (16, 0.02, 12, 400, 20)
    assert plan.params["operator_rank"] == 16 and plan.params["quantum_dim"] == 1152


def test_an_experiment_may_not_take_cogits_own_options():
    for name in ("campaign", "tracking_uri", "json"):
        with pytest.raises(ValueError, match=name):
            experiments.Experiment("x", dict, params=(experiments.Param(name),))
