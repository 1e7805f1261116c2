"""A job of 2 nodes x 2 ranks (issue 16, item 7): `report`, `compare`, `runs watch` and the
`/cogit/` campaign page show one line per node under each phase (host, GPUs, ranks, the peaks
of its ranks, for watch their freshest heartbeat), the failing node marked; a single-process
phase shows none. The runs are written into a real sqlite store through MlflowClient with the
tags and metrics the runtime writes (`runtime/ranks.py`, `schema.py`); the CLI runs in-process
(click's runner), the web app is the real `cogit` blueprint on a Flask test client."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from click.testing import CliRunner
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from cogit_tracker import schema as s
from cogit_tracker.cli import cli
from cogit_tracker.cli.render import render
from cogit_tracker.reports.nodes import NodeLine, node_lines, ranks_text
from cogit_tracker.runtime import watch
from cogit_tracker.store.ops import ensure_experiment
from conftest import pages_on
from support import synthetic as sy

EXPERIMENT = "ddp"
H100 = "2 x NVIDIA H100 80GB HBM3"
HOSTS = {"node0": "gpu-a", "node1": "gpu-b"}
NODE_OF = {0: "node0", 1: "node0", 2: "node1", 3: "node1"}
# per rank: VRAM peak, RAM peak, time; node0's maxima are rank 1's VRAM and rank 0's RAM
PEAKS = {0: (30.0, 12.0, 100.0), 1: (31.5, 11.0, 99.0), 2: (29.0, 10.5, 98.0),
         3: (33.2, 13.4, 97.0)}


def job_tags(label: str) -> dict[str, str]:
    """What every run of the job carries: its size and each rank's node."""
    return {s.CAMPAIGN: label, s.JOB: "torchrun-" + label, s.RANKS: "4", s.NODES_COUNT: "2",
            s.GPU_KEY: "h100-sxm", s.GPU_COUNT: "4", s.PRECISION: "bf16", s.MODEL: "m",
            **{s.RANK_NODE_PREFIX + str(r): n for r, n in NODE_OF.items()}}


def write_job(client: MlflowClient, label: str, phases: list[tuple[str, str, dict]],
              campaign_status: str = "FINISHED", campaign_extra: dict | None = None,
              start_ms: int = 1_763_000_000_000) -> dict[str, str]:
    """A campaign run (each node's GPUs and host said on it alone, as the runtime does) and
    its phases as (name, status, extra tags); returns phase name -> run id."""
    exp = ensure_experiment(client, EXPERIMENT)
    tags = {**job_tags(label), s.KIND: "campaign", s.UID: str(uuid.uuid4()),
            s.USD_PER_HOUR: "2.5", **(campaign_extra or {})}
    tags.update({s.NODE_PREFIX + n: H100 for n in HOSTS})
    tags.update({s.HOST_PREFIX + n: h for n, h in HOSTS.items()})
    parent = client.create_run(exp, start_time=start_ms, tags=tags, run_name=label).info.run_id
    ids = {}
    for index, (name, status, extra) in enumerate(phases, start=1):
        run = client.create_run(exp, start_time=start_ms, run_name=f"{name} · {label}", tags={
            **job_tags(label), s.KIND: "phase", s.UID: str(uuid.uuid4()), s.PHASE: name,
            s.PHASE_INDEX: str(index), s.PARENT_RUN: parent, **extra})
        rid = run.info.run_id
        metrics = {s.DURATION_S: 100.0, s.COST_USD: 0.28, s.VRAM_PEAK_GB: 30.0,
                   s.RAM_PEAK_GB: 12.0}
        for r, (vram, ram, took) in PEAKS.items():
            metrics.update({f"rank{r}/{s.VRAM_PEAK_GB}": vram, f"rank{r}/{s.RAM_PEAK_GB}": ram,
                            f"rank{r}/{s.DURATION_S}": took})
        client.log_batch(rid, metrics=[Metric(k, v, start_ms, 0) for k, v in metrics.items()])
        if status != "RUNNING":
            client.set_terminated(rid, status, end_time=start_ms + 100_000)
        ids[name] = rid
    if campaign_status != "RUNNING":
        client.set_terminated(parent, campaign_status, end_time=start_ms + 200_000)
    return ids


