"""What users log is masked: one secret of each kind is planted, then everything is searched.

A real experiment process, with a planted command line (every argv form, read by the script's
own argparse parser) and environment (tokens under names no list knows), logs secrets through
every door a user has: `ph.log_params`, `ph.set_tags`, MLflow's fluent `log_param`/`set_tag`
inside the phase, `log_text`, `log_dict`, `log_table`, a metric that is not a number (its warning), and
an exception raised out of the phase. It runs twice: on a live sqlite store, and on a store
that refuses connections (so everything is spooled). The store file, its artifacts, the spool,
stdout, stderr and the campaign's page are searched for each secret; the names are there, with
`***`, and what only looks like a secret (a run id, a commit SHA, `max_new_tokens`) is kept.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from cogit_tracker.redaction import redact, redact_argv, redact_env, secret_name
from conftest import REPO, pages_on

# each unique, each shaped as the real thing
S = {
    "api_key param": "c0g1t-ApiKey-7f3e9a1b5d",
    "ghp_ token in a warning": "gho_W4rN1nGT0k3nV4lu3F0rT3st1ngAbC987654",
    "auth_header tag (Bearer)": "Zq8Rt2Lm5Nv9Xw3Ky6Hj1",
    "password= in a tag": "Hunter2-Qx7Vb3Nm",
    "ghp_ token in a tag": "ghp_R4nD0mT0k3nV4lu3F0rT3st1ngXyZ123456",
    "fluent param openai-api-key": "sk-proj-Fl8uEnTpArAmK3y0123456789abcdef",
    "fluent tag HF_TOKEN": "hf_FluentTagTokenAbCdEfGhIjKlMnOp1234",
    "fluent webhook param": "T01ABCDEF/B02GHIJKL/9sHookSecretPathQwErTy",
    "exception password=": "ExcPw-Zz9Yy8Xx7",
    "exception bearer": "ExcBearer7Tok3nKk5Jj4",
    "log_text _authToken=": "npm_AuthTokenInNpmrc0123456789abcdefgh",
    "log_text Authorization Bearer": "TextBearer9Qp2Wo3Ei4Ru",
    "log_dict password": "DictPw-Ls6Kd5Jf4",
    "log_dict client_secret": "DictSecret-Mn3Bv2Cx1",
    "log_table api_key column": "TableKey-Pp0Oo9Ii8",
    "log_table xoxb- cell": "xoxb-123456789012-1234567890123-TaBlEcElLsLaCkB0t",
    "env personal access token": "github_pat_11AAAAAAA0EnvPatValue_0123456789abcdefghijklmnopqrstuvwxyzAB",
    "env slack webhook path": "T0ENVAAAA/B0ENVBBBB/EnvWebhookSecretXyZ123",
    "env discord webhook path": "112233445566778899/DiScOrDeNvToKeN-abc_DEF123",
    "env _authToken= in a config": "npm_EnvConfigAuthToken0123456789ABCDEFGH",
    "env AWS access key id": "AKIAENVPLANTED7EXAMP",
    "env JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkLWVudiJ9.SgnPlantedEnvJwt01",
    "argv -p VALUE": "ArgShortPw-4r4r",
    "argv -pVALUE": "ArgAttachedPw-5t5t",
    "argv --passw=VALUE (abbreviation)": "ArgAbbrevPw-6y6y",
    "argv --tok VALUE (abbreviation)": "ArgAbbrevTok-7u7u",
    "argv --api-key=VALUE": "ArgApiKey-8i8i",
    "argv --password VALUE": "ArgLongPw-9o9o",
    "argv sk- in a plain argument": "sk-ArgPlainOpenAiKey0123456789abcdEF",
}
RUN_REF = "0123456789abcdef0123456789abcdef"       # an MLflow run id: kept
COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"  # a git SHA: kept

ARGV = ["-p", S["argv -p VALUE"], f"-p{S['argv -pVALUE']}",
        f"--passw={S['argv --passw=VALUE (abbreviation)']}",
        "--tok", S["argv --tok VALUE (abbreviation)"], f"--api-key={S['argv --api-key=VALUE']}",
        "--password", S["argv --password VALUE"], "--model", "gpt2", "--max-new-tokens", "256",
        "--note", f"key {S['argv sk- in a plain argument']}"]
ENV = {
    "MY_GH": S["env personal access token"],
    "NOTIFY_URL": f"https://hooks.slack.com/services/{S['env slack webhook path']}",
    "ALERTS": f"https://discord.com/api/webhooks/{S['env discord webhook path']}",
    "NPM_CONFIG_BLOB": f"//registry.npmjs.org/:_authToken={S['env _authToken= in a config']}",
    "AWS_ID": S["env AWS access key id"],
    "SESSION_BLOB": S["env JWT"],
}

CHILD = textwrap.dedent("""
    import argparse
    import mlflow
    import cogit_tracker as ct

    S = {secrets!r}

    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("-p", "--password")
        parser.add_argument("--token")
        parser.add_argument("--api-key")
        parser.add_argument("--model")
        parser.add_argument("--max-new-tokens", type=int)
        parser.add_argument("--note")
        args = parser.parse_args()
        try:
            with ct.campaign("masked", experiment="user-secrets") as camp:
                with camp.phase("train") as ph:
                    ph.log_params({{"api_key": S["api_key param"], "model": args.model,
                                    "max_new_tokens": args.max_new_tokens,
                                    "run_ref": "{run_ref}", "commit": "{commit}"}})
                    ph.log_metrics({{"acc": "see " + S["ghp_ token in a warning"]}})  # warns
                    ph.set_tags({{"auth_header": "Bearer " + S["auth_header tag (Bearer)"],
                                  "notes": "login with password=" + S["password= in a tag"],
                                  "gh": S["ghp_ token in a tag"], "pad_token": "<pad>"}})
                    mlflow.log_param("openai-api-key", S["fluent param openai-api-key"])
                    mlflow.set_tag("HF_TOKEN", S["fluent tag HF_TOKEN"])
                    mlflow.log_param("alerts", "https://hooks.slack.com/services/"
                                     + S["fluent webhook param"])
                    ph.log_text("//registry.npmjs.org/:_authToken=" + S["log_text _authToken="]
                                + "\\ncurl -H 'Authorization: Bearer "
                                + S["log_text Authorization Bearer"] + "'\\n", "notes.txt")
                    ph.log_dict({{"db": {{"password": S["log_dict password"], "port": 5432}},
                                 "client_secret": S["log_dict client_secret"],
                                 "max_new_tokens": 256}}, "config.json")
                    ph.log_table({{"api_key": [S["log_table api_key column"]],
                                  "text": ["sent " + S["log_table xoxb- cell"]]}}, "rows.json")
                    ph.log_metrics({{"loss": 0.5}}, step=0)
                    raise RuntimeError("login failed: password=" + S["exception password="]
                                       + " with Authorization: Bearer " + S["exception bearer"])
        except RuntimeError:
            print("the experiment handled its own error", flush=True)

    main()
