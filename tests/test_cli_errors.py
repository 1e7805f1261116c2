"""Every click usage error reads as one line and exits 2, like the library's bad values: a
missing argument, an unknown option or command, a wrong type, a bad choice. Real processes,
as a user types them."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore",
               MLFLOW_TRACKING_URI=f"sqlite:///{cwd}/mlflow.db")
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, named", [
    (["decision", "show"], "NUMBER"),                         # missing argument
    (["decision", "show", "two"], "'two'"),                   # wrong type
    (["decision", "list", "--status", "done"], "'done'"),     # bad choice
    (["runs", "list", "--limit", "0"], "--limit"),            # out of range
    (["runs", "list", "--bogus"], "--bogus"),                 # unknown option
    (["reprot"], "reprot"),                                   # unknown command
    (["runs", "lst"], "lst"),                                 # unknown sub-command
    (["report", "--format", "pdf"], "'pdf'"),                 # bad choice
    (["project", "run-001"], "--to"),                         # missing option
    (["server", "--port", "70000"], "70000"),                 # out of range
    (["run", "cogit-qmech", "--epochs", "0"], "--epochs"),    # an experiment's, out of range
    (["run", "cogit-qmech", "--precision", "fp8"], "'fp8'"),  # an experiment's, bad choice
    (["run", "cogit-qmech", "--blend", "0.5,1.0"], "give --blend 0.5 --blend 1.0"),  # old list
    (["run", "--blend", "0.5,1.0"], "give --blend 0.5 --blend 1.0"),  # old, no name: routed
])
def test_usage_errors_are_one_line_exit_2(args, named, tmp_path):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert named in lines[0] and "--help" in lines[0]
    assert not (tmp_path / "mlflow.db").exists()  # nothing half-written, no new store
