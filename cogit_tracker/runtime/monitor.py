"""One background thread per process that keeps every live run honest while it runs.

MLflow has no heartbeat (a SIGKILLed run stays RUNNING forever) and its system metrics keep
no peak. So, for each live campaign and phase run, this thread samples process RAM and GPU
memory every `COGIT_SAMPLE_S` seconds (default 0.5) to keep the peaks, and every
`COGIT_HEARTBEAT_S` seconds (default 15) refreshes the `cogit.heartbeat` tag and logs the cost
and peaks so far, which is what `cogit-log runs reap` and a live budget need, and, for a phase
that reports its progress, `progress`, `eta_s` and `projected_cost_usd` (`progress.py`).
Each tick it also looks whether its campaign must stop (`budget.py`): its budget spent, a stop
asked for from elsewhere (`stop.py`, read once a heartbeat), or, in a rank other than 0, rank
0's stop of the job.
"""
from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import schema, settings
from ..machine import cost, hardware
from ..redaction import redact
from ..store.ops import now_ms
from .budget import BUDGET, Reason
from .progress import Progress
from .ranks import Rank


@dataclass
class Live:
    """What the monitor knows of one live run."""

    uid: str
    writer: object
    rate: cost.Rate
    gpu_count: int
    budget: cost.BudgetGuard | None = None
    started: float = field(default_factory=time.monotonic)
    offset_s: float = 0.0  # time already spent in earlier sessions of a resumed run
    ram_peak: int = 0
    vram_peak: int = 0
    stop: Reason | None = None  # why the campaign is stopping, once it is (`budget.py`)
    on_stop: Callable[[Reason], None] | None = None  # the campaign's stop (`budget.Stopper`)
    progress: Progress | None = None  # set by a phase's first `progress()` report
    rank: Rank | None = None  # in a job of several ranks (`ranks.py`)
    watch: Callable[[], Reason | None] | None = None  # a rank's look at the job's stop
    asked: Callable[[], Reason | None] | None = None  # a look for a stop request (`stop.py`)

    @property
    def charges(self) -> bool:
        """Whether this run's figures are the job's: rank 0 counts the cost, once."""
        return self.rank is None or self.rank.main

    @property
    def duration_s(self) -> float:
        return self.offset_s + time.monotonic() - self.started

    @property
    def cost_usd(self) -> float:
        return cost.cost_usd(self.duration_s, self.rate, self.gpu_count)

    def figures(self, final: bool = False) -> dict[str, float]:
        """Cost, peaks and, once progress was reported, progress, ETA and projected cost.
        `final`: the run is ending, so nothing is left to run in it (ETA 0). In a job of
        several ranks, each rank also keeps its own peaks (`rank<N>/...`); only rank 0's
        figures are the job's."""
        own = self.own_figures()
        if not self.charges:
            return own
        return {**self._job_figures(final), **own}

    def own_figures(self) -> dict[str, float]:
        """This rank's own peaks, under its prefix (none outside a job of several ranks)."""
        if self.rank is None:
            return {}
        return {self.rank.prefix + schema.VRAM_PEAK_GB: self.vram_peak / schema.GB,
                self.rank.prefix + schema.RAM_PEAK_GB: self.ram_peak / schema.GB}

    def _job_figures(self, final: bool) -> dict[str, float]:
        spent = self.cost_usd
        out = {schema.COST_USD: spent, schema.VRAM_PEAK_GB: self.vram_peak / schema.GB,
               schema.RAM_PEAK_GB: self.ram_peak / schema.GB}
        if self.progress is None or not self.progress.reported:
            return out
        eta = 0.0 if final else self.progress.eta_s(time.monotonic())
        out[schema.PROGRESS] = self.progress.fraction
        if eta is not None:
            out[schema.ETA_S] = eta
            out[schema.PROJECTED_COST_USD] = spent + cost.cost_usd(eta, self.rate, self.gpu_count)
        return out

    def heartbeat(self) -> None:
        stamp = now_ms()
        tag = schema.HEARTBEAT if self.charges else self.rank.heartbeat_tag
        self.writer.submit({"op": "tags", "uid": self.uid, "tags": {tag: stamp}})
        self.writer.submit({"op": "metrics", "uid": self.uid,
                            "metrics": [[k, v, stamp, 0] for k, v in self.figures().items()]})


