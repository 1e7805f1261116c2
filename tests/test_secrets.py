"""No secret leaves the process: one of each kind is planted, then everything is searched.

A real experiment process runs with secrets in its environment, its command line, its
tracking URI, a param, a tag, a text artifact and an exception message, against a store that
refuses connections (so warnings name the store and everything goes through the spool). The
spool is then replayed into a sqlite store, and a command fails on the URI with its password.
The whole store file, its artifacts, the spool and its quarantine, and every byte of stdout
and stderr are searched for each secret.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

SECRETS = {
    "tracking URI password": "TrackPw-a7b8",
    "URI password in a param": "UriPw-1a2b",
    "URI password with a slash": "Sl/ashPw-3c4d",
    "redis password, no user": "RedisPw-5e6f",
    "Sentry DSN key": "dsnkey7g8h9",
    "?password= in a query": "QueryPw-9i0j",
    "DB_PASS": "DbPass-k1l2",
    "PGPASS": "PgPass-m3n4",
    "MYSQL_PWD": "MyPwd-o5p6",
    "HF_TOKEN": "hf_TokenY5z6",
    "--api-key=": "ArgKey-q7r8",
    "--token VALUE": "ArgTok-s9t0",
    "--db-password VALUE": "ArgPw-u1v2",
    "--client-secret=": "ArgSec-w3x4",
}
S = SECRETS
DEAD = f"postgresql://cogit:{S['tracking URI password']}@127.0.0.1:9/cogit"

CHILD = textwrap.dedent("""
    import os
    import cogit_tracker as ct
    try:
        with ct.campaign("secretive", experiment="secrets") as camp:
            with camp.phase("train") as ph:
                ph.log_params({"db": os.environ["PARAM_URI"]})
                ph.set_tags({"sentry": os.environ["SENTRY_DSN"]})
                ph.log_text("upstream " + os.environ["API_URL"], "notes.txt")
                ph.log_metrics({"loss": 0.5}, step=0)
                raise RuntimeError("lost " + os.environ["DATABASE_URL"])
    except RuntimeError:
        print("the experiment handled its own error", flush=True)
""")


def test_no_planted_secret_reaches_the_store_the_spool_or_the_terminal(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), MLFLOW_TRACKING_URI=DEAD,
               COGIT_SPOOL_DIR=str(tmp_path / "spool"), MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
               PARAM_URI=f"postgresql://app:{S['URI password in a param']}@db/app",
               DATABASE_URL=f"postgresql://app:{S['URI password with a slash']}@db:5432/app",
               REDIS_URL=f"redis://:{S['redis password, no user']}@cache:6379/0",
               SENTRY_DSN=f"https://{S['Sentry DSN key']}@o1.ingest.sentry.io/2",
               API_URL=f"https://api.example/v1?password={S['?password= in a query']}&x=1",
               DB_PASS=S["DB_PASS"], PGPASS=S["PGPASS"], MYSQL_PWD=S["MYSQL_PWD"],
               HF_TOKEN=S["HF_TOKEN"])
    argv = [f"--api-key={S['--api-key=']}", "--token", S["--token VALUE"],
            "--db-password", S["--db-password VALUE"], f"--client-secret={S['--client-secret=']}"]
    outputs = []

    def run(cmd: list[str], **extra) -> subprocess.CompletedProcess:
        done = subprocess.run(cmd, env={**env, **extra}, cwd=tmp_path, capture_output=True,
                              text=True, timeout=180)
        outputs.extend([done.stdout, done.stderr])
        return done

    child = run([sys.executable, "-c", CHILD, *argv])
    assert child.returncode == 0 and "handled its own error" in child.stdout, child.stderr
    store = f"sqlite:///{tmp_path / 'store.db'}"
    cog = [sys.executable, "-m", "cogit_tracker.cli"]
    assert run(cog + ["sync", "--spool", str(tmp_path / "spool"), "--to", store]).returncode == 0
    refused = run(cog + ["runs", "list"])                  # the URI with its password
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert run(cog + ["report", "--tracking-uri", DEAD]).returncode == 1
    assert run(cog + ["runs", "list", "--tracking-uri", store]).returncode == 0
    shown = run(cog + ["decision", "new", "--no-input", "--title", "t", "--tracking-uri", DEAD])
    assert shown.returncode == 1

    kept = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "environment.json" for p in kept)   # the artifacts are there to search
    assert any(p.name == "store.db" for p in kept)
    text = "\n".join(outputs) + "\n".join(p.read_bytes().decode("utf-8", "replace") for p in kept)
    leaked = [kind for kind, secret in SECRETS.items() if secret in text]
    assert not leaked, leaked
    assert "--api-key=***" in text and "postgresql://cogit:***@127.0.0.1:9/cogit" in text
