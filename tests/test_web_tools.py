"""The planning pages (issue 18, item 3): `/cogit/plan`, `/cogit/advise`, `/cogit/accuracy`
and their JSON, on the blueprint over a real sqlite store (Flask's test client), and the
permission filter on a real server with logins."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cogit_tracker.cli import cli

from conftest import pages_on


def test_the_plan_form_shows_the_logs_rtx_5090_case_as_not_fitting(store, monkeypatch):
    pages = pages_on(store, monkeypatch)
    empty = pages.get("/cogit/plan")
    assert empty.status_code == 200 and b"RTX 5090" in empty.data   # the example link
    case = "model=Qwen/Qwen2.5-7B-Instruct&precision=fp32&quantum_dim=9333&gpu=rtx-5090"
    page = pages.get(f"/cogit/plan?{case}")
    assert page.status_code == 200, page.data[:2000]
    html = page.data.decode()
    assert "Fits?" in html and "NO" in html, html[:3000]
    data = pages.get(f"/cogit/api/plan?{case}").get_json()
    fit = {g["key"]: g["fits"] for g in data["gpus"]}
    assert fit == {"rtx-5090": False}, data["gpus"]
    both = pages.get("/cogit/api/plan?model=Qwen/Qwen2.5-7B-Instruct&precision=fp16").get_json()
    assert len(both["gpus"]) > 3 and any(g["fits"] for g in both["gpus"])  # every GPU


def test_the_plan_form_refuses_bad_values_naming_them(store, monkeypatch):
    pages = pages_on(store, monkeypatch)
    for query, word in (("params=-7B", "-7B"), ("params=seven", "seven"),
                        ("params=7B&gpus=0", "0"), ("params=7B&precision=fp9", "fp9"),
                        ("params=7B&gpu=tpu-9", "tpu-9"), ("params=7B&colour=red", "colour"),
                        ("params=7B&training=maybe", "maybe")):
        res = pages.get(f"/cogit/api/plan?{query}")
        assert res.status_code == 400, (query, res.data)
        assert word in res.get_json()["error"], (query, res.get_json())
        assert pages.get(f"/cogit/plan?{query}").status_code == 400


def test_the_advise_page_is_the_commands_table(two_campaigns, monkeypatch):
    pages = pages_on(two_campaigns["uri"], monkeypatch)
    page = pages.get("/cogit/advise?campaign=run-002&gpu=h100-sxm")
    assert page.status_code == 200, page.data[:2000]
    assert b"--from-advice" in page.data
    api = pages.get("/cogit/api/advise?campaign=run-002&gpu=h100-sxm").get_json()
    cli_json = json.loads(CliRunner().invoke(cli, [
        "advise", "run-002", "--gpu", "h100-sxm", "--json",
        "--tracking-uri", two_campaigns["uri"]]).output)
    assert api["rows"] and api["rows"] == cli_json["rows"]
    assert pages.get("/cogit/advise?campaign=run-404").status_code == 404
    bad = pages.get("/cogit/api/advise?campaign=run-002&setup_min=soon")
    assert bad.status_code == 400 and "soon" in bad.get_json()["error"]


def test_advice_with_nothing_to_base_an_eta_on_is_a_400_naming_the_campaign(store, monkeypatch):
    from mlflow.tracking import MlflowClient

    from support import synthetic as sy

    sy.make_campaign(MlflowClient(store), "cogit-qmech", sy.CampaignSpec(
        "just-started", [sy.PhaseSpec("encode", None, status="RUNNING")], status="RUNNING"))
    pages = pages_on(store, monkeypatch)
    for path in ("/cogit/advise?campaign=just-started", "/cogit/api/advise?campaign=just-started"):
        res = pages.get(path)
        assert res.status_code == 400 and b"just-started" in res.data, res.data[:500]
        assert b"nothing to base an ETA on" in res.data


def test_the_track_record_page_holds_a_logged_plan(two_campaigns, monkeypatch):
    logged = CliRunner().invoke(cli, ["plan", "--model", "smollm2-135m", "--gpu", "h100-sxm",
                                      "--log", "--tracking-uri", two_campaigns["uri"]])
    assert logged.exit_code == 0, logged.output
    pages = pages_on(two_campaigns["uri"], monkeypatch)
    page = pages.get("/cogit/accuracy")
    assert page.status_code == 200 and b"not matched yet" in page.data, page.data[:3000]
    api = pages.get("/cogit/api/accuracy").get_json()
    assert api["title"].startswith("Track record"), api
    assert pages.get("/cogit/accuracy?since=yesterday").status_code == 400


def test_a_reader_gets_no_advice_on_a_campaign_they_may_not_read(web_lab_auth):
    path = "/cogit/api/advise?campaign=secret-sweep"
    assert web_lab_auth.get(path)[0] == 200                      # the admin sees it
    status, _, body = web_lab_auth.get(path, user=web_lab_auth.reader)
    assert status == 404 and "secret-sweep" in body, body        # as if it did not exist
    status, _, body = web_lab_auth.get("/cogit/api/accuracy", user=web_lab_auth.reader)
    assert status == 200 and "secret-sweep" not in body, body
    status, _, page = web_lab_auth.get("/cogit/advise?campaign=run-002",
                                       user=web_lab_auth.reader)
    assert status == 200 and "Draft the decision" not in page     # READ on the log only
    assert "Draft the decision" in web_lab_auth.get("/cogit/advise?campaign=run-002")[2]


HOSTILE = '<img src=x onerror="window.__pwned=1">'


def test_report_html_escapes_a_hostile_label_with_the_pages_templates(store, tmp_path):
    from mlflow.tracking import MlflowClient

    from support import synthetic as sy

    sy.make_campaign(MlflowClient(store), "cogit-qmech",
                     sy.CampaignSpec(HOSTILE, sy.reference_phases()))
    out = tmp_path / "r.html"
    res = CliRunner().invoke(cli, ["report", "--format", "html", "--output", str(out),
                                   "--tracking-uri", store])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=" in page                 # shown, as text
    assert "<script" not in page


def test_the_campaigns_page_pages_newest_first_and_keeps_its_filters(two_campaigns,
                                                                    monkeypatch):
    from cogit_tracker.reports import overview

    monkeypatch.setattr(overview, "PER_PAGE", 1)   # two campaigns: two pages
    pages = pages_on(two_campaigns["uri"], monkeypatch)
    first = pages.get("/cogit/?experiment=cogit-qmech").data.decode()
    assert "run-002" in first and "run-001" not in first      # the newest first
    assert "page 1 of 2" in first
    assert 'href="/cogit/?experiment=cogit-qmech&amp;page=2"' in first, first[:3000]
    second = pages.get("/cogit/?experiment=cogit-qmech&page=2").data.decode()
    assert "run-001" in second and "run-002" not in second
    for bad in ("3", "0", "two"):
        res = pages.get(f"/cogit/?page={bad}")
        assert res.status_code == 400 and bad.encode() in res.data, (bad, res.data[:500])
    whole = pages.get("/cogit/api/campaigns").get_json()      # the API: every campaign
    assert {r["campaign"] for r in whole["rows"]} >= {"run-001", "run-002"}


def test_draft_the_decision_from_the_advise_page(two_campaigns, monkeypatch):
    pages = pages_on(two_campaigns["uri"], monkeypatch)
    page = pages.get("/cogit/advise?campaign=run-002&gpu=h100-sxm").data.decode()
    assert 'action="/cogit/draft"' in page and "Draft the decision" in page
    form = {"campaign": "run-002", "choose": "h100-sxm", "setup_min": "10"}
    foreign = pages.post("/cogit/draft", data=form,
                         headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert pages.post("/cogit/draft", data=form).status_code == 403   # no Origin at all
    here = {"Origin": "http://localhost"}
    made = pages.post("/cogit/draft", data=form, headers=here)
    assert made.status_code == 303 and made.headers["Location"].endswith("number=1"), made.data
    shown = pages.get(made.headers["Location"]).data.decode()
    assert "run-002" in shown and "Decision #001" in shown
    bad = pages.post("/cogit/api/draft", data={**form, "choose": "tpu-9"}, headers=here)
    assert bad.status_code == 400 and "tpu-9" in bad.get_json()["error"]
    odd = pages.post("/cogit/api/draft", data={**form, "colour": "red"}, headers=here)
    assert odd.status_code == 400 and "colour" in odd.get_json()["error"]
    listed = pages.get("/cogit/api/decisions").get_json()
    assert [d["number"] for d in listed] == [1]                       # nothing else written