def _ram_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _vram_bytes(rank: Rank | None = None) -> int:
    """NVML's used memory on this process's devices (a rank of several on a node: its own
    GPU, `Rank.device`; else every device), or torch's own peak if that is larger (NVML sees
    other processes too; torch sees only its allocator)."""
    each = hardware.vram_used_bytes()
    device = rank.device(len(each)) if rank is not None else None
    used = each[device] if device is not None else sum(each)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        devices = (range(torch.cuda.device_count()) if device is None
                   else [torch.cuda.current_device()])
        used = max(used, sum(torch.cuda.max_memory_allocated(d) for d in devices))
    return used


class Monitor:
    def __init__(self) -> None:
        self.sample_s = settings.SAMPLE.get()
        self.heartbeat_s = settings.HEARTBEAT.get()
        self._live: dict[str, Live] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, live: Live) -> None:
        self.sample(live)
        live.heartbeat()
        with self._lock:
            self._live[live.uid] = live
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cogit-monitor",
                                                daemon=True)
                self._thread.start()

    def remove(self, live: Live) -> None:
        self.sample(live)
        with self._lock:
            self._live.pop(live.uid, None)

    def sample(self, live: Live) -> None:
        live.ram_peak = max(live.ram_peak, _ram_bytes())
        live.vram_peak = max(live.vram_peak, _vram_bytes(live.rank))

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while True:
            time.sleep(self.sample_s)
            try:
                beat = time.monotonic() - last_beat >= self.heartbeat_s
                if beat:
                    last_beat = time.monotonic()
                self._tick(beat)
            except Exception as exc:  # tracking must not break the experiment
                warnings.warn(redact(f"cogit-tracker: monitor failed: {exc}"), stacklevel=1)

    def _tick(self, beat: bool) -> None:
        with self._lock:
            lives = list(self._live.values())
        ram = _ram_bytes()
        vram = {live.rank: 0 for live in lives}  # a process is one rank: one reading
        for rank in vram:
            vram[rank] = _vram_bytes(rank)
        for live in lives:
            live.ram_peak = max(live.ram_peak, ram)
            live.vram_peak = max(live.vram_peak, vram[live.rank])
            if beat:
                live.heartbeat()
            self._check_stop(live)

    def _check_stop(self, live: Live) -> None:
        """Stop the campaign if it must: a request, rank 0's stop, or the budget spent. The
        looks at the store throttle themselves and say None while it does not answer."""
        if live.stop is not None:
            return
        for look in (live.asked, live.watch):
            reason = look() if look is not None else None
            if reason is not None:
                self._stopping(live, reason)
                return
        if live.watch is not None or live.budget is None:  # a rank other than 0: the
            return                                          # job's budget is rank 0's
        verdict = live.budget.check(live.cost_usd)
        if verdict == "warn":
            warnings.warn(
                f"cogit-tracker: ${live.cost_usd:.2f} spent, 80% of the ${live.budget.budget_usd:.2f} budget",
                stacklevel=1,
            )
        elif verdict == "stop":
            self._stopping(live, Reason(BUDGET, f"budget ${live.budget.budget_usd:,.2f} spent "
                                                f"(${live.cost_usd:,.2f} so far)"))

    @staticmethod
    def _stopping(live: Live, reason: Reason) -> None:
        live.stop = reason
        if live.on_stop is not None:
            live.on_stop(reason)


_monitor: Monitor | None = None


def get() -> Monitor:
    global _monitor
    if _monitor is None:
        _monitor = Monitor()
    return _monitor
