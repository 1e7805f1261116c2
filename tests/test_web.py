"""The `cogit` web app over HTTP (issue 12), served by real `mlflow server` processes on
loopback over PostgreSQL: its pages, its JSON against the CLI's `--json` on the same store,
bad input as one line with a 400 or a 404, and what a user without permission sees.
(The same pages in a real browser: tests/test_web_browser.py.)"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import quote

import pytest
from support.web_lab import ODD_LABEL, PRIVATE, QMECH

from cogit_tracker.schema import UI_TRAINING_VIEW

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def cli_json(lab, *args) -> object:
    """What `cogit-log ARGS --json` prints about the lab's server."""
    out = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args, "--json",
                          "--tracking-uri", lab.url], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def test_campaigns_page_shows_the_report_with_charts_and_links(web_lab):
    status, kind, body = web_lab.get("/cogit/")
    assert (status, kind) == (200, "text/html")
    for label in ("run-001", "run-002", "secret-sweep"):
        assert f'href="/cogit/campaign?campaign={label}"' in body
    assert body.count('src="data:image/png;base64,') == 3  # time, cost, fidelity
    assert "FAILED (cuda_oom)" in body
    _, _, only = web_lab.get(f"/cogit/?experiment={QMECH}&gpu=h100-sxm")
    assert "run-002" in only and "run-001" not in only and "secret-sweep" not in only


def test_campaign_page_has_timeline_generations_decisions_and_mlflow_links(web_lab):
    status, _, body = web_lab.get("/cogit/campaign?campaign=run-002")
    assert status == 200
    assert 'alt="Timeline"' in body
    for run in [web_lab.runs["run-002"], *web_lab.phases["run-002"]]:  # training view
        assert re.search(f'href="/#/experiments/[0-9]+/runs/{run}\\?{UI_TRAINING_VIEW}"', body)
    assert 'href="/cogit/decision?number=2"' in body  # the decision that links to it
    assert "Generations: 12 of 12" in body and " awful and rude" in body
    assert "FAILED (cuda_oom)" in body


def test_a_label_with_quotes_and_a_slash_has_its_page(web_lab):
    status, _, body = web_lab.get("/cogit/campaign?campaign=" + quote(ODD_LABEL, safe=""))
    assert status == 200
    assert "it&#39;s &#34;odd&#34;/label" in body  # escaped, never markup


def test_decision_page_has_criteria_links_both_ways_and_the_supersede_chain(web_lab):
    status, _, body = web_lab.get("/cogit/decision?number=2")
    assert status == 200
    assert "Migrate to H100" in body and "Option C: Migrate to H100" in body
    assert "phase[intervene].duration_s &lt; 900 where gpu.key = h100-sxm" in body
    assert re.search(r'class="[^"]*pass[^"]*">pass<', body)  # 7m 38s < 15 min, checked now
    assert re.search(r'class="linked" href="/cogit/campaign\?campaign=[^"]+">run-002<', body)
    assert 'class="linked" href="/cogit/decision?number=1">Decision #001' in body
    assert body.count('href="/cogit/decision?number=1"') == 2  # linked, and the chain
    _, _, first = web_lab.get("/cogit/decision?number=1")
    assert "superseded" in first and 'href="/cogit/decision?number=2"' in first


def test_api_carries_what_the_cli_prints_with_json(web_lab):
    assert web_lab.json(f"/cogit/api/campaigns?experiment={QMECH}") == \
        cli_json(web_lab, "report", "--experiment", QMECH)
    assert web_lab.json("/cogit/api/campaigns?gpu=h100-sxm") == \
        cli_json(web_lab, "report", "--gpu", "h100-sxm")
    assert web_lab.json("/cogit/api/compare?a=run-001&b=run-002") == \
        cli_json(web_lab, "compare", "run-001", "run-002")
    assert web_lab.json("/cogit/api/decisions") == cli_json(web_lab, "decision", "list")
    api, cli = web_lab.json("/cogit/api/decision?number=2"), cli_json(web_lab, "decision",
                                                                       "show", "2")
    assert {k: api[k] for k in cli} == cli
    assert [e["number"] for e in api["supersede_chain"]] == [1, 2]
    assert [c["state"] for c in api["checks"]] == ["pass", "manual"]
    one = web_lab.json("/cogit/api/campaign?campaign=run-002")
    assert one["phases"]["rows"][-1]["phase"] == "total"
    assert one["decisions"] == [{"number": 2, "role": "validation", "run": "run-002"}]


