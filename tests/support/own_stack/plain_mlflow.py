"""A researcher's script that logs with plain `mlflow.*` inside a cogit phase."""
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import mlflow

import cogit_tracker as ct

marker = os.environ.get("MARKER")
with ct.campaign("plain", experiment="own-stack") as camp:
    with camp.phase("train") as ph:
        mlflow.log_params({"lr": 0.01, "batch": 8})
        mlflow.set_tag("stage", "warmup")
        for step in range(50):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"accuracy": 0.5, "eval_loss": 0.7}, step=50)
        if marker:                       # the test takes the store away here
            ph.flush()
            Path(marker).write_text("logged 50")
            while not Path(marker + ".gone").exists():
                pass
        with tempfile.TemporaryDirectory() as folder:   # gone before the writer sends it
            ckpt = Path(folder) / "checkpoint.txt"
            ckpt.write_text("epoch 1")
            mlflow.log_artifact(str(ckpt), "checkpoints")
            ckpt.write_text("epoch 2")                   # taken when logged: epoch 1 is kept
        mlflow.log_dict({"layers": 2}, "config.json")
        mlflow.log_table({"prompt": ["a", "b"], "score": [0.1, 0.2]}, "generations.json")
        mlflow.log_table({"prompt": ["c"], "score": [0.3]}, "generations.json")
        worker = threading.Thread(target=lambda: mlflow.log_metric("loader_batches", 7))
        worker.start()
        worker.join()
        with mlflow.start_run(nested=True, run_name="sweep-point"):
            mlflow.log_metric("child_loss", 0.25)
        child = "import mlflow; mlflow.log_metric('from_child_process', 3.0)"
        subprocess.run([sys.executable, "-c", child], check=True)
        try:
            mlflow.start_run()
        except Exception as exc:        # MLflow's own error, unchanged; the phase goes on
            print("start_run refused:", str(exc).split(".")[0])
        mlflow.log_metric("after_refusal", 1.0)
        print("active", mlflow.active_run().info.run_id)
print("after", mlflow.active_run(), os.environ.get("MLFLOW_RUN_ID"))
print("done", flush=True)
