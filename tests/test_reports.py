"""`cogit-log report` and `compare` on real sqlite stores written through MlflowClient."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import synthetic as sy
from cogit_tracker.cli import cli
from cogit_tracker.reports.model import load

REPO = Path(__file__).resolve().parents[1]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def report_json(*args: str) -> dict:
    res = run("report", "--json", *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def rows_by(doc: dict, campaign: str) -> dict:
    return {r["phase"]: r for r in doc["rows"] if r["campaign"] == campaign}


def one_line_error(res, *words: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    for word in words:
        assert word in lines[0]


def test_report_rows_totals_and_unfinished_runs(two_campaigns):
    doc = report_json()
    a, b = rows_by(doc, "run-001"), rows_by(doc, "run-002")
    assert list(a) == ["encode", "train", "intervene", "reverse", "total"]
    assert a["total"]["duration_s"] == pytest.approx(420 + 1500 + 5400 + 90)
    assert a["total"]["cost_usd"] == pytest.approx(sum(a[p]["cost_usd"] for p in list(a)[:4]))
    assert a["train"]["fidelity"] == pytest.approx(0.989)
    assert a["intervene"]["tokens_per_s"] == 28.0
    # the columns are the declared headline, in its order; `generations` is not declared
    assert doc["columns"][-4:] == list(sy.REFERENCE_HEADLINE)
    assert "generations" not in a["intervene"]
    assert a["total"]["fidelity"] == pytest.approx(0.989)  # the last phase's that logged it
    # FAILED and RUNNING phases show their status; the total adds what was measured.
    assert b["intervene"]["status"] == "FAILED (cuda_oom)"
    assert b["reverse"]["status"] == "RUNNING" and b["reverse"]["duration_s"] is None
    measured = [b[p]["duration_s"] for p in ("encode", "train", "intervene")]
    assert b["total"]["duration_s"] == pytest.approx(sum(measured))
    assert b["total"]["status"] == "RUNNING"
    assert b["total"]["vram_peak_gb"] == max(b[p]["vram_peak_gb"] for p in list(b)[:4])


@pytest.mark.parametrize("columns", [200, 120])
def test_the_table_fits_the_terminal_without_folding_its_words(two_campaigns, monkeypatch,
                                                                columns):
    """Where the boxed table's longest words fit, it is boxed; on a narrower terminal it is
    drawn compact (no vertical rules), where a squeezed boxed table read FINIS over HED.
    Either way no line is wider than the terminal."""
    monkeypatch.setenv("COLUMNS", str(columns))
    res = run("report")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert ("┃" in res.output) == (columns == 200)
    for word in ("campaign", "precision", "intervene", "FINISHED", "cuda_oom", "h100-sxm"):
        assert any(word in line for line in lines), (word, res.output)


def test_baseline_adds_ratio_columns(two_campaigns):
    doc = report_json("--baseline", "run-001")
    a, b = rows_by(doc, "run-001"), rows_by(doc, "run-002")
    assert b["train"]["x_time"] == pytest.approx(
        b["train"]["duration_s"] / a["train"]["duration_s"])
    assert b["total"]["x_cost"] == pytest.approx(b["total"]["cost_usd"] / a["total"]["cost_usd"])
    assert b["train"]["fidelity vs base"] == pytest.approx((0.985 - 0.989) / 0.989)
    assert b["reverse"]["x_time"] is None  # RUNNING: nothing to divide
    one_line_error(run("report", "--baseline", "nope"), "'nope'", "run-001")


def test_campaign_selection_by_label_run_id_and_uid(two_campaigns):
    run_id = two_campaigns["run-002"][0]
    uid = load(two_campaigns["uri"], campaigns=[run_id])[0].uid
    for sel in ("run-002", run_id, uid):
        doc = report_json("--campaign", sel)
        assert {r["campaign"] for r in doc["rows"]} == {"run-002"}
    one_line_error(run("report", "--campaign", "run-999"), "'run-999'", "run-001")


def test_group_by_takes_medians(store):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    for i, speed in enumerate((1.0, 2.0, 9.0)):
        sy.make_campaign(client, "e", sy.CampaignSpec(f"g-{i}", sy.reference_phases(speed)))
    sy.make_campaign(client, "e", sy.CampaignSpec("h-0", sy.reference_phases(4.0),
                                                  gpu_key="h100-sxm", usd_per_hour=2.99))
    doc = report_json("--group-by", "gpu.key")
    groups = {r["gpu.key"]: r for r in doc["rows"]}
    assert groups["rtx-5090"]["n"] == 3
    assert groups["rtx-5090"]["duration_s"] == pytest.approx(7410 / 2.0)  # the middle one
    assert groups["h100-sxm"]["n"] == 1
    by_phase = report_json("--group-by", "gpu.key,phase", "--baseline", "rtx-5090")
    train = {r["gpu.key"]: r for r in by_phase["rows"] if r["phase"] == "train"}
    assert train["rtx-5090"]["duration_s"] == pytest.approx(1500 / 2.0)
    assert train["h100-sxm"]["x_time"] == pytest.approx((1500 / 4.0) / (1500 / 2.0))
    one_line_error(run("report", "--group-by", "gpu.key,colour"), "'colour'", "precision")


def test_deleted_runs_are_left_out(two_campaigns):
    client = two_campaigns["client"]
    camp_b, phases_b = two_campaigns["run-002"]
    _, phases_a = two_campaigns["run-001"]
    client.delete_run(camp_b)
    client.delete_run(phases_a[0])  # encode of run-001
    doc = report_json()
    assert {r["campaign"] for r in doc["rows"]} == {"run-001"}
    a = rows_by(doc, "run-001")
    assert "encode" not in a
    assert a["total"]["duration_s"] == pytest.approx(1500 + 5400 + 90)


def test_empty_or_missing_store_is_one_line(store, tmp_path):
    one_line_error(run("report"), "no cogit campaigns")
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    one_line_error(run("report", "--tracking-uri", missing), "none.db")
    assert not (tmp_path / "none.db").exists()


def test_experiment_filter(two_campaigns):
    sy.make_campaign(two_campaigns["client"], "other",
                     sy.CampaignSpec("run-x", sy.reference_phases()))
    assert {r["campaign"] for r in report_json()["rows"]} == {"run-001", "run-002", "run-x"}
    assert {r["campaign"] for r in report_json("--experiment", "other")["rows"]} == {"run-x"}
    one_line_error(run("report", "--experiment", "nope"), "nope")


def test_unwritable_output_fails_before_writing(two_campaigns, tmp_path):
    one_line_error(run("report", "--output", str(tmp_path / "no" / "r.md")), "r.md")
    one_line_error(run("report", "--output", str(tmp_path)), "folder")
    assert not (tmp_path / "no").exists()


def test_markdown_and_csv(two_campaigns, tmp_path):
    out = tmp_path / "r.csv"
    assert run("report", "--format", "csv", "--output", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 10 and rows[4]["phase"] == "total"
    assert float(rows[4]["duration_s"]) == pytest.approx(7410)
    md = run("report", "--format", "md").output
    assert md.count("\n| run-00") == 10 and "| 2h 03m |" in md


def test_html_is_self_contained_with_three_charts(two_campaigns, tmp_path):
    out = tmp_path / "r.html"
    res = run("report", "--format", "html", "--output", str(out))
    assert res.exit_code == 0, res.output
    page = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3  # time per phase, cost per campaign, fidelity per step
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert not re.search(r'(src|href)="(https?:|//)', page) and "<script" not in page
    assert "FAILED (cuda_oom)" in page


def test_log_puts_charts_on_campaign_runs(two_campaigns):
    res = run("report", "--campaign", "run-001", "--log")
    assert res.exit_code == 0, res.output
    run_id = two_campaigns["run-001"][0]
    listed = two_campaigns["client"].list_artifacts(run_id, "cogit-report")
    names = {Path(f.path).name for f in listed}
    assert names == {"time_per_phase.png", "cost_per_campaign.png", "fidelity_per_step.png"}
    other = two_campaigns["run-002"][0]
    assert two_campaigns["client"].list_artifacts(other, "cogit-report") == []


# ---------------------------------------------------------------- compare

def test_compare_two_campaigns_verdict(two_campaigns):
    res = run("compare", "run-001", "run-002", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = {r["phase"]: r for r in doc["rows"]}
    assert rows["train"]["x_time"] == pytest.approx(1 / 11.8)
    a_t, b_t = rows["total"]["a_time"], rows["total"]["b_time"]
    a_c, b_c = rows["total"]["a_cost"], rows["total"]["b_cost"]
    expected = (f"B: {a_t / b_t:.1f}x faster, {b_c / a_c:.2f}x the cost, fidelity -0.4% "
                f"(worse), sentiment_shift 0.0% (same), tokens_per_s +1080.0% (better)")
    assert expected in doc["verdict"]
    assert rows["train"]["p_fidelity"] == pytest.approx((0.985 - 0.989) / 0.989)
    assert "not finished: run-002" in doc["verdict"]
    assert rows["reverse"]["b_status"] == "RUNNING"
    table = run("compare", "run-002", "run-001").output
    assert "B: 11.9x slower" in table or "B: 11.8x slower" in table


def test_compare_tag_filters_use_medians(store):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    for i, speed in enumerate((1.0, 1.5, 3.0)):
        sy.make_campaign(client, "e", sy.CampaignSpec(f"a-{i}", sy.reference_phases(speed),
                                                      start_ms=1_763_000_000_000 + i))
    for i, speed in enumerate((10.0, 12.0)):
        sy.make_campaign(client, "e", sy.CampaignSpec(f"b-{i}", sy.reference_phases(speed),
                                                      gpu_key="h100-sxm", precision="int8"))
    res = run("compare", "--a", "gpu.key=rtx-5090,precision=fp16", "--b", "gpu.key=h100-sxm",
              "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["a"]["campaigns"] == ["a-0", "a-1", "a-2"]
    total = doc["rows"][-1]
    assert total["a_time"] == pytest.approx(7410 / 1.5)
    assert total["b_time"] == pytest.approx((7410 / 10 + 7410 / 12) / 2)
    assert total["a_status"] == "3 FINISHED"


@pytest.mark.parametrize("args, words", [
    (["--a", "gpu.key", "--b", "gpu.key=h100-sxm"], ["'gpu.key'", "key=value"]),
    (["--a", "colour=red", "--b", "gpu.key=h100-sxm"], ["'colour'", "precision"]),
    (["--a", "gpu.key=tpu", "--b", "gpu.key=h100-sxm"], ["gpu.key=tpu"]),
    (["run-001"], ["two sides"]),
    (["run-001", "run-404"], ["'run-404'"]),
])
def test_compare_bad_sides(two_campaigns, args, words):
    one_line_error(run("compare", *args), *words)


@pytest.mark.slow
def test_report_command_in_a_subprocess(two_campaigns):
    """The real entry point, as a user runs it, with the store from the environment."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "report", "--format", "md"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "| run-002 | h100-sxm | int8 | intervene | FAILED (cuda_oom) |" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "report", "--group-by", "x"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0


def test_json_output_is_strict_and_a_null_says_why(two_campaigns):
    """A NaN figure (a diverged run's, as the store keeps it) is null in `--json`, with
    `<key>_reason` beside it: strict RFC 8259, which `json.loads` without NaN accepts."""
    from mlflow.entities import Metric

    client, phase = two_campaigns["client"], two_campaigns["run-001"][1][0]
    client.log_batch(phase, metrics=[Metric("duration_s", float("nan"), 1, 99)])
    res = CliRunner().invoke(cli, ["runs", "list", "--json", "--limit", "100"])
    assert res.exit_code == 0, res.output

    def refuse(token):
        raise AssertionError(f"{token} in --json output")

    rows = {r["run_id"]: r for r in json.loads(res.stdout, parse_constant=refuse)}
    assert rows[phase]["duration_s"] is None
    assert rows[phase]["duration_s_reason"] == "not a finite number (nan)"
    assert "cost_usd_reason" not in rows[phase]
