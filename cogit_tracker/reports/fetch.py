"""Read the campaign and phase runs a report needs, and nothing else.

Two paths give the same `RunRow`s:

- SQL (`sqlite:` and `postgresql:` stores): reads MLflow's own tables with sqlalchemy,
  selecting only the needed columns, only the `cogit.*` tags a report uses and only the latest
  value of each phase's metrics (MLflow's system metrics left out). `mlflow.search_runs` instead loads every param, tag and metric
  of every run (5.4 s for 10,000 runs on sqlite; this path is ~40x faster, see
  `bench/report_scale.py`).
- MlflowClient (`http(s):` and any other store MLflow understands): `search_runs` with
  pagination, trimmed to the same tags and metrics.

`tests/test_reports_paths.py` holds the two against each other on one store. Deleted runs and
runs of deleted experiments are left out by both.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable

from .. import schema as s
from ..errors import BadInput
from ..store import once, query
from ..store.query import stored
from ..store.uri import check, scheme

# Tags a report reads. Anything else on the run (params, system metrics...) is never fetched.
TAGS = (
    s.UID, s.KIND, s.CAMPAIGN, s.MODEL, s.PRECISION, s.PROVIDER, s.PHASE, s.PHASE_INDEX,
    s.DTYPE_LOADED, s.GPU_NAME, s.GPU_KEY, s.GPU_COUNT, s.FAILURE, s.PARENT_RUN,
    s.CPU_MODEL, s.CPU_GFLOPS, s.CPU_BANDWIDTH_GBS, s.RAM_TOTAL_GB, s.USD_PER_HOUR,
    s.PHASES_PLANNED, s.HEADLINE, s.RANKS, s.NODES_COUNT, s.FAILURE_RANK, s.FAILURE_NODE,
)
# ... and, of a job of several ranks, the tags each node and rank adds (`reports/nodes.py`)
TAG_PREFIXES = (s.NODE_PREFIX, s.HOST_PREFIX, s.RANK_NODE_PREFIX)
# what the SQL path asks for them with: wide (LIKE's `_` is any character), kept by `_tag`
_TAG_LIKES = ("cogit.node%", s.HOST_PREFIX + "%")
REPORTED_KINDS = ("campaign", "phase")
# Tested dialects only (MySQL would need `key` quoted); other stores use MlflowClient.
SQL_SCHEMES = ("sqlite", "postgresql")


@dataclass
class RunRow:
    """One campaign or phase run, as much of it as a report reads."""

    run_id: str
    experiment: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Snapshot:
    """The runs of one query. A phase's `metrics` are all its latest values but MLflow's
    system metrics (which of them are headline metrics is its campaign's to say); a
    campaign's are none (its roll-ups repeat its phases')."""

    runs: list[RunRow]


Histories = dict[str, dict[str, list[tuple[int, float]]]]   # run_id -> metric -> points


def is_sql(uri: str) -> bool:
    return scheme(uri) in SQL_SCHEMES


def fetch(uri: str, experiments: Iterable[str] | None = None, client=None) -> Snapshot:
    """Campaign and phase runs of `experiments` (all when None), by the fastest path for `uri`.

    `client` forces the REST path with that `MlflowClient` (how tests compare the paths).
    """
    names = sorted(set(experiments)) if experiments else None
    if client is None and is_sql(uri):
        return fetch_sql(uri, names)
    return fetch_rest(client or _client(uri), names)


def histories(uri: str, wanted: dict[str, list[str]], client=None) -> Histories:
    """Every point of the metrics `wanted` names for each run, in step order, by the same
    path as `fetch`; NaN points left out."""
    if not wanted:
        return {}
    if client is None and is_sql(uri):
        return history_sql(uri, wanted)
    return history_rest(client or _client(uri), wanted)


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _tag(key: str) -> bool:
    """A tag a report reads."""
    return key in TAGS or key.startswith(TAG_PREFIXES)


def _kept(row: RunRow, key: str) -> bool:
    """A latest metric a report keeps: a phase's, other than MLflow's system metrics."""
    return row.tags.get(s.KIND) == "phase" and not key.startswith(s.SYSTEM_METRICS_PREFIX)


# ---------------------------------------------------------------- SQL path

def _engine(uri: str):
    import sqlalchemy

    return sqlalchemy.create_engine(check(uri, "read"))  # sqlalchemy would create one


def _sql_list(names: Iterable[str]) -> str:
    """Our own constant key names as SQL literals (never user input; checked anyway)."""
    assert all("'" not in n for n in names)
    return ", ".join(f"'{n}'" for n in names)


def fetch_sql(uri: str, experiments: list[str] | None) -> Snapshot:
    """Flat queries on the plain DBAPI cursor, joined in Python.

    Tags are read for the few wanted keys only, latest metrics for every key but MLflow's
    system metrics. On sqlite a sequential scan (`NOT INDEXED`) beats the (key, run_uuid)
    primary-key index by 3-4x here, since the wanted keys cover most runs; other databases'
    planners choose for themselves. The SQL holds only our constant key names, so it runs on
    the raw cursor: sqlalchemy's Row objects cost more than the query itself on 10,000 runs.
    Experiments are filtered in Python.
    """
    engine = _engine(uri)
    scan = " NOT INDEXED" if engine.dialect.name == "sqlite" else ""
    q_runs = ("SELECT r.run_uuid, e.name, r.name, r.status, r.start_time, r.end_time "
              "FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
              "WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'")
    likes = "".join(f" OR key LIKE {_sql_list([p])}" for p in _TAG_LIKES)
    q_tags = (f"SELECT run_uuid, key, value FROM tags{scan} "
              f"WHERE key IN ({_sql_list(TAGS)}){likes}")
    q_metrics = (f"SELECT run_uuid, key, value, is_nan FROM latest_metrics{scan} "
                 f"WHERE key NOT LIKE '{s.SYSTEM_METRICS_PREFIX}%'")
    wanted = set(experiments) if experiments else None
    with _reading(uri, engine) as conn:
        cur = conn.connection.cursor()

        def rows_of(sql: str) -> list[tuple]:
            cur.execute(sql)
            return cur.fetchall()

        active = {r[0]: RunRow(r[0], r[1], r[2] or "", r[3], r[4], r[5])
                  for r in rows_of(q_runs) if wanted is None or r[1] in wanted}
        for run_id, key, value in rows_of(q_tags):
            if run_id in active and _tag(key):
                active[run_id].tags[key] = value
        rows = {i: r for i, r in active.items() if r.tags.get(s.KIND) in REPORTED_KINDS}
        for run_id, key, value, is_nan in rows_of(q_metrics):
            row = rows.get(run_id)
            if row is not None and not is_nan and _kept(row, key):
                row.metrics[key] = stored(value)
        cur.close()
    return Snapshot(_ordered(rows.values()))


def history_sql(uri: str, wanted: dict[str, list[str]]) -> Histories:
    """One query for the wanted keys (metric names are the experiment's, so they are bound
    parameters, never SQL text), kept for the runs that want them."""
    import sqlalchemy

    keys = sorted({k for ks in wanted.values() for k in ks})
    query = sqlalchemy.text("SELECT run_uuid, key, step, value, is_nan FROM metrics "
                            "WHERE key IN :keys ORDER BY run_uuid, key, step, timestamp, value"
                            ).bindparams(sqlalchemy.bindparam("keys", expanding=True))
    out: Histories = {}
    engine = _engine(uri)
    with _reading(uri, engine) as conn:
        for run_id, key, step, value, is_nan in conn.execute(query, {"keys": keys}):
            if key in wanted.get(run_id, ()) and not is_nan:
                out.setdefault(run_id, {}).setdefault(key, []).append(
                    (int(step), stored(value)))
    return out


@contextmanager
def _reading(uri: str, engine):
    """A connection of `engine`, disposed after; a database that is not an MLflow store is
    the user's bad input, said in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            yield conn
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
        raise BadInput(f"tracking store {uri!r} cannot be read as an MLflow store: "
                       f"{str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


# ---------------------------------------------------------------- REST path

def fetch_rest(client, experiments: list[str] | None) -> Snapshot:
    exps = {e.experiment_id: e.name for e in query.experiments(client)}
    if experiments:
        exps = {i: n for i, n in exps.items() if n in experiments}
    rows: list[RunRow] = []
    if not exps:
        return Snapshot(rows)
    for kind in REPORTED_KINDS:
        for run in query.runs(client, f"tags.`{s.KIND}` = '{kind}'", list(exps)):
            info, data = run.info, run.data
            row = RunRow(info.run_id, exps[info.experiment_id], info.run_name or "",
                         info.status, info.start_time, info.end_time,
                         {k: v for k, v in data.tags.items() if _tag(k)})
            row.metrics = {k: stored(v) for k, v in data.metrics.items()
                           if _kept(row, k) and not math.isnan(v)}
            rows.append(row)
    return Snapshot(_ordered(rows))


def history_rest(client, wanted: dict[str, list[str]]) -> Histories:
    out: Histories = {}
    for run_id, keys in wanted.items():
        for key in keys:
            found = sorted(client.get_metric_history(run_id, key),
                           key=lambda m: (m.step, m.timestamp, m.value))
            out.setdefault(run_id, {})[key] = [(int(m.step), float(m.value)) for m in found
                                               if not math.isnan(m.value)]
    return out


def _ordered(rows: Iterable[RunRow]) -> list[RunRow]:
    """Both paths sort the same way, so reports are identical row for row; one row per
    `cogit.uid` (`_distinct`)."""
    return sorted(_distinct(rows), key=lambda r: (r.start_time or 0, r.run_id))


def _distinct(rows: Iterable[RunRow]) -> list[RunRow]:
    """One row per `cogit.uid`: a store written before exactly-once creates may hold a run
    twice (a create repeated after its lost reply), the copy RUNNING with its first tags only.
    The row with most data is kept, and a phase whose parent is a dropped copy is given the
    kept campaign as its parent, so none of its phases is lost."""
    rows = list(rows)
    kept, replaced = once.distinct(
        rows, lambda r: r.tags.get(s.UID),
        lambda r: once.richness(r.status, len(r.metrics) + len(r.tags), r.start_time))
    if replaced:
        moved = {r.run_id: replaced[id(r)].run_id for r in rows if id(r) in replaced}
        for row in kept:
            parent = row.tags.get(s.PARENT_RUN)
            if parent in moved:
                row.tags[s.PARENT_RUN] = moved[parent]
        once.note_duplicates(len(replaced), "runs in the report")
    return kept
