"""A store made under the previous lock's MLflow (issue 17, item 8): the MLflow locked now
refuses it in one line that says how to upgrade, a phase opened on it keeps its ops, and after
`mlflow db upgrade` every reading command takes it and new campaigns write into it.

The old MLflow is the real release, installed with pip into a folder of its own (no
dependencies: the rest of the environment is the lock's) and put first on PYTHONPATH for the
one process that writes the old store."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cogit_tracker.cli import cli

from support import old_store

#: The MLflow of the lock before this one (constraints.txt at decision 045).
PREVIOUS = "3.17.2"
PACKAGES = [f"{name}=={PREVIOUS}" for name in ("mlflow", "mlflow-skinny", "mlflow-tracing")]
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def old_store_folder(tmp_path_factory) -> Path:
    """A folder holding `mlflow.db` and `mlruns/` written by cogit under MLflow PREVIOUS."""
    root = tmp_path_factory.mktemp("old-mlflow")
    site = root / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--disable-pip-version-check", "--target", str(site), *PACKAGES],
                         capture_output=True, text=True, timeout=300)
    if pip.returncode:
        pytest.skip(f"pip could not install MLflow {PREVIOUS} to write an old store: "
                    f"{pip.stderr.strip().splitlines()[-1:]}")
    folder = root / "store"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(HERE)])}
    env.pop("MLFLOW_TRACKING_URI", None)
    made = subprocess.run([sys.executable, str(HERE / "support" / "old_store.py"), str(folder)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert made.returncode == 0, made.stderr[-3000:]
    assert f"mlflow {PREVIOUS}:" in made.stdout, made.stdout
    return folder


@pytest.fixture
def old(old_store_folder, tmp_path, monkeypatch, cogit_env) -> str:
    """A copy of the old store (each test upgrades or spools into its own), as the cwd."""
    folder = tmp_path / "store"
    shutil.copytree(old_store_folder, folder)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    return f"sqlite:///{folder / 'mlflow.db'}"


def cogit(*args: str):
    return CliRunner().invoke(cli, list(args))


def upgrade(uri: str) -> None:
    done = subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", uri],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_old_store_is_refused_in_one_line_that_says_how_to_upgrade(old):
    res = cogit("runs", "list", "--tracking-uri", old)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert "older MLflow" in lines[0] and f"mlflow db upgrade {old}" in lines[0], lines[0]
    assert "Traceback" not in res.output


EXPERIMENT = """
import cogit_tracker as ct
with ct.campaign("during-upgrade", experiment="cogit-qmech", usd_per_hour=1) as camp:
    with camp.phase("train") as ph:
        ph.log_metrics({"fidelity": 0.95})
"""


def test_a_phase_on_the_old_store_keeps_its_ops_until_the_upgrade(old):
    """The experiment runs and exits 0; its ops wait in the spool, and the one line says how
    to upgrade; after the upgrade `sync --spool` brings them in."""
    ran = subprocess.run([sys.executable, "-c", EXPERIMENT], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MLFLOW_TRACKING_URI": old})
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"mlflow db upgrade {old}" in ran.stderr, ran.stderr[-3000:]
    assert "Creating initial MLflow database tables" not in ran.stderr   # not migrated by us
    upgrade(old)
    assert cogit("sync", "--spool", "--to", old).exit_code == 0
    res = cogit("report", "--campaign", "during-upgrade", "--json", "--tracking-uri", old)
    assert res.exit_code == 0, res.output
    assert "0.95" in res.output


def test_after_mlflow_db_upgrade_every_command_reads_the_old_store(old, tmp_path):
    import cogit_tracker as ct

    upgrade(old)
    label = old_store.LABEL
    with ct.campaign("new-run", experiment="cogit-qmech", tracking_uri=old) as camp:
        for name in ("encode", "train", "intervene"):
            with camp.phase(name) as ph:
                ph.log_metrics({"fidelity": 0.98})
    listed = json.loads(cogit("runs", "list", "--json", "--tracking-uri", old).output)
    assert {label, "new-run"} <= {row["campaign"] for row in listed}, listed
    reads = [
        ["report", "--campaign", label],
        ["report", "--format", "html", "--output", str(tmp_path / "r.html")],
        ["compare", label, "new-run"],
        ["advise", label],
        ["project", label, "--to", "h100-sxm"],
        ["runs", "reap"],
        ["decision", "list"],
        ["decision", "show", "1"],
        ["decision", "verify", "1"],
        ["decision", "export", "--dir", str(tmp_path / "log")],
        ["sync", "--from", old, "--to", f"sqlite:///{tmp_path / 'copy.db'}"],
    ]
    for args in reads:
        res = cogit(*args, "--tracking-uri", old) if args[0] != "sync" else cogit(*args)
        assert res.exit_code == 0, (args, res.output)
    shown = cogit("decision", "show", "1", "--tracking-uri", old).output
    assert old_store.TITLE in shown, shown
    verified = cogit("decision", "verify", "1", "--tracking-uri", old).output
    assert "validated" in verified.lower(), verified
    assert any((tmp_path / "log").glob("*.md")), "the export wrote no record"
    table = cogit("report", "--campaign", label, "--tracking-uri", old).output
    assert "0.99" in table or "0.990" in table, table   # train's fidelity, from MLflow 3.17
