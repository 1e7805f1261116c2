"""A researcher's script, unchanged, launched by torchrun, `accelerate launch` or (simulated)
srun: every rank opens the campaign and its phases; gloo on the CPU does a real all-reduce
between ranks. The environment picks the test's case (a failing or killed rank, a budget)."""
import os
import signal
import sys
import time

import torch
import torch.distributed as dist

import cogit_tracker as ct

label = os.environ.get("LABEL", "ddp-2")
if os.environ.get("LABEL_PER_RANK"):    # the mistake: a label that differs between ranks
    label = f"{label}-rank{os.environ['RANK']}"
fail_rank = int(os.environ.get("FAIL_RANK", "-1"))
kill_rank = int(os.environ.get("KILL_RANK", "-1"))   # killed with -9, as the OOM killer does
steps = int(os.environ.get("STEPS", "20"))
if "SLURM_PROCID" in os.environ and "RANK" not in os.environ:   # srun: as SLURM scripts do
    dist.init_process_group("gloo", init_method=os.environ["INIT_METHOD"],
                            rank=int(os.environ["SLURM_PROCID"]),
                            world_size=int(os.environ["SLURM_NTASKS"]))
else:
    dist.init_process_group("gloo")
rank = dist.get_rank()
with ct.campaign(label, experiment=os.environ.get("EXPERIMENT", "ranks"), usd_per_hour=3.6,
                 budget_usd=float(os.environ["BUDGET"]) if "BUDGET" in os.environ else None,
                 phases=["train"]) as camp:
    with camp.phase("train") as ph:
        for step in range(steps):
            value = torch.tensor([float(rank + step)])
            dist.all_reduce(value)
            ph.log_metrics({"loss": 1.0 / (step + 1), "reduced": value.item()}, step=step)
            ph.progress(step + 1, steps)
            if rank == fail_rank and step == 3:
                raise RuntimeError(f"rank {rank} hit a bad batch")
            if rank == kill_rank and step == 3:
                time.sleep(0.5)             # the others wait in the next all-reduce
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(float(os.environ.get("STEP_S", "0")))
print(f"rank {rank} done", flush=True)
dist.destroy_process_group()
