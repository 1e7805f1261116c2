"""The `cogit` pages in a real Chromium (issue 12), driven by Playwright's Python package and
pointed at Debian's `chromium` (Playwright's own browser download cannot work offline): click
from the campaigns to a campaign, to the decision that links to it, back to the campaign and
on to MLflow's own run page; log in through basic-auth; take a screenshot of each page.

Screenshots go to `$COGIT_SCREENSHOTS` when set (the README's come from there), else to the
test's temp folder. Without chromium the tests skip, except under CI (`CI` set), where
`.ci/run` installs it and its absence is a failure.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from support.web_lab import PRIVATE

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000  # MLflow's React bundle is large; this machine has two shared cores


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; under CI .ci/run must install it")
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("COGIT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser, **context):
    page = browser.new_context(viewport={"width": 1280, "height": 860}, **context).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _shot(page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_click_from_campaigns_to_a_decision_and_on_to_mlflow(web_lab, chromium, shots):
    page = _page(chromium)
    page.goto(web_lab.url + "/cogit/")
    assert page.locator("img.chart").count() == 3
    _shot(page, shots, "campaigns")
    page.locator("a", has_text="run-002").first.click()
    page.wait_for_selector("h1:has-text('Campaign run-002')")
    assert page.locator("text=Generations: 12 of 12").is_visible()
    _shot(page, shots, "campaign")
    page.click("a[href='/cogit/decision?number=2']")
    page.wait_for_selector("h1:has-text('Decision #002: Migrate to H100')")
    _shot(page, shots, "decision")
    page.locator("a.linked", has_text="run-002").click()
    page.wait_for_selector("h1:has-text('Campaign run-002')")
    page.click("a.mlflow-run")  # MLflow's own page of the campaign run
    page.wait_for_url(f"**/runs/{web_lab.runs['run-002']}?workflowType=machine_learning")
    page.get_by_text("run-002", exact=True).first.wait_for()
    assert page.get_by_text("Evaluation runs").count() == 0  # the training view, not GenAI's
    _shot(page, shots, "mlflow-run")


def test_compare_and_the_captains_log(web_lab, chromium, shots):
    page = _page(chromium)
    page.goto(web_lab.url + "/cogit/compare")
    page.fill("input[name=a]", "run-001")
    page.fill("input[name=b]", "run-002")
    page.click("button:has-text('Compare')")
    page.wait_for_selector("p.verdict")
    assert page.inner_text("p.verdict").startswith("B: 11.8x faster")
    _shot(page, shots, "compare")
    page.click("text=Captain's Log")
    page.wait_for_selector("h1:has-text(\"The Captain's Log\")")
    _shot(page, shots, "decisions")
    page.click("text=Run on the RTX 5090")
    page.wait_for_selector("h2:has-text('Supersede chain')")
    assert "superseded" in page.inner_text("h1")


def test_basic_auth_login_and_what_a_reader_sees(web_lab_auth, chromium, shots):
    """The server challenges (401, `WWW-Authenticate: Basic`); a browser with no login, or a
    wrong one, gets no page; with the reader's login it gets the reader's page."""
    from playwright.sync_api import Error

    user, password = web_lab_auth.reader
    with pytest.raises(Error, match="ERR_INVALID_AUTH_CREDENTIALS"):
        _page(chromium).goto(web_lab_auth.url + "/cogit/")
    wrong = _page(chromium, http_credentials={"username": user, "password": "wrong"})
    assert wrong.goto(web_lab_auth.url + "/cogit/").status == 401
    assert "You are not authenticated" in wrong.content()
    page = _page(chromium, http_credentials={"username": user, "password": password})
    assert page.goto(web_lab_auth.url + "/cogit/").status == 200
    table = page.inner_text("table")
    assert "run-002" in table and "secret-sweep" not in table
    assert PRIVATE not in page.inner_text("select[name=experiment]")
    _shot(page, shots, "campaigns-as-reader")


def test_the_live_page_updates_itself_and_runs_no_injected_script(web_lab, chromium, tmp_path):
    """A campaign runs in its own process (heartbeat 1 s) under a label that is markup; the
    open page shows its progress advancing without a reload, then the phase under "just
    ended", and the label never becomes an element or runs."""
    from mlflow.tracking import MlflowClient
    from support import live_lab

    worker = live_lab.start(web_lab.url, tmp_path, live_lab.HOSTILE, "--experiment",
                            "live-lab", "--points", "50", "--pause", "0.2")
    try:
        page = _page(chromium)
        assert page.goto(web_lab.url + "/cogit/live").status == 200
        row = page.locator("#running tr.phase", has_text="phase-0")
        cell = row.locator("td.progress")
        cell.locator(".pct").wait_for()
        first = cell.inner_text()
        page.wait_for_function("t => { const c = document.querySelector("
                               "'#running tr.phase td.progress'); return c && c.innerText != t }",
                               arg=first, timeout=30_000)
        assert page.locator("#running tr.campaign td.what").inner_text() == live_lab.HOSTILE
        assert page.locator("#running tr.campaign").get_attribute("data-campaign") == \
            live_lab.HOSTILE
        assert page.locator("#running tr.campaign button.stop").count() == 1  # no logins
        assert worker.wait(timeout=120) == 0, worker.stderr.read()
        page.locator("#ended tr.phase", has_text="FINISHED").wait_for(timeout=30_000)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("main img").count() == 0  # the label made no element
    finally:
        worker.kill()
        live_lab.remove(MlflowClient(web_lab.url), live_lab.HOSTILE)


