"""Bad command lines over every command, as a careless or unlucky user types them.

Each line must end with exit code 2 (bad input) or 1 (a store that refuses or does not
answer), exactly one line on stderr naming the problem, no traceback, and nothing left
behind: no new file in the working directory (no new store) and no new run in the store.
The commands run in this process through click's runner, against a real sqlite store holding
two campaigns and a decision (the real-process form of a few lines is tests/test_cli_errors.py).
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from cogit_tracker.cli import cli

DEAD_PG = "postgresql://cogit:PlantedPw@127.0.0.1:9/cogit"   # discard port: nothing listens
DEAD_HTTP = "http://127.0.0.1:9"
BAD_STORES = ["garbage://x", "mysql://u@localhost/db", "file:///tmp/mlruns", "sqlite://",
              "sqlite:///no/such/folder/m.db", "sqlite:///missing.db", "sqlite:///notes.txt",
              "sqlite:///.", DEAD_PG, DEAD_HTTP]
UNANSWERED = (DEAD_PG, DEAD_HTTP)   # exit 1: the store is not the user's typo
QMECH = ["run", "cogit-qmech"]  # the reference experiment, the only one installed
READERS = [["runs", "list"], ["runs", "reap"], ["report"], ["compare", "run-001", "run-002"],
           ["project", "run-001", "--to", "h100-sxm"], ["decision", "list"],
           ["decision", "show", "1"], ["decision", "verify", "1"], ["decision", "export"],
           ["decision", "link", "1", "run-001"], ["decision", "status", "1", "accepted"],
           QMECH + ["--resume", "run-001"], ["advise", "run-001"], ["runs", "watch"],
           ["report", "--accuracy"], ["runs", "stop", "run-001"]]
WRITERS = [["decision", "new", "--no-input", "--title", "T"], ["decision", "import", "log.md"]]


def _store_lines() -> list[tuple[list[str], int]]:
    out = []
    for command in READERS + WRITERS:
        for uri in BAD_STORES:
            if uri == "sqlite:///missing.db" and command in WRITERS:
                continue  # a writing command may make a store; reading ones may not
            out.append((command + ["--tracking-uri", uri], 1 if uri in UNANSWERED else 2))
    return out


LINES: list[tuple[list[str], int]] = [
    # hardware, gpus
    (["hardware", "--usd-per-hour", "abc"], 2), (["hardware", "--usd-per-hour", "-1"], 2),
    (["hardware", "--usd-per-hour", "nan"], 2), (["hardware", "--usd-per-hour", "inf"], 2),
    (["hardware", "--bogus"], 2), (["gpus", "no-such-gpu"], 2), (["gpus", "a", "b"], 2),
    # runs
    (["runs", "list", "--status", "DONE"], 2), (["runs", "list", "--limit", "0"], 2),
    (["runs", "list", "--limit", "abc"], 2), (["runs", "list", "--campaign"], 2),
    (["runs", "reap", "--stale-after", "nan"], 2), (["runs", "reap", "--stale-after", "inf"], 2),
    (["runs", "reap", "--stale-after", "-1"], 2), (["runs", "reap", "--stale-after", "0"], 2),
    (["runs", "reap", "--stale-after", "soon"], 2), (["runs"], 2), (["runs", "lst"], 2),
    (["runs", "stop"], 2), (["runs", "stop", "no-such"], 2), (["runs", "stop", "run-001"], 2),
    (["runs", "stop", "run-001", "--experiment", "nope"], 2),
    (["runs", "stop", "run-002", "--stale-after", "nan"], 2),
    # run
    (QMECH + ["--phases", "1-999999999999"], 2), (QMECH + ["--phases", "0"], 2),
    (QMECH + ["--phases", "4-2"], 2), (QMECH + ["--phases", "x"], 2),
    (QMECH + ["--blend", "2"], 2), (QMECH + ["--blend", "0.5", "--blend", "-1"], 2),
    (QMECH + ["--blend", "0.5,1.0"], 2), (QMECH + ["--multipliers", "0.5,x"], 2),
    (QMECH + ["--precision", "fp8"], 2), (QMECH + ["--usd-per-hour", "-3"], 2),
    (QMECH + ["--usd-per-hour", "nan"], 2), (QMECH + ["--budget-usd", "0"], 2),
    (QMECH + ["--budget-usd", "inf"], 2), (QMECH + ["--resume", "no-such-campaign"], 2),
    (QMECH + ["--model", "/no/such/model/dir"], 2), (["run", "nope"], 2),
    (QMECH + ["--campaign", " "], 2), (QMECH + ["--quantum-dim", "zero"], 2),
    (QMECH + ["--resume", "run-001", "--campaign", "other"], 2),
    (QMECH + ["--epochs", "0"], 2), (QMECH + ["--operator-rank", "-1"], 2),
    (QMECH + ["--lr", "nan"], 2), (QMECH + ["--target-fidelity", "0"], 2),
    (QMECH + ["--encode-prompts", "many"], 2), (QMECH + ["--bogus"], 2),
    # the spelling from before experiments were commands: routed to the only one installed
    (["run", "--blend", "0.5,1.0"], 2), (["run", "--phases", "9"], 2),
    (["run", "--experiment", "nope"], 2), (["run", "--experiment", "cogit-qmech", "--lr", "0"], 2),
    # plan
    (["plan", "--params", "1e308B", "--quantum-dim", "8"], 2),
    (["plan", "--params", "1e400", "--quantum-dim", "8"], 2),
    (["plan", "--params", "-5", "--quantum-dim", "8"], 2),
    (["plan", "--params", "lots", "--quantum-dim", "8"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "0"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "99999999999999999999"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "8", "--operators", "-1"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "8", "--precision", "fp8"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "8", "--gpu", "nope"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "8", "--seq-len", "0"], 2),
    (["plan", "--params", "7B", "--quantum-dim", "8", "--batch", "999999999999999999999"], 2),
    (["plan", "--model", "/no/such/dir", "--quantum-dim", "8"], 2),
    (["plan", "--quantum-dim", "8"], 2), (["plan", "--params", "7B", "--training"], 2),
    (["plan", "--model", "smollm2-135m", "--training", "--lora-rank", "0"], 2),
    (["plan", "--model", "smollm2-135m", "--training", "--precision", "int4"], 2),
    (["plan", "--params", "70B", "--gpus", "0"], 2),
    (["plan", "--params", "70B", "--gpus", "-2"], 2),
    (["plan", "--params", "70B", "--gpus", "1.5"], 2),
    (["plan", "--params", "70B", "--gpus", "2", "--parallel", "data"], 2),
    (["plan", "--model", "smollm2-135m", "--gpus", "2", "--parallel", "tensor"], 2),
    # report, compare, project
    (["report", "--format", "pdf"], 2), (["report", "--group-by", "colour"], 2),
    (["report", "--baseline", "no-such"], 2), (["report", "--experiment", "nope"], 2),
    (["report", "--output", "/no/such/folder/r.html"], 2), (["report", "--output", "."], 2),
    (["report", "--campaign", "x' or tags.`cogit.kind` != '"], 2),
    (["compare"], 2), (["compare", "run-001"], 2), (["compare", "--a", "gpu.key"], 2),
    (["compare", "--a", "colour=red", "--b", "gpu.key=h100-sxm"], 2),
    (["compare", "no-such-1", "no-such-2"], 2), (["compare", "run-001", "run-002", "run-003"], 2),
    (["compare", "run-001", "run-002", "--output", "/no/such/x.md"], 2),
    (["project", "run-001", "--to", "nope"], 2),
    (["project", "run-001", "--to", "h100-sxm", "--gpus", "0"], 2),
    (["project", "run-001", "--to", "h100-sxm", "--gpus", "x"], 2),
    (["project", "run-001", "--to", "h100-sxm", "--precision", "fp8"], 2),
    (["project", "no-such", "--to", "h100-sxm"], 2), (["project", "run-001"], 2),
    (["project", "run-001", "--to", "h100-sxm", "--output", "/no/such/p.json"], 2),
    # decision new
    (["decision", "new", "--no-input"], 2),
    (["decision", "new", "--no-input", "--title", "T", "--option", "A: a", "--chosen", "Z"], 2),
    (["decision", "new", "--no-input", "--title", "T", "--criterion", "x :: sum(cost_usd) <"], 2),
    (["decision", "new", "--no-input", "--title", "T", "--criterion", "Cheap `sum(cost_usd) < 1`"], 2),
    (["decision", "new", "--no-input", "--title", "T", "--criterion", "x :: sum(`cost`) < 1"], 2),
    (["decision", "new", "--no-input", "--title", "T", "--link", "no-such-run"], 2),
    (["decision", "new", "--no-input", "--title", "T", "--link", "run-001:boss"], 2),
    (["decision", "new", "--from-file", "/no/such/file.md"], 2),
    (["decision", "new", "--from-file", "notes.txt"], 2),
    # decision list, show, link, status, verify
    (["decision", "list", "--status", "done"], 2), (["decision", "list", "--since", "2025-13-45"], 2),
    (["decision", "list", "--since", "2025-02-30"], 2), (["decision", "list", "--since", "today"], 2),
    (["decision", "show", "two"], 2), (["decision", "show", "0"], 2), (["decision", "show", "-1"], 2),
    (["decision", "show", "99999999999999999999"], 2), (["decision", "show", "999"], 2),
    (["decision", "link", "1", "no-such-run"], 2), (["decision", "link", "1", "run-001", "--role", "boss"], 2),
    (["decision", "link", "999", "run-001"], 2), (["decision", "link", "0", "run-001"], 2),
    (["decision", "status", "1", "done"], 2), (["decision", "status", "1", "superseded"], 2),
    (["decision", "status", "1", "accepted", "--by", "2"], 2),
    (["decision", "status", "1", "superseded", "--by", "1"], 2),
    (["decision", "status", "1", "superseded", "--by", "999"], 2),
    (["decision", "status", "1", "superseded", "--by", "99999999999999999999"], 2),
    (["decision", "verify", "999"], 2), (["decision", "verify", "abc"], 2),
    (["decision", "verify", "99999999999999999999"], 2),
    # decision import, export
    (["decision", "import", "/no/such/log.md"], 2), (["decision", "import", "notes.txt"], 2),
    (["decision", "import", "."], 2), (["decision", "import", "/dev/zero"], 2),
    (["decision", "export", "--single", "/no/such/folder/log.md"], 2),
    (["decision", "export", "--dir", "notes.txt"], 2),
    (["decision", "export", "--dir", "/no/such/parent/decisions"], 2),
    # advise, runs watch, decision criterion, decisions from advice, the track record
    (["advise"], 2), (["advise", "no-such"], 2), (["advise", "run-001", "--gpu", "nope"], 2),
    (["advise", "run-001", "--precision", "fp8"], 2),
    (["advise", "run-001", "--gpus", "0"], 2),
    (["advise", "run-001", "--setup-min", "-5"], 2), (["advise", "run-001", "--setup-min", "nan"], 2),
    (["runs", "watch", "--interval", "0"], 2), (["runs", "watch", "--interval", "nan"], 2),
    (["runs", "watch", "--stale-after", "-1"], 2),
    (["decision", "criterion", "1", "1", "sum(cost_usd) < 1"], 2),
    (["decision", "criterion", "999", "1", "sum(cost_usd) < 1"], 2),
    (["decision", "criterion", "1", "0", "sum(cost_usd) < 1"], 2),
    (["decision", "criterion", "1", "1"], 2),
    (["decision", "new", "--from-advice", "no-such", "--no-input"], 2),
    (["decision", "new", "--from-advice", "run-001", "--choose", "nope", "--no-input"], 2),
    (["decision", "new", "--from-advice", "run-001", "--title", "T", "--no-input"], 2),
    (["report", "--accuracy", "--campaign", "run-001"], 2), (["report", "--gpu", "nope"], 2),
    # server
    (["server", "--port", "70000"], 2), (["server", "--port", "0"], 2),
    (["server", "--workers", "0"], 2), (["server", "--backend-store-uri", "garbage://x"], 2),
    (["server", "--backend-store-uri", "sqlite:///x.db"], 2),
    (["server", "--backend-store-uri", DEAD_PG], 1), (["server", "--auth"], 2),
    (["server", "--artifacts-destination", "foo://bucket/x"], 2),
    (["server", "--backend-store-uri", "postgresql://postgres@127.0.0.1:5432"], 2),
    (["server", "--port", "TAKEN"], 2),
    # sync
    (["sync"], 2), (["sync", "--from", "sqlite:///mlflow.db"], 2),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", "sqlite:///mlflow.db"], 2),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", "sqlite:///./mlflow.db"], 2),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", "sqlite:///CWD/mlflow.db"], 2),
    (["sync", "--from", "sqlite:///missing.db", "--to", "sqlite:///copy.db"], 2),
    (["sync", "--from", "garbage://x", "--to", "sqlite:///copy.db"], 2),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", "mysql://u@h/db"], 2),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", DEAD_PG], 1),
    (["sync", "--from", DEAD_HTTP, "--to", "sqlite:///copy.db"], 1),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", "sqlite:///copy.db", "--experiment", "nope"], 2),
    (["sync", "--spool", "/no/such/spool"], 2), (["sync", "--spool", "--from", "sqlite:///mlflow.db"], 2),
    (["sync", "--spool", "--to", "garbage://x"], 2),
    # a writing command on a store that does not exist yet makes none when it refuses
    (["decision", "new", "--no-input", "--tracking-uri", "sqlite:///fresh.db"], 2),
    (["decision", "import", "huge.md", "--tracking-uri", "sqlite:///fresh.db"], 2),
    (["decision", "import", "notes.txt", "--tracking-uri", "sqlite:///fresh.db"], 2),
    (["run", "cogit-qmech", "--phases", "9", "--tracking-uri", "sqlite:///fresh.db"], 2),
    (["run", "cogit-qmech", "--blend", "1,2", "--tracking-uri", "sqlite:///fresh.db"], 2),
    (["sync", "--from", "sqlite:///mlflow.db", "--to", "sqlite:///fresh.db", "--experiment", "nope"], 2),
    # the group itself
    (["reprot"], 2), (["--tracking-uri", "x"], 2),
] + _store_lines()


def _ids(lines):
    return [" ".join(args)[:80] for args, _ in lines]


@pytest.fixture(scope="module")
def template(tmp_path_factory, _empty_store):
    """A folder holding a store with run-001, run-002 (tests/conftest.py) and decision #1."""
    from mlflow.tracking import MlflowClient

    from cogit_tracker.decisions.model import Decision
    from cogit_tracker.decisions.store import DecisionLog
    from support import synthetic as sy

    folder = tmp_path_factory.mktemp("replay")
    shutil.copy(_empty_store, folder / "mlflow.db")
    here = os.getcwd()
    os.chdir(folder)
    try:
        client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
        for label in ("run-001", "run-002"):
            sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec(label, sy.reference_phases()))
        DecisionLog(f"sqlite:///{folder / 'mlflow.db'}").create(Decision(title="Keep the 5090"))
    finally:
        os.chdir(here)
    (folder / "notes.txt").write_text("not a database, not a decision log\n")
    (folder / "log.md").write_text("## Decision #007: Imported\n\nSome context.\n")
    (folder / "huge.md").write_text("## Decision #99999999999999999999: Huge\n\nContext.\n")
    return folder