BAD = [  # (path, status, what the one line must name)
    ("/cogit/campaign?campaign=nope", 404, "'nope'"),
    ("/cogit/api/campaign?campaign=nope", 404, "'nope'"),
    ("/cogit/campaign", 400, "missing query parameter 'campaign'"),
    ("/cogit/campaign?campaign=run-001&campaign=run-002", 400, "'campaign' is given 2 times"),
    ("/cogit/?colour=red", 400, "unknown query parameter 'colour'"),
    ("/cogit/?experiment=nope", 400, "unknown experiment 'nope'"),
    ("/cogit/api/campaigns?gpu=tpu-v5", 400, "'tpu-v5'"),
    ("/cogit/compare?a=run-001", 400, "missing query parameter 'b'"),
    ("/cogit/compare?a=run-001&b=ghost", 404, "'ghost'"),
    ("/cogit/api/compare?a=run-001&b=gpu.colour=red", 400, "'gpu.colour'"),
    ("/cogit/decision?number=two", 400, "'two'"),
    ("/cogit/decision?number=99", 404, "#099"),
    ("/cogit/api/decision?number=99", 404, "#099"),
    ("/cogit/decisions?status=maybe", 400, "'maybe'"),
    ("/cogit/decisions?since=yesterday", 400, "'yesterday'"),
]


@pytest.mark.parametrize("path,code,named", BAD, ids=[p for p, _, _ in BAD])
def test_bad_input_is_a_400_or_404_naming_it(web_lab, path, code, named):
    status, kind, body = web_lab.get(path)
    assert status == code
    assert "Traceback" not in body and 'File "' not in body
    if "/api/" in path:
        assert kind == "application/json" and named in json.loads(body)["error"]
    else:
        assert kind == "text/html"
        line = re.search(r'<p class="error">(.*?)</p>', body).group(1)
        assert named in line.replace("&#39;", "'").replace("&lt;", "<")
        assert "postgresql" not in body  # the store's location is the server's business


def test_logins_and_what_a_reader_without_permission_sees(web_lab_auth):
    lab = web_lab_auth
    assert lab.get("/cogit/", user=("nobody", "x"))[0] == 401
    assert lab.get("/cogit/api/campaigns", user=("admin", "wrong-password"))[0] == 401
    admin = lab.get("/cogit/")[2]
    assert "secret-sweep" in admin and "run-002" in admin
    status, _, page = lab.get("/cogit/", user=lab.reader)
    assert status == 200 and "run-002" in page and "secret-sweep" not in page
    assert PRIVATE not in page  # not even as a filter choice
    rows = lab.json("/cogit/api/campaigns", user=lab.reader)["rows"]
    assert {r["campaign"] for r in rows} == {"run-001", "run-002", ODD_LABEL}
    assert lab.get("/cogit/campaign?campaign=secret-sweep", user=lab.reader)[0] == 404
    assert lab.get("/cogit/compare?a=run-001&b=secret-sweep", user=lab.reader)[0] == 404
    assert lab.get(f"/cogit/?experiment={PRIVATE}", user=lab.reader)[0] == 400
    linked = lab.json("/cogit/api/decision?number=3", user=lab.reader)["runs"]
    assert linked == []  # the decision is readable, the run it links to is not
    assert [r["campaign"] for r in lab.json("/cogit/api/decision?number=3")["runs"]] == \
        ["secret-sweep"]
