"""How a running process learns what another wrote on one of its runs: rank 0's stop, read by
the other ranks of a job (`ranks.JobStopWatch`), and a stop asked for from elsewhere
(`stop.RequestWatch`).

The look is asked for by the monitor, the thread that also samples the peaks, writes the
heartbeat and checks the budget. A store that takes connections but answers slowly (a
saturated link, a server under load, MLflow's own retries) would hold a look for minutes,
and the monitor with it: no peak sampled, no budget checked. So each look reads on a thread
of its own, one at a time, and the monitor takes the answer of the look that finished since it
last asked: a tag is seen one sample after the look that read it, and a slow store delays only
the looks.
"""
from __future__ import annotations

import threading
import time
from typing import Mapping


class TagWatch:
    """A look at one run's tags at most once every `every_s`, only while the store answers.
    A look that fails says nothing and the next one tries again: tracking never breaks the
    experiment. `looks`: how many looks have finished, answered or not."""

    def __init__(self, uri: str, uid: str, writer, every_s: float = 1.0) -> None:
        self.uri, self.uid, self.writer, self.every_s = uri, uid, writer, every_s
        self.looks = 0
        self._last = float("-inf")
        self._client = None
        self._found: Mapping[str, str] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def tags(self) -> Mapping[str, str] | None:
        """The tags the latest finished look read, once; None if no look has read any since
        the last call (too soon, one still under way, the run not made yet, the store away).
        Starts the next look when it is due and none is under way."""
        with self._lock:
            found, self._found = self._found, None
            under_way = self._thread is not None and self._thread.is_alive()
            if not under_way and time.monotonic() - self._last >= self.every_s:
                self._last = time.monotonic()
                self._thread = threading.Thread(target=self._look, name="cogit-tag-watch",
                                                daemon=True)
                self._thread.start()
        return found

    def _look(self) -> None:
        found = self._read()
        with self._lock:
            if found is not None:
                self._found = found
            self.looks += 1

    def _read(self) -> Mapping[str, str] | None:
        from ..store import uri as uris

        run_id = self.writer.run_ids.get(self.uid)
        if run_id is None:
            return None
        try:
            if uris.answers(self.uri) is not None:
                return None
            if self._client is None:
                from mlflow.tracking import MlflowClient

                self._client = MlflowClient(tracking_uri=self.uri)
            return self._client.get_run(run_id).data.tags
        except Exception:  # noqa: BLE001 - the store going away mid-look: next time
            return None