FAILED_ON_NODE1 = {s.FAILURE: "cuda_oom", s.FAILURE_RANK: "3", s.FAILURE_NODE: "node1",
                   s.FAILURE_MESSAGE: "CUDA out of memory"}


@pytest.fixture
def job(store):
    """`ddp-job` (encode FINISHED, train FAILED on rank 3 of node1) and `solo`, one process,
    with the same phases, for compare."""
    client = MlflowClient(store)
    write_job(client, "ddp-job", [("encode", "FINISHED", {}),
                                  ("train", "FAILED", FAILED_ON_NODE1)], "FAILED")
    sy.make_campaign(client, EXPERIMENT, sy.CampaignSpec(
        "solo", [sy.PhaseSpec("encode", 200, 20.0), sy.PhaseSpec("train", 400, 25.0)],
        start_ms=1_763_100_000_000))
    return store


def invoke(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def node_part(line: str) -> str:
    return line[line.index("└"):]


# ---------------------------------------------------------------- the grouping

def test_lines_group_ranks_by_node_with_their_maxima_and_the_failing_node():
    tags = {**job_tags("x"), **FAILED_ON_NODE1}
    campaign = {s.NODE_PREFIX + "node0": H100, s.NODE_PREFIX + "node1": "no GPU",
                s.HOST_PREFIX + "node0": "gpu-a", s.HOST_PREFIX + "node1": "gpu-b",
                s.NODE_PREFIX + "old-host-name": "ignored"}
    metrics = {f"rank{r}/{k}": v for r, figs in PEAKS.items()
               for k, v in zip((s.VRAM_PEAK_GB, s.RAM_PEAK_GB, s.DURATION_S), figs)}
    lines = node_lines(tags, metrics, campaign)
    assert lines == [
        NodeLine("node0", "gpu-a", H100, [0, 1], 31.5, 12.0, 100.0, None, False, None),
        NodeLine("node1", "gpu-b", "no GPU", [2, 3], 33.2, 13.4, 98.0, None, True, 3)]
    assert lines[1].describe() == ("ranks 2-3 · no GPU · VRAM peak 33.2 GB · RAM peak 13.4 GB"
                                   " · time 1m 38s · FAILED here (rank 3)")
    assert [ranks_text(r) for r in ([0, 1, 2, 3], [2], [0, 1, 3], [])] == \
        ["ranks 0-3", "rank 2", "ranks 0-1, 3", "no ranks yet"]


def test_a_rank_not_yet_placed_is_listed_and_heartbeats_are_the_freshest():
    tags = {s.RANKS: "3", s.RANK_NODE_PREFIX + "0": "node0", s.RANK_NODE_PREFIX + "1": "node0",
            s.HEARTBEAT: "1000", s.HEARTBEAT + ".rank1": "5000", s.HEARTBEAT + ".rank2": "7"}
    lines = node_lines(tags, {})
    assert [(ln.node, ln.ranks, ln.heartbeat_ms) for ln in lines] == \
        [("node0", [0, 1], 5000), ("?", [2], 7)]
    assert lines[1].label == "ranks not yet on a node"


@pytest.mark.parametrize("tags", [{}, {s.RANKS: "1"}, {s.RANKS: "x"}])
def test_one_process_has_no_node_lines(tags):
    assert node_lines({**tags, s.RANK_NODE_PREFIX + "0": "node0"}, {}) == []


# ---------------------------------------------------------------- report

def test_report_shows_one_line_per_node_under_each_phase(job):
    text = invoke("report", "--campaign", "ddp-job")
    lines = [ln for ln in text.splitlines() if "└ node" in ln]
    assert len(lines) == 4, text  # 2 phases x 2 nodes
    encode0, encode1, train0, train1 = lines
    assert "node0 (gpu-a)" in encode0 and "ranks 0-1" in encode0 and H100 in encode0
    assert "31.5" in encode0 and "1m 40s" in encode0  # node0's VRAM and time maxima
    assert "node1 (gpu-b)" in encode1 and "ranks 2-3" in encode1 and "33.2" in encode1
    assert "FAILED" not in encode1 and "FAILED" not in train0
    assert "FAILED here (rank" in train1  # a narrow terminal folds the rest
    assert "RAM peak 12.0 GB" in encode0 and "RAM peak 13.4 GB" in encode1
    order = [ln.split("│")[4].strip() for ln in text.splitlines() if ln.startswith("│")]
    assert [o for o in order if o][:6] == ["encode", "└ node0 (gpu-a)", "└ node1 (gpu-b)",
                                           "train", "└ node0 (gpu-a)", "└ node1 (gpu-b)"]


def test_report_markdown_html_json_and_csv(job):
    md = invoke("report", "--campaign", "ddp-job", "--format", "md")
    assert md.count("| └ node") == 4 and "| ranks 2-3 · " in md
    html = invoke("report", "--campaign", "ddp-job", "--format", "html")
    assert html.count('<tr class="sub">') == 3 and html.count('<tr class="sub alert">') == 1
    doc = json.loads(invoke("report", "--campaign", "ddp-job", "--json"))
    assert [r["phase"] for r in doc["rows"]] == ["encode", "train", "total"]
    train = doc["rows"][1]["nodes"]
    assert [(n["node"], n["host"], n["ranks"], n["vram_peak_gb"], n["ram_peak_gb"],
             n["failed"], n["failed_rank"]) for n in train] == \
        [("node0", "gpu-a", [0, 1], 31.5, 12.0, False, None),
         ("node1", "gpu-b", [2, 3], 33.2, 13.4, True, 3)]
    assert train[0]["gpus"] == H100 and "nodes" not in doc["rows"][2]
    csv_text = invoke("report", "--campaign", "ddp-job", "--format", "csv")
    assert len(csv_text.splitlines()) == 4 and "node" not in csv_text  # one row a phase


def test_a_single_process_phase_shows_no_node_lines(job):
    text = invoke("report", "--campaign", "solo")
    assert "└ " not in text and "rank" not in text
    doc = json.loads(invoke("report", "--campaign", "solo", "--json"))
    assert all(set(r) == set(doc["columns"]) for r in doc["rows"])
    html = invoke("report", "--campaign", "solo", "--format", "html")
    assert "sub" not in html.split("<tbody>")[1]
    both = json.loads(invoke("report", "--json"))
    assert all("nodes" not in r for r in both["rows"] if r["campaign"] == "solo")
    assert "└ " not in invoke("compare", "solo", "solo")


def test_a_baseline_leaves_node_lines_alone(job):
    text = invoke("report", "--baseline", "ddp-job", "--format", "md")
    node_rows = [ln for ln in text.splitlines() if "└ node" in ln]
    assert len(node_rows) == 4 and all("x |" not in r for r in node_rows)


# ---------------------------------------------------------------- compare

def test_compare_puts_each_sides_nodes_under_the_phase(job):
    text = invoke("compare", "ddp-job", "solo", "--format", "md")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")][1:]
    phases = [r.split("|")[1].strip() for r in rows]
    assert phases == ["encode", "└ node0", "└ node1", "train", "└ node0", "└ node1", "total"]
    train1 = rows[5]
    assert "gpu-b · ranks 2-3 · " in train1 and "FAILED here (rank 3)" in train1
    assert "VRAM peak 33.2 GB" in train1 and "1m 38s" in train1  # node1's time, A's column
    doc = json.loads(invoke("compare", "ddp-job", "solo", "--json"))
    assert [r["phase"] for r in doc["rows"]] == ["encode", "train", "total"]
    assert [n["ranks"] for n in doc["rows"][1]["a_nodes"]] == [[0, 1], [2, 3]]
    assert "b_nodes" not in doc["rows"][1]


# ---------------------------------------------------------------- runs watch

def running_job(store, ago_s: float = 0) -> dict[str, str]:
    """A job whose train phase is RUNNING, its ranks' last heartbeats `ago_s` + 100..300 s
    old: node0's freshest is rank 1's (ago_s + 100 s), node1's rank 2's (ago_s + 150 s)."""
    now = int(time.time() * 1000) - int(ago_s * 1000)
    beats = {s.HEARTBEAT: str(now - 200_000), s.HEARTBEAT + ".rank1": str(now - 100_000),
             s.HEARTBEAT + ".rank2": str(now - 150_000), s.HEARTBEAT + ".rank3": str(now - 300_000)}
    return write_job(MlflowClient(store), "live-job", [("train", "RUNNING", beats)], "RUNNING",
                     {s.HEARTBEAT: str(now - 200_000)}, start_ms=now - 600_000)


def test_watch_prints_a_line_per_node_under_the_phase(store):
    running_job(store, ago_s=100)  # every rank gone for minutes: shown once, not waited for
    out = invoke("runs", "watch", "--interval", "0.1", "--stale-after", "120")
    lines = out.splitlines()
    assert "live-job" in lines[0] and "RUNNING (stale)" in lines[0], out
    assert node_part(lines[1]).startswith("└ node0 (gpu-a)  ranks 0-1 · " + H100)
    assert "VRAM peak 31.5 GB · RAM peak 12.0 GB" in lines[1]
    assert lines[1].endswith("heartbeat 3m 20s") and lines[2].endswith("heartbeat 4m 10s")
    assert node_part(lines[2]).startswith("└ node1 (gpu-b)  ranks 2-3")
    assert lines[3] == "All watched phases have ended." and len(lines) == 4


def test_watch_table_shows_nodes_and_marks_the_failing_one(store):
    ids = running_job(store)  # alive: the freshest beat is 100 s old, stale after 600 s
    client = MlflowClient(store)
    seen: dict = {}
    first = watch.snapshot(client, "live-job", seen, stale_after_s=600)
    assert first[0].waiting
    table = render(watch.as_table(first), "table", width=240)
    assert "└ node0 (gpu-a)" in table and "└ node1 (gpu-b)" in table
    assert "1m 40s" in table and "2m 30s" in table  # each node's freshest heartbeat
    for key, value in FAILED_ON_NODE1.items():
        client.set_tag(ids["train"], key, value)
    client.set_terminated(ids["train"], "FAILED")
    ended = watch.as_table(watch.snapshot(client, "live-job", seen, stale_after_s=600))
    marks = [r["status"] for r in ended.rows if r.get("_sub")]
    assert [m.endswith("FAILED here (rank 3)") for m in marks] == [False, True]
    assert all(r.get("heartbeat_age_s") is None for r in ended.rows)  # ended: no ages
    assert ended.rows[0]["status"] == "FAILED"


# ---------------------------------------------------------------- the web app

@pytest.fixture
def pages(job, monkeypatch):
    return pages_on(job, monkeypatch)


def test_campaign_page_and_its_json_show_the_nodes(pages):
    body = pages.get("/cogit/campaign?campaign=ddp-job").get_data(as_text=True)
    phases = body.split("<h2>Phases</h2>")[1].split("<h2>")[0]
    assert phases.count('<tr class="sub">') == 3 and phases.count('<tr class="sub alert">') == 1
    assert "└ node1 (gpu-b)" in phases and "ranks 2-3 · 2 x NVIDIA H100" in phases
    assert "FAILED here (rank 3)" in phases and "4 ranks on 2 node(s)" in body
    api = pages.get("/cogit/api/campaign?campaign=ddp-job").get_json()
    rows = api["phases"]["rows"]
    assert [r["phase"] for r in rows] == ["encode", "train", "total"]
    assert [(n["node"], n["vram_peak_gb"], n["failed"]) for n in rows[1]["nodes"]] == \
        [("node0", 31.5, False), ("node1", 33.2, True)]
    solo = pages.get("/cogit/campaign?campaign=solo").get_data(as_text=True)
    assert "└" not in solo and " sub" not in solo and "ranks on" not in solo


def test_api_json_is_the_clis(pages):
    assert pages.get("/cogit/api/campaigns").get_json() == json.loads(invoke("report", "--json"))
    assert pages.get("/cogit/api/compare?a=ddp-job&b=solo").get_json() == \
        json.loads(invoke("compare", "ddp-job", "solo", "--json"))
    overview = pages.get("/cogit/").get_data(as_text=True)
    assert overview.count("└ node") == 4


def test_the_rest_path_reads_the_same_node_lines(job):
    """Through MlflowClient (how http stores are read) as through SQL (sqlite, PostgreSQL)."""
    from cogit_tracker.reports.model import load

    by_sql = load(job, campaigns=["ddp-job"])[0]
    by_rest = load(job, campaigns=["ddp-job"], client=MlflowClient(job))[0]
    assert [p.nodes for p in by_rest.phases] == [p.nodes for p in by_sql.phases]
    assert [len(p.nodes) for p in by_sql.phases] == [2, 2]
