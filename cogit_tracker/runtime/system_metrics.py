"""MLflow's own system metrics on every phase run, written through cogit's writer.

`mlflow ui`'s "System metrics" tab shows the `system/...` series that MLflow's
`SystemMetricsMonitor` logs: CPU and memory use, disk, network and, per NVIDIA GPU, its
memory, utilization and power. Its collectors are what this uses, with MLflow's names and its
`MLFLOW_SYSTEM_METRICS_*` variables; only how a sample reaches the store differs. MLflow's
loop logs synchronously through its own client, asks the store for the run's status at every
sample and stops for good at the first failure; here each sample goes to the writer like any
`log_metrics` call, so it is queued, batched, spooled while the store is away, and never
blocks the phase. The loop samples at once (a 20 s phase still gets its points), then every
`COGIT_SYSTEM_S` seconds (default 15: a 10-hour phase gets 2,400 points a series), and once
more when the phase ends. The step is the phase's elapsed seconds, so a resumed phase
continues its series. cogit's own monitor keeps the peaks (`vram_peak_gb`, `ram_peak_gb`).
"""
from __future__ import annotations

import logging
import threading
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator

from mlflow.environment_variables import (MLFLOW_SYSTEM_METRICS_NODE_ID,
                                          MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL)
from mlflow.system_metrics.metrics.cpu_monitor import CPUMonitor
from mlflow.system_metrics.metrics.disk_monitor import DiskMonitor
from mlflow.system_metrics.metrics.network_monitor import NetworkMonitor
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

from .. import settings
from ..schema import SYSTEM_METRICS_PREFIX

_MLFLOW_LOGGER = "mlflow.system_metrics"


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow's monitor says at INFO that it started, or that there is no GPU: once per
    phase, that is noise in the experiment's output."""
    log = logging.getLogger(_MLFLOW_LOGGER)
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


class WriterMonitor(SystemMetricsMonitor):
    """MLflow's monitor with its collectors, publishing through cogit's writer."""

    def __init__(self, uid: str, writer, elapsed_s: Callable[[], float],
                 node: str | None = None):
        # Not MLflow's own __init__: that also opens a client on the store for MLflow's logger,
        # which on a SQL store that is down blocks the phase for minutes before it starts.
        self.monitors = [CPUMonitor(), DiskMonitor(), NetworkMonitor()]
        gpu = self._initialize_gpu_monitor()
        if gpu is not None:
            self.monitors.append(gpu)
        self.sampling_interval = (MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL.get()
                                  or max(settings.SYSTEM_METRICS.get(), 1.0))
        self.node_id = MLFLOW_SYSTEM_METRICS_NODE_ID.get() or node
        self._metrics_prefix = SYSTEM_METRICS_PREFIX
        self._shutdown_event = threading.Event()
        self._process = None
        self.uid, self.writer, self.elapsed_s = uid, writer, elapsed_s

    def monitor(self) -> None:
        while True:
            self._sample()
            if self._shutdown_event.wait(self.sampling_interval):
                return

    def _sample(self) -> None:
        try:
            self.collect_metrics()
            self.publish_metrics(self.aggregate_metrics())
        except Exception as exc:  # noqa: BLE001 - one lost sample, not the thread
            warnings.warn(f"cogit-tracker: system metrics sample failed: {exc}", stacklevel=1)

    def publish_metrics(self, metrics: dict) -> None:
        prefix = self._metrics_prefix + (self.node_id + "/" if self.node_id else "")
        self.writer.metrics(self.uid, {prefix + k: v for k, v in metrics.items()},
                            round(self.elapsed_s()))
        for collector in self.monitors:
            collector.clear_metrics()

    def finish(self) -> None:
        """Stop the loop, then take the last sample: the phase's final state."""
        if self._process is None:
            return
        self._shutdown_event.set()
        self._process.join()
        self._process = None
        self._sample()


def start(uid: str, writer, elapsed_s: Callable[[], float],
          node: str | None = None) -> WriterMonitor | None:
    """Start sampling for the run `uid` (`node`: the node of a job of several, its series
    under `system/<node>/` as MLflow's `MLFLOW_SYSTEM_METRICS_NODE_ID` puts them); returns
    the monitor (call `finish()` at the end), or None if MLflow's monitor cannot start here
    (a warning says why)."""
    try:
        with _quiet_mlflow():
            monitor = WriterMonitor(uid, writer, elapsed_s, node)
            monitor.start()
        return monitor
    except Exception as exc:  # noqa: BLE001 - tracking never breaks the experiment
        warnings.warn(f"cogit-tracker: system metrics not recorded: {exc}", stacklevel=2)
        return None
