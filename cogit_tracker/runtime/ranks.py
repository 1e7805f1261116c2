"""The ranks of one multi-process job (torchrun, `accelerate launch`, a SLURM step) are one
campaign: one campaign run and one run per phase for the whole job.

Each rank knows its place from its launcher's environment (`Rank.from_environment`), with no
shared filesystem and whether or not `torch.distributed` is initialised. Every rank derives
the same `cogit.uid` for the campaign and for each phase from the job's id and the label
(`uid`), so they all write to the same runs: rank 0 creates them; the others wait until the
store has them (or, with the store away, carry the same creation in their spool, which a
replay applies once: runs are found by uid before being made).

What each rank writes (DESIGN, "a job of several ranks"): rank 0 charges the job's cost
(elapsed x the job's GPUs x rate), holds its budget and ends the runs; every rank keeps its
own peaks and heartbeat under `rank<N>/` and `cogit.heartbeat.rank<N>`; user metrics come
from rank 0 only unless `COGIT_ALL_RANKS` (then every rank's under `rank<N>/`); a rank that
fails names itself (`cogit.failure.rank`, `cogit.failure.node`), and the teardown of the
others by the launcher does not overwrite it.
"""
from __future__ import annotations

import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Mapping

from .. import schema
from ..errors import BadInput
from .budget import KINDS, Reason
from .tag_watch import TagWatch

#: uuid5 namespace of job-derived uids (fixed: every rank of every version derives the same)
NAMESPACE = uuid.UUID("5f0c7a2e-1d6b-4c38-9a57-3b2f8e41c9d0")
ALL_RANKS = "COGIT_ALL_RANKS"
#: endings a rank causes itself (it names itself), and those the launcher's teardown of the
#: other ranks causes once one has failed (they must not overwrite its account)
OWN_FAILURES = ("exception", "cuda_oom")
TEARDOWN = ("sigterm", "interrupted")
#: what a collective raises when a peer process has gone (gloo: "Connection closed by peer
#: ... caused by a remote worker crashing"; NCCL: "remote process exited", "communicator was
#: aborted"): the rank that says so is a witness, not the cause
PEER_LOST = re.compile(r"closed by peer|remote worker crash|remote process exited|"
                       r"connection reset by peer|communicator was aborted", re.IGNORECASE)


@dataclass(frozen=True)
class Rank:
    """This process's place in its job."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    node_index: int  # the node's place in the job (torchrun's GROUP_RANK, SLURM_NODEID)
    host: str        # the host's name
    job: str         # what every rank of this job, and no other job, shares

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def node(self) -> str:
        """`node<K>`: by index, not host name, so two agents on one host stay two nodes."""
        return f"node{self.node_index}"

    @property
    def node_main(self) -> bool:
        """The node's first rank: it tags the node's hardware and samples its system."""
        return self.local_rank == 0

    @property
    def nodes(self) -> int:
        return max(self.world // max(self.local_world, 1), 1)

    @property
    def prefix(self) -> str:
        return f"{schema.RANK_METRIC_PREFIX}{self.rank}/"

    @property
    def heartbeat_tag(self) -> str:
        return f"{schema.HEARTBEAT}.rank{self.rank}"

    def uid(self, *names: str) -> str:
        """The uid every rank of this job derives for the same campaign or phase."""
        return str(uuid.uuid5(NAMESPACE, "\x1f".join((self.job, *names))))

    def device(self, visible: int) -> int | None:
        """The GPU this rank's memory is read on: with several ranks on the node, the one its
        local rank takes (`torch.cuda.set_device(LOCAL_RANK)`, as DDP scripts do); with one
        rank per node, None: every visible GPU is its."""
        if self.local_world == 1 or visible == 0:
            return None
        return self.local_rank % visible

    def job_gpus(self, visible: int) -> int:
        """The GPUs the job uses: each node's ranks share its `visible` GPUs, one each (a
        single process per node uses them all); a GPU-less node counts as one unit, as a
        GPU-less campaign does."""
        per_node = visible if self.local_world == 1 else min(self.local_world, visible)
        return self.nodes * max(per_node, 1)

    def tags(self) -> dict[str, str]:
        return {schema.JOB: self.job, schema.RANKS: str(self.world),
                schema.NODES_COUNT: str(self.nodes)}

    def own_tags(self) -> dict[str, str]:
        """What this rank says of itself on the job's runs: its node, and, from the node's
        first rank, the node's host."""
        tags = {schema.RANK_NODE_PREFIX + str(self.rank): self.node}
        if self.node_main:
            tags[schema.HOST_PREFIX + self.node] = self.host
        return tags

    @staticmethod
    def from_environment(env: Mapping[str, str] | None = None) -> "Rank | None":
        """The job this process is a rank of, or None for a process on its own (no launcher
        variables, or a world of one). A launcher environment that contradicts itself is
        BadInput naming the variable."""
        env = os.environ if env is None else env
        if "WORLD_SIZE" in env or "RANK" in env:
            names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK")
            run_id = env.get("TORCHELASTIC_RUN_ID", "")
            job = _agent_job(env) or (run_id if run_id not in ("", "none") else None) or \
                env.get("SLURM_JOB_ID") or \
                f"{env.get('MASTER_ADDR', '')}:{env.get('MASTER_PORT', '')}"
        elif "SLURM_NTASKS" in env:
            names = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE",
                     "SLURM_NODEID")
            job = f"slurm-{env.get('SLURM_JOB_ID', '')}.{env.get('SLURM_STEP_ID', '0')}"
        else:
            return None
        rank, world, local, local_world, node = (_whole(env, n, default) for n, default in
                                                 zip(names, ("0", "1", "0", None, None)))
        if world <= 1:
            return None
        if not 0 <= rank < world:
            raise BadInput(f"{names[0]}={rank} with {names[1]}={world}: a rank must be from 0 "
                           f"to {world - 1}")
        local_world = max(local_world if local_world is not None else world, 1)
        node = node if node is not None else rank // local_world
        return Rank(rank, world, local, local_world, node, socket.gethostname(), job)