""").format(secrets=S, run_ref=RUN_REF, commit=COMMIT)


def _child(folder, uri: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), MLFLOW_TRACKING_URI=uri,
               COGIT_SPOOL_DIR=str(folder / "spool"), MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
               **ENV)
    (folder / "train.py").write_text(CHILD)
    return subprocess.Popen([sys.executable, str(folder / "train.py"), *ARGV], env=env,
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _everything(folder, outputs) -> str:
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != "train.py"]
    return "\n".join(outputs) + "\n".join(p.read_bytes().decode("utf-8", "replace")
                                          for p in files)


def _leaked(text: str) -> list[str]:
    return [kind for kind, secret in S.items() if secret in text]


def _names_kept_values_masked(uri: str) -> None:
    """The names logged are in the store with their values masked; the look-alikes kept."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("user-secrets")
    phase = [r for r in client.search_runs([exp.experiment_id])
             if r.data.tags.get("cogit.kind") == "phase"][0]
    params, tags = phase.data.params, phase.data.tags
    assert params["api_key"] == params["openai-api-key"] == "***"
    assert params["alerts"] == "https://hooks.slack.com/services/***"
    assert (params["model"], params["max_new_tokens"]) == ("gpt2", "256")
    assert (params["run_ref"], params["commit"]) == (RUN_REF, COMMIT)
    assert tags["auth_header"] == tags["HF_TOKEN"] == "***"
    assert tags["notes"] == "login with password=***" and tags["gh"] == "ghp_***"
    assert tags["pad_token"] == "<pad>"
    assert tags["cogit.failure.message"] == ("RuntimeError: login failed: password=*** with "
                                             "Authorization: ***")


