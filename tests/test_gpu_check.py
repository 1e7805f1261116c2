"""bench/gpu_check.py's CPU-only parts (issue 19): its arguments, its report writer, and what
it says on a machine without a GPU. The GPU sections themselves run only on a lent GPU.

Nothing is faked for the no-GPU cases: this machine has no GPU, and the script's real
probe must say so. One test fakes NVML at the pynvml call level (conftest's `fake_nvml`),
the one thing this machine lacks, to see that a GPU which torch cannot use is named.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.py"
sys.path.insert(0, str(ROOT / "bench"))

import gpu_check  # noqa: E402


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)


def test_help_shows_an_example_and_the_sections():
    done = run_script("--help")
    assert done.returncode == 0
    assert gpu_check.EXAMPLE in done.stdout
    assert "experiment-int8" in done.stdout


def test_an_output_path_that_is_a_file_exits_2_with_one_line(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("x")
    done = run_script(str(taken))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(taken) in lines[0] and "not a folder" in lines[0]


def test_an_unwritable_output_folder_exits_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if __import__("os").access(locked, __import__("os").W_OK):
            pytest.skip("running as root: every folder is writable here")
        done = run_script(str(locked / "out"))
        assert done.returncode == 2 and str(locked / "out") in done.stderr
    finally:
        locked.chmod(0o700)


def test_an_unknown_section_is_refused(tmp_path):
    done = run_script(str(tmp_path), "--only", "nope")
    assert done.returncode == 2 and "nope" in done.stderr


def results() -> list[gpu_check.Result]:
    return [gpu_check.Result("nvml", "pass", "NVIDIA H100 80GB HBM3 = h100-sxm",
                             {"key": "h100-sxm"}, 0.4),
            gpu_check.Result("oom", "fail", "the OOM phase ended FINISHED | oddly", {}, 1.0),
            gpu_check.Result("planner", "skip", "bitsandbytes is not installed")]


def test_the_reports_hold_every_section_with_its_status(tmp_path):
    meta = {"date": "2026-12-08", "gpu": "1 x NVIDIA H100 80GB HBM3",
            "versions": {"torch": "2.11.0"}}
    js, md = gpu_check.write_reports(tmp_path / "new", results(), meta)
    data = json.loads(js.read_text())
    assert [(s["name"], s["status"]) for s in data["sections"]] == [
        ("nvml", "pass"), ("oom", "fail"), ("planner", "skip")]
    assert data["gpu"] == meta["gpu"] and data["sections"][0]["figures"] == {"key": "h100-sxm"}
    text = md.read_text()
    assert "| nvml | PASS | 0.4 |" in text
    assert "| oom | FAIL | 1.0 | the OOM phase ended FINISHED / oddly |" in text  # no broken row
    assert "| planner | SKIP | 0.0 | bitsandbytes is not installed |" in text
    assert "## nvml" in text and "## oom" not in text  # figures only where there are some


def test_without_a_gpu_every_section_says_so_and_the_script_fails_loudly(tmp_path):
    """The real probe of this GPU-less machine, in a child: one line per section, exit 1."""
    done = run_script(str(tmp_path / "out"))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("gpu_check: ")]
    by_section = {line.split(":")[1].strip(): line for line in lines[:-1]}
    assert list(by_section) == gpu_check.NAMES
    assert all(": SKIP: " in line for line in by_section.values())
    assert "no NVIDIA GPU here" in by_section["nvml"]
    assert "needs section nvml, which was skipped" in by_section["projection-cpu"]
    assert f"{len(gpu_check.NAMES)} of {len(gpu_check.NAMES)} sections did not pass" \
        in done.stderr
    data = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert {s["status"] for s in data["sections"]} == {"skip"}


def test_a_gpu_that_torch_cannot_use_is_named(fake_nvml):
    """NVML faked at the pynvml calls (conftest's fixture): this CPU build of torch has no
    CUDA, so the line names the GPU NVML saw and torch's lack of it."""
    from conftest import FakeGpu  # noqa: E402 - the fixture module, as test_hardware does

    fake_nvml([FakeGpu(name="NVIDIA H100 80GB HBM3")])
    reason = gpu_check.gpu_missing()
    assert reason is not None and "NVIDIA H100 80GB HBM3" in reason and "no CUDA" in reason


def test_an_unexpected_error_is_a_fail_with_one_line(tmp_path):
    ctx = gpu_check.Context(tmp_path, tmp_path, deadline=float("inf"))

    def broken(_ctx):
        raise ZeroDivisionError("division by zero\nsecond line")

    result = gpu_check.run_section(ctx, "nvml", broken)
    assert result.status == "fail" and result.detail == "ZeroDivisionError: division by zero"
    assert "Traceback" in result.trace