def test_stop_from_the_page_a_forged_stop_the_plan_form_and_a_hostile_generation(
        web_lab, chromium, tmp_path):
    """The cockpit's actions in a real browser: a form on another origin cannot stop a run;
    the live page's Stop does, within heartbeats, and the run shows `stopped`; the plan form
    holds the log's RTX 5090 case as not fitting; a generation that is markup runs nothing."""
    from mlflow.tracking import MlflowClient
    from support import live_lab

    from cogit_tracker import schema

    label, client = "stop-from-page", MlflowClient(web_lab.url)
    worker = live_lab.start(web_lab.url, tmp_path, label, "--experiment", "live-lab",
                            "--points", "3000", "--pause", "0.05")
    try:
        page = _page(chromium)
        page.set_content(f'<form method="post" action="{web_lab.url}/cogit/api/stop">'
                         f'<input name="campaign" value="{label}"></form>')
        with page.expect_navigation():
            page.evaluate("document.forms[0].submit()")
        assert "cross-site request refused" in page.content()   # Origin: null
        assert worker.poll() is None
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(web_lab.url + "/cogit/live")
        page.locator(f'#running tr.campaign[data-campaign="{label}"] button.stop').click()
        asked = time.monotonic()
        assert worker.wait(timeout=60) != 0
        assert time.monotonic() - asked < 20                     # a heartbeat is 1 s here
        page.locator("#ended tr.campaign", has_text="stopped").wait_for(timeout=30_000)
        phase = next(r for r in live_lab.campaign_runs(client, label)
                     if r.data.tags[schema.KIND] == "phase")
        assert (phase.info.status, phase.data.tags[schema.FAILURE]) == ("KILLED", "stopped")
        client.log_table(phase.info.run_id, {"prompt": ["The service was"], "direction":
                                             ["baseline"], "blend": [0.0], "text":
                                             [live_lab.HOSTILE], "compound": [0.0]},
                         schema.GENERATIONS_TABLE)
        page.goto(web_lab.url + f"/cogit/campaign?campaign={label}")
        assert live_lab.HOSTILE in page.inner_text("main")        # shown as text
        assert page.evaluate("window.__pwned") is None
        assert page.locator('img[src="x"]').count() == 0          # the text made no element
        page.goto(web_lab.url + "/cogit/plan")
        page.fill("input[name=model]", "Qwen/Qwen2.5-7B-Instruct")
        page.select_option("select[name=precision]", "fp32")
        page.fill("input[name=quantum_dim]", "9333")
        page.select_option("select[name=gpu]", "rtx-5090")
        page.click("#plan-form button[type=submit]")
        fits = page.locator("tr", has_text="Fits?").first.inner_text()
        assert "NO" in fits, fits
    finally:
        worker.kill()
        live_lab.remove(client, label)
