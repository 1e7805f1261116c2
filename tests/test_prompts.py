"""Phase 3's prompts: the held-out evaluation sets, the user's `--prompts FILE` (parsed, bad
files refused through the real CLI with exit 2 and one line, before any run exists), a
campaign that steers the user's prompts, and the fluency score beside sentiment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from pipelines import prompts

REPO = Path(__file__).resolve().parents[1]


def test_evaluation_frames_and_words_are_never_trained_on():
    train_words = {w for pair in prompts.TRAIN_WORDS for w in pair}
    eval_words = {w for pair in prompts.EVAL_WORDS for w in pair}
    assert not train_words & eval_words
    frames = prompts.EVAL_POLAR_TEMPLATES + prompts.EVAL_NEUTRAL_TEMPLATES
    assert not set(frames) & set(prompts.TRAIN_TEMPLATES)
    held = prompts.held_out_prompts(6, seed=1)
    assert [p.polarity for p in held].count("neutral") == 6
    assert not any(w in p.text.split() for p in held if p.polarity == "neutral"
                   for w in train_words | eval_words)


def test_prompts_file_lines_and_json(tmp_path):
    lines = tmp_path / "p.txt"
    lines.write_text("The weather today\n\n  My neighbour said  \n", encoding="utf-8")
    assert prompts.read_prompts_file(str(lines)) == [
        prompts.EvalPrompt("The weather today", "neutral"),
        prompts.EvalPrompt("My neighbour said", "neutral")]
    js = tmp_path / "p.json"
    js.write_text(json.dumps(["plain", {"text": "so good", "polarity": "positive"},
                              {"text": "so bad", "polarity": "negative"}]), encoding="utf-8")
    assert [p.polarity for p in prompts.read_prompts_file(str(js))] == [
        "neutral", "positive", "negative"]


def _write(path: Path, content: bytes | None) -> Path:
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name, content, says", [
    ("missing.txt", None, "cannot be read"),
    ("empty.txt", b"\n  \n", "no prompt"),
    ("latin1.txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), "not UTF-8"),
    ("polarity.json", b'[{"text": "hi", "polarity": "happy"}]', "unknown polarity 'happy'"),
    ("broken.json", b'[{"text": "hi"', "invalid JSON"),
])
def test_bad_prompts_file_is_one_line_exit_2_and_writes_nothing(tmp_path, name, content, says):
    """Through the real CLI (python -m): the exit code and the one line a user sees; the
    store is never created, since the file is read before the campaign run exists."""
    bad = _write(tmp_path / name, content)
    db = tmp_path / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "run", "cogit-qmech", "--prompts",
                           str(bad), "--phases", "1-3"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and says in lines[0] and name in lines[0], proc.stderr
    assert not db.exists()


@pytest.mark.slow
def test_campaign_steers_the_users_prompts_both_ways_and_records_them(tiny_model, store,
                                                                      tmp_path):
    from cogit_tracker.runtime import experiments
    from pipelines import EXPERIMENT

    file = tmp_path / "mine.json"
    file.write_text(json.dumps(["today the movie was", {"text": "we think this game is",
                                                        "polarity": "negative"}]))
    summary = experiments.run(EXPERIMENT, model=str(tiny_model), campaign="mine",
                              prompts=str(file), tracking_uri=store, encode_prompts=12, epochs=4,
                              blend=(1.0,), multipliers=(2.0,), max_new_tokens=4)
    client = MlflowClient(store)
    run = client.get_run(next(r for r in client.search_runs(
        [client.get_experiment_by_name("cogit-qmech").experiment_id])
        if r.data.tags.get("cogit.phase") == "intervene").info.run_id)
    recorded = json.loads(Path(client.download_artifacts(run.info.run_id, "prompts.json",
                                                         str(tmp_path))).read_text())
    assert recorded == [{"text": "today the movie was", "polarity": "neutral"},
                        {"text": "we think this game is", "polarity": "negative"}]
    assert run.data.params["prompts_source"] == str(file)
    table = json.loads(Path(client.download_artifacts(run.info.run_id, "generations.json",
                                                      str(tmp_path))).read_text())
    rows = [dict(zip(table["columns"], r)) for r in table["data"]]
    neutral = {(r["direction"], r["method"]) for r in rows if r["polarity"] == "neutral"}
    assert neutral == {("baseline", "none"), ("pos->neg", "operator"), ("pos->neg", "vector"),
                       ("neg->pos", "operator"), ("neg->pos", "vector")}
    negative = {r["direction"] for r in rows if r["polarity"] == "negative"}
    assert negative == {"baseline", "neg->pos"}
    assert all(r["fluency"] > 0 for r in rows)
    assert "fluency_ratio_neg_to_pos" in summary["phases"]["intervene"]


@pytest.mark.slow
def test_fluency_is_worse_for_broken_text_than_for_the_models_own():
    """Perplexity under the unsteered model, on the real SmolLM2: its own greedy
    continuation reads as fluent, random tokens of the same length do not."""
    from pipelines import models, steering

    loaded = models.load_cached("smollm2-135m", "fp32", "cpu")
    prompt = ["The movie was"]
    own = steering.generate(loaded.bridge, prompt, None, 0, 12, stop_at_eos=False)[0]
    noise = torch.randint(1000, loaded.tokenizer.vocab_size,
                          (len(own.ids),), generator=torch.Generator().manual_seed(0)).tolist()
    fluent, broken = steering.perplexity(loaded.bridge, prompt * 2, [own.ids, noise])
    assert 1.0 <= fluent < 10 < broken, (fluent, broken)
