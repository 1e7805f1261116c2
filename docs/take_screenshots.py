"""Retake the README's screenshots from `make demo`'s own campaigns (issue 18, item 6).

    make screenshots                      # = .venv/bin/python docs/take_screenshots.py

In a folder of its own (`.cogit/screenshots/`, made afresh) it runs the demo (fp32 and int8 on
SmolLM2-135M, minutes), records a plan as a prediction and drafts the decision the int8
campaign's advice suggests, starts a campaign that stays running for the live page, serves the
store with `mlflow server --app-name cogit` on a free loopback port, and has Debian's chromium
(driven by Playwright, no browser download) save every `/cogit/` page as a PNG in
`docs/screenshots/`. Nothing here is a test: `tests/test_web_browser.py` checks the pages.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots"
WORK = REPO / ".cogit" / "screenshots"
BIN = Path(sys.executable).parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
#: a phase that stays running while the live page is taken: progress every second
RUNNING = """
import time, cogit_tracker as ct
with ct.campaign("demo-live", experiment="cogit-qmech", usd_per_hour=0.89, budget_usd=1,
                 phases=["encode", "train"]) as camp:
    with camp.phase("encode") as ph:
        for step in range(600):
            ph.progress(step, 600)
            time.sleep(1)
"""


def cogit(*args: str) -> str:
    return subprocess.run([str(BIN / "cogit-log"), *args], cwd=WORK, check=True,
                          capture_output=True, text=True).stdout


def campaigns() -> list[str]:
    rows = json.loads(cogit("runs", "list", "--json"))
    return [r["campaign"] for r in rows if r["kind"] == "campaign"]


def prepare() -> tuple[str, str]:
    """The demo's store, with a prediction and a drafted decision; its two labels."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pipelines.demo", "--tracking-uri",
                    "sqlite:///mlflow.db"], cwd=WORK, check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    labels = campaigns()
    fp32, int8 = (next(label for label in labels if p in label) for p in ("fp32", "int8"))
    cogit("plan", "--model", "smollm2-135m", "--precision", "fp32", "--gpu", "rtx-5090", "--log")
    cogit("decision", "new", "--from-advice", int8, "--no-input")
    return fp32, int8


def serve() -> tuple[subprocess.Popen, subprocess.Popen, str]:
    """The server over the demo's store, and a campaign left running; the server's URL."""
    from cogit_tracker.store.server import free_port, wait_healthy

    port = free_port()
    server = subprocess.Popen([str(BIN / "mlflow"), "server", "--app-name", "cogit",
                               "--backend-store-uri", "sqlite:///mlflow.db", "--host",
                               "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=WORK, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    live = subprocess.Popen([sys.executable, "-c", RUNNING], cwd=WORK,
                            env={**os.environ, "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
                                 "COGIT_HEARTBEAT_S": "2"})
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, server, timeout=120)
    time.sleep(12)   # a few heartbeats: the live phase has a rate, hence an ETA
    return server, live, url


def pages(fp32: str, int8: str) -> dict[str, str]:
    """Screenshot name -> path under /cogit/."""
    return {"campaigns": "/cogit/", "campaign": f"/cogit/campaign?campaign={quote(fp32)}",
            "compare": f"/cogit/compare?a={quote(fp32)}&b={quote(int8)}",
            "live": "/cogit/live", "advise": f"/cogit/advise?campaign={quote(int8)}",
            "plan": "/cogit/plan?model=Qwen/Qwen2.5-7B-Instruct&precision=fp32"
                    "&quantum_dim=9333&gpu=rtx-5090",
            "accuracy": "/cogit/accuracy", "decisions": "/cogit/decisions",
            "decision": "/cogit/decision?number=1"}


def shoot(url: str, targets: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        sys.exit("take_screenshots: chromium is not installed (apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        for name, path in targets.items():
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print(f"docs/screenshots/{name}.png  <- {path}")
        browser.close()


def main() -> None:
    fp32, int8 = prepare()
    server, live, url = serve()
    try:
        shoot(url, pages(fp32, int8))
    finally:
        live.kill()
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
