"""A researcher's Lightning module, trained twice inside cogit phases: once with Lightning's
own `MLFlowLogger`, once with `mlflow.autolog()`."""
import mlflow
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import MLFlowLogger
from torch.utils.data import DataLoader, TensorDataset

import cogit_tracker as ct


class Regression(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def data():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)


def trainer(**kwargs):
    return pl.Trainer(max_epochs=2, accelerator="cpu", enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      log_every_n_steps=1, **kwargs)


with ct.campaign("lightning", experiment="own-stack") as camp:
    with camp.phase("logger") as ph:
        # the one line: Lightning's logger writes into the phase's run
        logger = MLFlowLogger(run_id=mlflow.active_run().info.run_id,
                              tracking_uri=mlflow.get_tracking_uri())
        trainer(logger=logger).fit(Regression(), data())
    with camp.phase("autolog") as ph:
        mlflow.autolog(log_models=False, silent=True)
        trainer(logger=False).fit(Regression(), data())
print("done", flush=True)
