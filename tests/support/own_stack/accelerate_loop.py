"""A researcher's accelerate loop with `Accelerator(log_with="mlflow")` inside a cogit phase."""
import mlflow
import torch
from accelerate import Accelerator

import cogit_tracker as ct

with ct.campaign("accelerate", experiment="own-stack") as camp:
    with camp.phase("train") as ph:
        accelerator = Accelerator(log_with="mlflow", cpu=True)
        # the one line: accelerate's tracker joins the phase's run instead of starting one
        accelerator.init_trackers(camp.experiment, config={"lr": 0.05}, init_kwargs={
            "mlflow": {"run_id": mlflow.active_run().info.run_id, "nested_run": True}})
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        model, optimizer = accelerator.prepare(model, optimizer)
        for step in range(20):
            x = torch.randn(16, 4)
            loss = ((model(x) - x.sum(dim=1, keepdim=True)) ** 2).mean()
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            accelerator.log({"loss": loss.item()}, step=step)
        accelerator.end_training()
print("done", flush=True)
