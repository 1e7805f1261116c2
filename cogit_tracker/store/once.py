"""Creating a run exactly once, and showing one run per uid when a store holds two.

A CreateRun whose reply is lost (the server made the run, the client never heard) is the one
write that is not safe to repeat: sent again, it makes a second run. Two layers repeat it:

- MLflow's HTTP layer (3.17, `mlflow/utils/request_utils.py`): its urllib3 `Retry` has
  `allowed_methods=None`, so a POST whose connection broke after it was sent (read errors) or
  that got a 5xx is sent again, silently, up to `MLFLOW_HTTP_REQUEST_MAX_RETRIES` times; 3.18
  retries CreateRun only on a connection error, 408 or 429.
- ours: the writer replays an op that failed, and a spool replays everything.

So `create_run` sends CreateRun to an HTTP store itself, through MLflow's own `http_request`
(its credentials, headers and TLS settings) but with no HTTP-level retry, and handles every
failure that may have reached the server (a broken connection, a timeout, a 5xx, 408, 429)
by looking the run up by its `cogit.uid` (written with the create, in the same request)
before creating again. A refusal (any other 4xx) is final. SQL stores create in one
transaction and get the same look-up after a failure. A run the look-up finds is the one this
writer made: a uid is never shared by two writers.

Stores written before this (or by another version) may hold two runs with one uid, one of them
RUNNING forever. `distinct` keeps one of each for every listing (`runs list`, `report`,
`decision list`): the one with most data, the earliest on a tie, and `note_duplicates` says so
once per process on stderr.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from .. import schema
from . import query

#: how many times one create is tried (looking the uid up before each retry), and the pause
TRIES = 4
PAUSE_S = (0.2, 0.5, 1.0)
#: HTTP statuses that say nothing about whether the run was made
AMBIGUOUS = frozenset({408, 429, 500, 502, 503, 504})

T = TypeVar("T")


def _rest_store(client):
    from mlflow.store.tracking.rest_store import RestStore

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    return store if isinstance(store, RestStore) else None


def _create_once_over_http(store, experiment_id: str, start_time: int, tags: dict,
                           run_name: str | None):
    """RestStore.create_run, but sent once: no HTTP-level retry of any kind."""
    from mlflow.entities import Run, RunTag
    from mlflow.protos.service_pb2 import CreateRun
    from mlflow.utils.proto_json_utils import message_to_json, parse_dict
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    endpoint, method = store._METHOD_TO_INFO[CreateRun]
    body = message_to_json(CreateRun(
        experiment_id=str(experiment_id), user_id=tags.get("mlflow.user", "unknown"),
        start_time=start_time, tags=[RunTag(k, str(v)).to_proto() for k, v in tags.items()],
        run_name=run_name))
    response = http_request(store.get_host_creds(), endpoint, method, max_retries=0,
                            retry_codes=frozenset(), json=json.loads(body))
    response = verify_rest_response(response, endpoint)
    proto = CreateRun.Response()
    parse_dict(js_dict=json.loads(response.text), message=proto)
    return Run.from_proto(proto.run)


def definite(exc: BaseException) -> bool:
    """Whether `exc` is the store's refusal, so that nothing was made: an MLflow error with a
    4xx status other than 408/429. Everything else (a broken connection, a timeout, a 5xx)
    may have reached the server and made the run."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        code = exc.get_http_status_code()
        return 400 <= code < 500 and code not in AMBIGUOUS
    return False