def test_what_users_log_is_masked_in_the_store_the_spool_the_artifacts_and_the_terminal(
        tmp_path, _empty_store, monkeypatch):
    for name in ("live", "down"):
        (tmp_path / name).mkdir()
    live_db = tmp_path / "live" / "mlflow.db"
    shutil.copy(_empty_store, live_db)
    live_uri = f"sqlite:///{live_db}"
    dead_uri = "postgresql://cogit:pw@127.0.0.1:9/cogit"      # refuses connections: spooled
    runs = [("down", _child(tmp_path / "down", dead_uri)),
            ("live", _child(tmp_path / "live", live_uri))]
    outputs = {}
    for name, proc in runs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "handled its own error" in out, err
        outputs[name] = [out, err]
    assert "metric 'acc' = 'see gho_***' is not a number" in outputs["live"][1]  # a warning

    # the store-down run kept everything in its spool, which replays into a store
    assert [p for p in (tmp_path / "down" / "spool").rglob("*") if p.is_file()]
    synced = tmp_path / "down" / "synced.db"
    shutil.copy(_empty_store, synced)
    sync = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "sync", "--spool",
                           str(tmp_path / "down" / "spool"), "--to", f"sqlite:///{synced}"],
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path / "down",
                          capture_output=True, text=True, timeout=120)
    assert sync.returncode == 0, sync.stderr
    down = _everything(tmp_path / "down", outputs["down"] + [sync.stdout, sync.stderr])
    assert "api_key" in down and "auth_header" in down
    assert not _leaked(down), _leaked(down)
    _names_kept_values_masked(f"sqlite:///{synced}")
    _names_kept_values_masked(live_uri)

    # the command line, as environment.json has it
    env_json = next((live_db.parent / "mlruns").rglob("environment.json")).read_text()
    for shown in ('"-p",\n    "***"', '"-p***"', '"--passw=***"', '"--tok",\n    "***"',
                  '"--api-key=***"', '"--password",\n    "***"', '"--max-new-tokens",\n    "256"',
                  "key sk-***", "https://hooks.slack.com/services/***",
                  "https://discord.com/api/webhooks/***", ":_authToken=***", "github_pat_***"):
        assert shown in env_json, shown

    # the campaign's page and its JSON
    pages = pages_on(live_uri, monkeypatch)
    shown = [pages.get(path).get_data(as_text=True)
             for path in ("/cogit/campaign?campaign=masked", "/cogit/api/campaign?campaign=masked")]
    assert "password=***" in shown[0], shown[0][:2000]

    live = _everything(tmp_path / "live", outputs["live"] + shown)
    assert "api_key" in live and "auth_header" in live
    assert not _leaked(live), _leaked(live)


# ---------------------------------------------------------------- the one function, by itself

@pytest.mark.parametrize("name", [
    "api_key", "auth_header", "HF_TOKEN", "openai-api-key", "_authToken", "token", "password",
    "DB_PASSWORD", "client_secret", "credentials", "private_key", "access_key", "apiKey",
    "AWS_SECRET_ACCESS_KEY", "x-api-key", "use_auth_token", "hub_token", "accessToken",
    "passwd", "Authorization", "cookie", "secret_key", "db.pass", "slack_webhook_secret"])
def test_names_that_say_they_hold_a_secret(name):
    assert secret_name(name) and redact("anything at all", name=name) == "***"


@pytest.mark.parametrize("name", [
    "max_new_tokens", "pad_token", "pad_token_id", "eos_token", "num_key_value_heads", "sigma",
    "author", "password_length", "token_id", "tokenizer", "tokens_per_s", "key", "sort_key",
    "keywords", "cogit.gpu.key", "cogit.failure.message", "mlflow.source.git.commit",
    "cogit.uid", "passes", "bypass", "model", "lr", "auth_type", "password_file"])
def test_names_that_only_look_alike_are_kept(name):
    assert not secret_name(name) and redact("gpt2", name=name) == "gpt2"


