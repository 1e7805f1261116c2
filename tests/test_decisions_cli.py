"""`cogit-log decision ...` end to end on a real sqlite store in a temp dir."""
from __future__ import annotations

import json
import stat
import sys

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from cogit_tracker import schema as S
from cogit_tracker.cli import cli
from cogit_tracker.decisions.markdown import parse, parse_file
from conftest import REFERENCE_LOG
from support.decision_runs import make_campaign

NEW = ["decision", "new", "--no-input"]


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def decision_runs(uri, include_deleted=False):
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(S.DECISION_EXPERIMENT)
    if exp is None:
        return []
    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    return client.search_runs([exp.experiment_id], run_view_type=view)


@pytest.fixture
def two_campaigns(store):
    rtx = make_campaign(store, "run-001", "rtx-5090", "fp16", {
        "train": {"fidelity": 0.989, "duration_s": 1500, "cost_usd": 0.37},
        "intervene": {"duration_s": 7300, "cost_usd": 1.80}})
    h100 = make_campaign(store, "run-002", "h100-sxm", "fp16", {
        "intervene": {"duration_s": 610, "cost_usd": 0.41},
        "reverse": {"duration_s": 200, "cost_usd": 0.13}})
    return rtx, h100


def test_new_no_input_stores_run_with_tags_artifacts_and_links_both_ways(store, two_campaigns):
    rtx, h100 = two_campaigns
    res = run(*NEW, "--title", "Abort RTX 5090", "--context", "Phase 3 slow",
              "--option", "A: Wait", "--option", "C: Migrate to H100", "--chosen", "C",
              "--reason", "CPU operators", "--criterion", "Phase 3 under 15 min :: "
              "phase[intervene].duration_s < 900 where gpu.key = h100-sxm",
              "--criterion", "sum(cost_usd) < 1.00 where gpu.key = h100-sxm",
              "--criterion", "Results look right", "--link", "run-001:context",
              "--link", f"{h100}:validation", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["number"] == 1 and data["chosen"] == "C"
    [dec] = decision_runs(store)
    tags = dec.data.tags
    assert dec.info.run_name == "Decision #001: Abort RTX 5090"
    assert tags[S.KIND] == "decision" and tags[S.DECISION_STATUS] == "accepted"
    assert tags[S.link_tag(rtx)] == "context" and tags[S.link_tag(h100)] == "validation"
    assert "### Validation Criteria" in tags["mlflow.note.content"]
    client = MlflowClient(store)
    assert {a.path for a in client.list_artifacts(dec.info.run_id)} == {"decision.json",
                                                                        "decision.md"}
    found = client.search_runs([client.get_experiment_by_name("cogit-qmech").experiment_id],
                               f"tags.`{S.decision_tag(1)}` = 'validation'")
    assert [r.data.tags[S.UID] for r in found] == [h100]

    shown = run("decision", "show", "1", "--runs")
    assert shown.exit_code == 0
    assert "side by side" in shown.output and "run-001" in shown.output \
        and "run-002" in shown.output and "h100-sxm" in shown.output and "$1.80" in shown.output

    ver = run("decision", "verify", "1")
    assert ver.exit_code == 0, ver.output
    assert "validated" in ver.output and "610" in ver.output and "0.54" in ver.output
    assert "[intervene]" in ver.output              # user text is not taken for rich markup
    listed = json.loads(run("decision", "list", "--json").output)
    assert listed[0]["status"] == "validated" and listed[0]["links"] == 2
    assert listed[0]["verification"] == "2 pass, 1 manual"


def test_verify_refutes_and_exits_1(store, two_campaigns):
    run(*NEW, "--title", "Stay on the 5090", "--criterion", "sum(cost_usd) < 1.00",
        "--link", "run-001:validation")
    res = run("decision", "verify", "1", "--json")
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert data["status"] == "refuted" and data["criteria"][0]["value"] == pytest.approx(2.17)


def test_verify_stays_pending_without_evidence(store):
    run(*NEW, "--title", "No runs yet", "--criterion", "phase[train].fidelity >= 0.98")
    res = run("decision", "verify", "1", "--json")
    assert res.exit_code == 0
    assert json.loads(res.output)["criteria"][0]["state"] == "pending"
    assert json.loads(run("decision", "list", "--json").output)[0]["status"] == "proposed"


def test_link_status_and_list_filters(store, two_campaigns):
    run(*NEW, "--title", "First", "--option", "A: x", "--chosen", "A")
    run(*NEW, "--title", "Second about H100")
    assert run("decision", "link", "2", "run-002", "--role", "evidence").exit_code == 0
    assert run("decision", "status", "1", "superseded", "--by", "2").exit_code == 0
    listed = {e["number"]: e for e in json.loads(run("decision", "list", "--json").output)}
    assert listed[1]["status"] == "superseded" and listed[2]["links"] == 2  # run-002 + #001
    assert [e["number"] for e in json.loads(
        run("decision", "list", "--status", "superseded", "--json").output)] == [1]
    assert [e["number"] for e in json.loads(
        run("decision", "list", "--text", "h100", "--json").output)] == [2]
    assert json.loads(run("decision", "list", "--since", "2999-01-01", "--json").output) == []
    first = decision_runs(store)
    one = next(r for r in first if r.data.tags[S.DECISION_NUMBER] == "001")
    assert one.data.tags[S.decision_tag(2)] == "supersedes"
    shown = json.loads(run("decision", "show", "1", "--json").output)
    assert shown["status"] == "superseded" and "**Status:** superseded" not in shown["title"]


@pytest.mark.parametrize("args, message", [
    ([], "--title: a decision needs a title"),
    (["--title", "x", "--option", "A: a", "--chosen", "B"], "--chosen: chosen option 'B'"),
    (["--title", "x", "--link", "no-such-run"], "link target 'no-such-run'"),
    (["--title", "x", "--criterion", "x :: sum(cost_usd < 1"], "at column 14"),
    (["--title", "x", "--option", "no label"], "--option 'no label'"),
    (["--title", "x", "--link", "run-001:boss"], "link target 'run-001:boss'"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(store, args, message):
    make_campaign(store, "run-001", "rtx-5090", "fp16", {"train": {"fidelity": 0.9}})
    res = run(*NEW, *args)
    assert res.exit_code == 2
    assert message in res.output and res.output.count("\n") == 1, res.output
    assert decision_runs(store, include_deleted=True) == []
    ok = run(*NEW, "--title", "after the failure", "--json")
    assert json.loads(ok.output)["number"] == 1        # no number was burnt


def test_a_failure_after_reserving_removes_the_run_and_releases_the_number(store, monkeypatch):
    """Fault injected at one seam (writing the artifacts) to reach the rollback path."""
    from cogit_tracker.decisions.store import DecisionLog

    camp = make_campaign(store, "run-001", "rtx-5090", "fp16", {"train": {"fidelity": 0.9}})

    def boom(self, run_id, d):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(DecisionLog, "_artifacts", boom)
        failed = run(*NEW, "--title", "doomed", "--link", "run-001:evidence")
    assert failed.exit_code == 1 and "could not write: disk full" in failed.output  # one line
    assert decision_runs(store, include_deleted=True) == []
    client = MlflowClient(store)
    campaign_run = client.search_runs(
        [client.get_experiment_by_name("cogit-qmech").experiment_id],
        f"tags.`{S.UID}` = '{camp}'")[0]
    assert S.decision_tag(1) not in campaign_run.data.tags
    assert json.loads(run(*NEW, "--title", "next", "--json").output)["number"] == 1


def test_interactive_new_reads_each_section_from_stdin(store):
    answers = "\n".join([
        "Keep operators on CPU", "", "",             # title, date and time default to now
        "Phase 3 OOM", "7B + 2.8 GB > 32 GB", "",      # context, problem, analysis
        "Let it complete", "baseline; validates", "slow",   # option A
        "Quantize", "fast", "setup time",               # option B
        "",                                             # no more options
        "b",                                            # chosen
        "scientific comparison", "", "",                # reasoning, tradeoffs, debt
        "Q8 ten times faster", "bad :: sum(cost_usd <", "cheap :: sum(cost_usd) < 1", "",
        "70B needs Q8",                                 # implications
    ]) + "\n"
    res = run("decision", "new", "--json", input=answers)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output[res.output.index("{"):])
    assert data["title"] == "Keep operators on CPU" and data["chosen"] == "B"
    assert [o["pros"] for o in data["options"]] == [["baseline", "validates"], ["fast"]]
    assert data["criteria"] == [{"text": "Q8 ten times faster", "expr": None},
                                {"text": "cheap", "expr": "sum(cost_usd) < 1"}]
    assert "at column" in res.output                 # the bad criterion was asked again
    assert data["date"][:2] == "20" and data["time"].endswith("UTC")


def test_edit_opens_editor_on_template(store, tmp_path, monkeypatch):
    editor = tmp_path / "fake-editor"
    editor.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                      "p = pathlib.Path(sys.argv[1]); t = p.read_text()\n"
                      "assert '**Date:** 20' in t\n"
                      "p.write_text(t.replace('<title>', 'Edited title'))\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    res = run("decision", "new", "--edit", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["title"] == "Edited title" and data["criteria"][1]["expr"] == \
        "sum(cost_usd) < 1.00"


def test_from_file_and_export_dir(store, tmp_path):
    src = tmp_path / "one.md"
    src.write_text("## Decision: From a file\r\n\r\n### The Problem\r\n\r\nit broke\r\n",
                   encoding="utf-8")
    assert run("decision", "new", "--from-file", str(src)).exit_code == 0
    res = run("decision", "export", "--dir", str(tmp_path / "out"))
    assert res.exit_code == 0
    [path] = (tmp_path / "out").iterdir()
    assert path.name == "0001-from-a-file.md"
    assert parse(path.read_text(encoding="utf-8")).decisions[0].problem == "it broke"


@pytest.mark.skipif(not REFERENCE_LOG.exists(), reason="reference log absent")
def test_import_reference_is_idempotent_and_exports_clean_utf8(store, tmp_path):
    dry = run("decision", "import", str(REFERENCE_LOG), "--dry-run")
    assert dry.exit_code == 0 and "2 would add" in dry.output
    assert decision_runs(store) == []
    first = run("decision", "import", str(REFERENCE_LOG))
    assert first.exit_code == 0 and "repaired Mac Roman mojibake" in first.output
    assert "2 added" in first.output
    again = run("decision", "import", str(REFERENCE_LOG))
    assert "0 added, 2 already present" in again.output
    assert len(decision_runs(store)) == 2
    out = tmp_path / "log.md"
    assert run("decision", "export", "--single", str(out)).exit_code == 0
    text = out.read_bytes().decode("utf-8")
    assert "‚" not in text and "→" in text and "✅" in text
    assert parse(text).decisions == parse_file(REFERENCE_LOG).decisions
    assert json.loads(run(*NEW, "--title", "third", "--json").output)["number"] == 3


def test_import_rejects_duplicate_numbers_and_clashes(store, tmp_path):
    log = tmp_path / "dup.md"
    log.write_text("## Decision #1: A\n\ntext\n\n## Decision #1: B\n\ntext\n", encoding="utf-8")
    res = run("decision", "import", str(log))
    assert res.exit_code == 2 and f"{log}:5: Decision #001 appears twice" in res.output
    assert decision_runs(store) == []
    run(*NEW, "--title", "Already here")
    clash = tmp_path / "clash.md"
    clash.write_text("## Decision #1: Something else\n", encoding="utf-8")
    res = run("decision", "import", str(clash))
    assert res.exit_code == 2 and "clashes with #001 'Already here'" in res.output
    res = run("decision", "import", str(tmp_path / "nope.md"))
    assert res.exit_code == 2 and "nope.md: cannot read" in res.output


def test_every_command_has_help_with_example():
    for name in ("new", "list", "show", "link", "status", "verify", "import", "export"):
        res = run("decision", name, "--help")
        assert res.exit_code == 0 and "Example:" in res.output, name


@pytest.mark.parametrize("args, message", [
    (["show", "9"], "decision #009: no such decision"),
    (["verify", "9"], "decision #009: no such decision"),
    (["link", "1", "nowhere"], "RUN: link target 'nowhere'"),
    (["status", "1", "superseded"], "--by: superseded needs"),
    (["status", "1", "accepted", "--by", "1"], "--by 1: only goes with superseded"),
    (["status", "1", "superseded", "--by", "1"], "cannot supersede itself"),
    (["list", "--since", "yesterday"], "--since 'yesterday'"),
])
def test_bad_arguments_to_the_other_commands(store, args, message):
    run(*NEW, "--title", "one")
    before = [r.data.tags for r in decision_runs(store)]
    res = run("decision", *args)
    assert res.exit_code == 2 and message in res.output, res.output
    assert res.output.count("\n") == 1
    assert [r.data.tags for r in decision_runs(store)] == before


def test_criteria_written_in_markdown_are_checked(store, tmp_path):
    make_campaign(store, "run-002", "h100-sxm", "fp16", {"reverse": {"fidelity": 0.97}})
    src = tmp_path / "d.md"
    src.write_text("## Decision #4: Reverse check\n\n### Validation Criteria\n\n"
                   "1. Reversible — `phase[reverse].fidelity >= 0.98`\n", encoding="utf-8")
    assert run("decision", "import", str(src)).exit_code == 0
    assert run("decision", "link", "4", "run-002", "--role", "validation").exit_code == 0
    res = run("decision", "verify", "4")
    assert res.exit_code == 1 and "refuted" in res.output and "0.97" in res.output


@pytest.mark.skipif(not REFERENCE_LOG.exists(), reason="reference log absent")
def test_import_renumber_into_a_store_with_other_decisions(store):
    run(*NEW, "--title", "Ours")
    assert run("decision", "import", str(REFERENCE_LOG)).exit_code == 2
    res = run("decision", "import", str(REFERENCE_LOG), "--renumber")
    assert res.exit_code == 0 and "2 added" in res.output
    again = run("decision", "import", str(REFERENCE_LOG), "--renumber")
    assert "0 added, 2 already present" in again.output
    listed = json.loads(run("decision", "list", "--json").output)
    assert [(e["number"], e["title"][:9]) for e in listed] == [
        (1, "Ours"), (2, "GPU Memor"), (3, "Abort RTX")]


def test_a_corrupt_record_is_one_line_and_the_others_still_export(store, tmp_path):
    """A `decision.json` overwritten with garbage: `show` and `verify` of that decision say so
    in one line (exit 1); `export` writes every other decision, then names the one skipped."""
    for title in ("First", "Second", "Third"):
        assert run(*NEW, "--title", title).exit_code == 0
    second = next(r for r in decision_runs(store) if r.data.tags[S.DECISION_NUMBER] == "002")
    broken = tmp_path / "decision.json"
    broken.write_text("{ not json")
    MlflowClient(store).log_artifact(second.info.run_id, str(broken))
    for args in (["decision", "show", "2"], ["decision", "verify", "2"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1 and not isinstance(res.exception, Exception)  # no traceback
        assert len(res.stderr.strip().splitlines()) == 1 and "decision #002" in res.stderr
    res = CliRunner().invoke(cli, ["decision", "export", "--dir", str(tmp_path / "out")])
    assert res.exit_code == 1 and "decision #002" in res.stderr, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0001-first.md",
                                                                    "0003-third.md"]
    assert run("decision", "show", "3").exit_code == 0