@pytest.fixture
def workdir(template, tmp_path, monkeypatch):
    folder = tmp_path / "work"
    shutil.copytree(template, folder)
    monkeypatch.chdir(folder)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_AUTH_ADMIN_PASSWORD", "COGIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    return folder


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if "mlflow.db-" not in p.name and "__pycache__" not in p.parts}


def _runs(folder: Path) -> int:
    import sqlite3

    with sqlite3.connect(folder / "mlflow.db") as db:
        return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def replay(args: list[str], folder: Path):
    """Run one command line; (exit code, stdout, stderr, exception or None)."""
    taken = None
    if "TAKEN" in args:
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = [str(taken.getsockname()[1]) if a == "TAKEN" else a for a in args]
    args = [a.replace("CWD", str(folder)) for a in args]
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=True, prog_name="cogit-log")
    finally:
        if taken is not None:
            taken.close()
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, crash


@pytest.mark.parametrize("args, code", LINES, ids=_ids(LINES))
def test_bad_command_line_is_one_line_and_leaves_nothing(args, code, workdir):
    files, runs = _files(workdir), _runs(workdir)
    exit_code, out, err, crash = replay(args, workdir)
    assert crash is None, f"traceback: {crash!r}"
    lines = err.strip().splitlines()
    assert (exit_code, len(lines)) == (code, 1), (exit_code, err, out)
    assert lines[0].startswith("Error: ") and "Traceback" not in err + out
    assert "PlantedPw" not in err + out
    assert _files(workdir) == files, "a file was left behind"
    assert _runs(workdir) == runs, "a run was left behind"