@pytest.mark.parametrize("text, shown", [
    ("Authorization: Bearer abc123def456ghi", "Authorization: ***"),
    ("curl -H 'X-Token: Bearer abc123def456ghi'", "curl -H 'X-Token: ***'"),
    ("sent Bearer abc123def456ghi upstream", "sent Bearer *** upstream"),
    ("x Basic dXNlcjpwYXNzd29yZA== y", "x Basic *** y"),
    ("connect failed: password=Hunter2! host=db", "connect failed: password=*** host=db"),
    ("passwd: s3cr3t rest", "passwd: *** rest"),
    ("//registry.npmjs.org/:_authToken=abc-123", "//registry.npmjs.org/:_authToken=***"),
    ('{"password": "pw1", "max_new_tokens": 5, "key": "loss", "pad_token": "<pad>"}',
     '{"password": "***", "max_new_tokens": 5, "key": "loss", "pad_token": "<pad>"}'),
    ("{'api_key': 'abc'}", "{'api_key': '***'}"),
    ("Error: Invalid value for '--token': 'abc'", "Error: Invalid value for '--token': '***'"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_***"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwx", "github_pat_***"),
    ("sk-proj-abcdefghijklmnopqrstuvwxyz012345", "sk-proj-***"),
    ("sk-ant-api03-abcdefghijklmnopqrstu", "sk-ant-***"),
    ("hf_abcdefghijklmnopqrstuvwxyzABCD", "hf_***"),
    ("xoxb-123456789012-1234567890123-abcdefghij", "xoxb-***"),
    ("AKIAIOSFODNN7EXAMPLE", "AKIA***"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcDEF123", "***"),
    ("https://hooks.slack.com/services/T0/B0/XXXX ok", "https://hooks.slack.com/services/*** ok"),
    ("https://discord.com/api/webhooks/123/abc-DEF", "https://discord.com/api/webhooks/***"),
    ("https://acme.webhook.office.com/webhookb2/abc@def/x", "https://acme.webhook.office.com/webhookb2/***"),
    ("https://user:pass@host/x", "https://user:***@host/x"),
])
def test_secret_shaped_values_are_masked_in_place(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize("text", [
    f"run {RUN_REF} at commit {COMMIT}", "model gpt2 from /data/x.csv lr=0.001", "time 12:30",
    "hf_hub_download task-abcdefghijklmnopqrstuvwxyz sk-learn", "Token embeddings shape",
    "the bearer of information", "http://127.0.0.1:5000/#/experiments/1", "max_tokens=256",
    '{"key": "loss", "value": 0.5, "step": 3}'])
def test_ordinary_values_are_kept(text):
    assert redact(text) == text


def test_every_argv_form():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("-p", "--password")
    parser.add_argument("-m", "--model")
    parser.add_argument("--tokenizer")
    parser.add_argument("--use-auth-token", action="store_true")
    argv = ["x.py", "--password", "a1", "--password=a2", "-p", "a3", "-pa4", "--pass", "a5",
            "--passw=a6", "-m", "gpt2", "--tok", "gpt2-tok", "--use-auth-token", "data.csv"]
    assert redact_argv(argv, [parser]) == [
        "x.py", "--password", "***", "--password=***", "-p", "***", "-p***", "--pass", "***",
        "--passw=***", "-m", "gpt2", "--tok", "gpt2-tok", "--use-auth-token", "data.csv"]
    # no parser seen: by the options' names, abbreviations included; a short option is unknown
    argv = ["x.py", "--pass", "a1", "--tok", "a2", "--api-key=a3", "--api-key", "a4",
            "--max-tokens", "256", "-p", "8080", "HF_TOKEN=a5", "--lr", "-0.5",
            "--note=Bearer abc123def456", "--client_secret", "a6"]
    assert redact_argv(argv) == [
        "x.py", "--pass", "***", "--tok", "***", "--api-key=***", "--api-key", "***",
        "--max-tokens", "256", "-p", "8080", "HF_TOKEN=***", "--lr", "-0.5",
        "--note=Bearer ***", "--client_secret", "***"]


def test_environment_values_under_unknown_names():
    safe = redact_env({k: v for k, v in ENV.items()} | {"PATH": "/usr/bin", "PGPASS": "x1"})
    assert safe["PATH"] == "/usr/bin" and safe["PGPASS"] == "***"
    assert not _leaked(str(safe)), _leaked(str(safe))


def test_a_key_that_is_itself_a_secret_is_dropped_with_a_masked_warning():
    from cogit_tracker.store import values

    key = "loss/ghp_K3yIsAS3cr3tV4lu3F0rT3st1ngXyZ000000"
    with pytest.warns(UserWarning) as said:
        assert values.tags({key: "x", "ok": "y"}) == {"ok": "y"}
        assert values.metrics({key: 1.0, "loss": 0.5}, 0) == ({"loss": 0.5}, 0)
    text = " ".join(str(w.message) for w in said)
    assert "looks like a secret" in text and key[9:] not in text
    logged: dict[str, str] = {}
    assert values.params({"api_key": "sk-abc", "pad_token": "<pad>"}, logged) == \
        {"api_key": "***", "pad_token": "<pad>"}