def _agent_job(env: Mapping[str, str]) -> str | None:
    """The job's id as torchrun's agent store holds it, for ranks started by torchrun or
    `accelerate launch` (TORCHELASTIC_USE_AGENT_STORE): the first rank to ask sets a fresh
    one, every other rank of the launch (on every node) reads it. TORCHELASTIC_RUN_ID alone
    is not enough: `accelerate launch` and a fixed `--rdzv_id` give every job the same
    ("none"), and two jobs with one label would then write into one campaign. A restart of
    the workers finds the same id, so it resumes the campaign. None without an agent store
    (or when it does not answer within COGIT_CONNECT_TIMEOUT_S)."""
    if env.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() != "true":
        return None
    from datetime import timedelta

    from .. import settings

    try:
        import torch.distributed as dist

        store = dist.TCPStore(env["MASTER_ADDR"], int(env["MASTER_PORT"]), is_master=False,
                              timeout=timedelta(seconds=settings.CONNECT_TIMEOUT.get()))
        made = store.compare_set("cogit/job", "", uuid.uuid4().hex)
    except Exception:  # noqa: BLE001 - KeyError, ValueError, a store that is gone
        return None
    return f"{env.get('TORCHELASTIC_RUN_ID', '')}/{made.decode()}"


def _whole(env: Mapping[str, str], name: str, default: str | None) -> int | None:
    text = env.get(name, default)
    if text is None:
        return None
    try:
        return int(str(text).split("(")[0])  # SLURM_NTASKS_PER_NODE may read "2(x3)"
    except ValueError:
        raise BadInput(f"{name}={text!r}: accepted: a whole number") from None


def all_ranks() -> bool:
    """Whether every rank's own metrics are kept (under `rank<N>/`), not rank 0's alone."""
    return os.environ.get(ALL_RANKS, "").strip().lower() in ("1", "true", "yes")


def latest_heartbeat(tags: Mapping[str, str]) -> int | None:
    """The freshest heartbeat of a run, over rank 0's and every other rank's: a job is alive
    while any of its ranks is."""
    beats = [int(v) for k, v in tags.items()
             if (k == schema.HEARTBEAT or k.startswith(schema.HEARTBEAT + ".rank"))
             and str(v).isdigit()]
    return max(beats) if beats else None


def join(writer, uri: str, uid: str, create: dict) -> None:
    """A rank other than 0 writes to the run rank 0 makes: it waits (`COGIT_JOIN_WAIT_S`)
    until the store has it. With the store away it carries the same creation in its own
    spool instead: a replay makes the run once (runs are found by uid before being made)."""
    import time
    import warnings

    from .. import settings
    from ..store import first_open, query
    from ..store import uri as uris

    if uris.answers(uri) is not None:
        writer.submit(create)
        return
    try:
        client = first_open.client(uri)  # a brand-new store: rank 0 may be making it now
    except Exception:  # noqa: BLE001 - the writer says what the store answered
        writer.submit(create)
        return
    deadline = time.monotonic() + settings.JOIN_WAIT.get()
    while time.monotonic() < deadline:
        found = query.find(client, uid)
        if found is not None:
            writer.known(uid, found.info.run_id, create)
            return
        if create.get("parent") is None:
            _same_label(client, create)
        time.sleep(0.2)
    warnings.warn(f"cogit-tracker: rank 0 made no run {create.get('name')!r} within "
                  f"{settings.JOIN_WAIT.get():g}s; this rank makes it", stacklevel=3)
    writer.submit(create)


