"""`cogit_tracker.experiments`: experiments found through the `cogit_tracker.pipelines`
entry-point group by the real importlib.metadata, from a dist-info folder put on sys.path
(what an installed package provides), so no install into the shared environment is needed."""
from __future__ import annotations

import pytest

from cogit_tracker import experiments
from cogit_tracker.errors import BadInput


@pytest.fixture
def registered(tmp_path, monkeypatch):
    info = tmp_path / "cogit_exp_probe-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cogit-exp-probe\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(
        f"[{experiments.GROUP}]\nprobe-exp = pipelines.experiment:run_campaign\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "probe-exp"


def test_registered_experiment_is_found_and_loaded(registered):
    from pipelines.experiment import run_campaign

    assert registered in experiments.available()
    assert experiments.load(registered) is run_campaign


def test_unknown_experiment_is_bad_input_naming_the_installed(registered):
    with pytest.raises(BadInput, match=r"unknown experiment 'nope'; installed: .*probe-exp"):
        experiments.load("nope")