def create_run(client, experiment_id: str, uid: str, tags: dict, start_time: int | None = None,
               run_name: str | None = None, sleep: Callable[[float], None] = time.sleep):
    """The run carrying `cogit.uid` = `uid` in `experiment_id`, made at most once whatever
    is lost on the way; the uid goes into `tags` (it is how a retry finds the run)."""
    tags = dict(tags)
    if tags.setdefault(schema.UID, uid) != uid:
        raise ValueError(f"create_run: tags carry {schema.UID}={tags[schema.UID]}, not {uid}")
    start_time = start_time or int(time.time() * 1000)
    rest = _rest_store(client)
    last: BaseException | None = None
    for attempt in range(TRIES):
        if attempt:
            sleep(PAUSE_S[min(attempt - 1, len(PAUSE_S) - 1)])
            if _away(client):
                break     # not even a TCP connect: the caller keeps the op (and looks first)
            try:
                found = query.find(client, uid, [experiment_id])
            except Exception as exc:  # noqa: BLE001 - the store is still away: try again
                last = exc
                continue
            if found is not None:
                return found
        try:
            if rest is not None:
                run = _create_once_over_http(rest, experiment_id, start_time, tags, run_name)
            else:
                run = client.create_run(experiment_id, start_time=start_time, tags=tags,
                                        run_name=run_name)
        except Exception as exc:
            if definite(exc):
                raise
            last = exc
            continue
        if attempt:
            _drop_others(client, experiment_id, uid, run.info.run_id)
        return run
    # one last look: the last try may have been made and its reply lost
    try:
        found = None if _away(client) else query.find(client, uid, [experiment_id])
    except Exception:  # noqa: BLE001 - report the create's own failure
        found = None
    if found is not None:
        return found
    assert last is not None
    raise last


def _away(client) -> bool:
    """Whether the store's host takes no connection now (one TCP connect, no MLflow retries:
    a look-up through MLflow would wait out its own retries on a store that is down)."""
    from . import uri as store_uri

    uri = getattr(getattr(client, "_tracking_client", None), "tracking_uri", None)
    return bool(uri) and store_uri.answers(uri) is not None


def _drop_others(client, experiment_id: str, uid: str, keep: str) -> None:
    """After a retried create: a run an earlier try made after all (its request still in the
    server when the look-up ran) is marked deleted, so the uid names one run."""
    try:
        for run in query.runs(client, experiment_ids=[experiment_id], tags={schema.UID: uid}):
            if run.info.run_id != keep:
                client.delete_run(run.info.run_id)
    except Exception:  # noqa: BLE001 - listings show one of each anyway (`distinct`)
        pass


# ---------------------------------------------------------------- reading

def richness(status: str, n_data: int, start_time: int | None) -> tuple:
    """How to choose among runs sharing a uid: ended before RUNNING, more data, earliest."""
    return (status != "RUNNING", n_data, -(start_time or 0))


def distinct(items: Iterable[T], key: Callable[[T], str | None],
             score: Callable[[T], tuple]) -> tuple[list[T], dict[int, T]]:
    """`items` with one per `key` (the best by `score`); items without a key are all kept.
    Also returns, for each dropped item (by id), the item kept in its place. Order is kept."""
    items = list(items)
    best: dict[str, T] = {}
    for item in items:
        k = key(item)
        if k is None:
            continue
        if k not in best or score(item) > score(best[k]):
            best[k] = item
    kept, replaced = [], {}
    for item in items:
        k = key(item)
        if k is None or best[k] is item:
            kept.append(item)
        else:
            replaced[id(item)] = best[k]
    return kept, replaced


def distinct_runs(runs: Iterable, key: Callable | None = None, what: str = "runs") -> list:
    """MLflow runs, one per `cogit.uid` (or `key`), saying once when some were left out."""
    runs = list(runs)
    kept, replaced = distinct(
        runs, key or (lambda r: r.data.tags.get(schema.UID)),
        lambda r: richness(r.info.status,
                           len(r.data.metrics) + len(r.data.params) + len(r.data.tags),
                           r.info.start_time))
    note_duplicates(len(replaced), what)
    return kept


_said: set[str] = set()


def note_duplicates(count: int, what: str = "runs") -> None:
    """One line on stderr, once per process and kind of listing, when a listing left
    duplicates out."""
    if count and what not in _said:
        _said.add(what)
        print(f"cogit: note: {count} duplicate {what} left out (two runs sharing one "
              f"{'decision number' if what == 'decisions' else 'cogit.uid'}: a create repeated "
              "after its reply was lost, by a version before exactly-once creates); each is "
              "shown once", file=sys.stderr)