def _same_label(client, create: dict) -> None:
    """A rank that opens another campaign than rank 0 did is a mistake in the script (a label
    made from the rank, the time or a random name): BadInput naming both, before anything of
    its own is written."""
    from ..store import query

    tags = create["tags"]
    made = query.runs(client, f"tags.`{schema.KIND}` = 'campaign'",
                      tags={schema.JOB: tags[schema.JOB]}, limit=1)
    if made and made[0].data.tags.get(schema.CAMPAIGN) != tags[schema.CAMPAIGN]:
        raise BadInput(f"this rank opened campaign {tags[schema.CAMPAIGN]!r} but rank 0 of job "
                       f"{tags[schema.JOB]} opened {made[0].data.tags.get(schema.CAMPAIGN)!r}: "
                       "every rank must open the same label")


class JobStopWatch(TagWatch):
    """A rank other than 0 learns that the job is stopping (its budget spent, a stop asked
    for) from the run, where rank 0's stop writes it first (`cogit.failure = budget` or
    `stopped`): a read a second at most."""

    def __call__(self) -> Reason | None:
        tags = self.tags()
        kind = KINDS.get(tags.get(schema.FAILURE, "")) if tags else None
        if kind is None:
            return None
        return Reason(kind, tags.get(schema.FAILURE_MESSAGE) or f"the job's {kind.summary}")


def final_key(rank: int) -> str:
    """The metric a rank writes on a run as it ends (its own time): the mark that it ended."""
    return f"{schema.RANK_METRIC_PREFIX}{rank}/{schema.DURATION_S}"


def witness(failure: Mapping[str, str]) -> bool:
    """Whether this rank's ending is the consequence of another's: the launcher tearing it
    down, or a collective that lost its peer."""
    kind = failure.get(schema.FAILURE)
    return kind in TEARDOWN or (kind == "exception" and
                                bool(PEER_LOST.search(failure.get(schema.FAILURE_MESSAGE, ""))))


@dataclass(frozen=True)
class Others:
    """What the job's other ranks have left on one run by the time this rank ends it."""

    me: Rank
    metrics: Mapping[str, float]
    tags: Mapping[str, str]

    @property
    def missing(self) -> tuple[int, ...]:
        """The ranks that wrote no end of their own on the run."""
        return tuple(r for r in range(self.me.world)
                     if r != self.me.rank and final_key(r) not in self.metrics)

    @property
    def named(self) -> bool:
        """Whether another rank has recorded that it failed (its account stands)."""
        return self.tags.get(schema.FAILURE_RANK, str(self.me.rank)) != str(self.me.rank)

    def peak(self, name: str, own: float) -> float:
        """The largest of this rank's `name` and every rank's `rank<N>/<name>`."""
        found = [v for k, v in self.metrics.items()
                 if k.startswith(schema.RANK_METRIC_PREFIX) and k.endswith("/" + name)]
        return max([own, *found])

    def killed(self) -> dict[str, str]:
        """The account of the first rank that ended without a word (SIGKILL, the kernel's OOM
        killer, `os._exit`): no exception of its own reached cogit."""
        rank = self.missing[0]
        node = self.tags.get(schema.RANK_NODE_PREFIX + str(rank), "")
        host = self.tags.get(schema.HOST_PREFIX + node, "")
        where = f" on {node}" + (f" ({host})" if host else "") if node else ""
        return {schema.FAILURE: "killed", schema.FAILURE_RANK: str(rank),
                schema.FAILURE_NODE: node,
                schema.FAILURE_MESSAGE: f"rank {rank}{where} ended without a word (killed by a "
                                        "signal such as SIGKILL or the OOM killer, or exited "
                                        "without unwinding); the other ranks were torn down"}

    def records_killed(self) -> bool:
        """Whether this rank writes the `killed` account: the lowest rank still standing, so
        it is written once, whichever rank died (rank 0 included)."""
        return self.me.rank == min(r for r in range(self.me.world) if r not in self.missing)


def others(uri: str, run_id: str | None, me: Rank, witnessing: bool,
           wait: bool = True) -> Others | None:
    """Wait (`COGIT_RANKS_END_WAIT_S`, polling every 0.2 s; not at all unless `wait`) until
    every other rank of the job has written its end on the run, or, `witnessing`, until one
    has named itself; what they left, or None when the store cannot say (it is away, or the
    run is unknown)."""
    from .. import settings
    from ..store import uri as uris

    if run_id is None or uris.answers(uri) is not None:
        return None
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    deadline = time.monotonic() + (settings.RANKS_END_WAIT.get() if wait else 0.0)
    while True:
        try:
            data = client.get_run(run_id).data
        except Exception:  # noqa: BLE001 - cannot tell: this rank writes its own account
            return None
        seen = Others(me, data.metrics, data.tags)
        if not seen.missing or (witnessing and seen.named) or time.monotonic() >= deadline:
            return seen
        time.sleep(0.2)


#: the `killed` account a phase of this process found, per job: the campaign that ends next
#: carries the same, without waiting for the others again
_KILLED: dict[str, dict[str, str]] = {}


def remember_killed(me: Rank, account: dict[str, str]) -> dict[str, str]:
    _KILLED[me.job] = account
    return account


def killed_in_job(me: Rank) -> dict[str, str] | None:
    return _KILLED.get(me.job)
