"""Decision numbers under concurrent writers: 8 processes x 25 `decision new --no-input`
must end with 200 distinct numbers and no gaps, on sqlite and on PostgreSQL."""
from __future__ import annotations

import sys

import pytest
from conftest import REPO

if str(REPO) not in sys.path:          # bench/ is not installed; `pytest` alone may lack it
    sys.path.insert(0, str(REPO))
from bench.decision_numbers import numbers, run_writers  # noqa: E402
from support.decision_runs import own_server  # noqa: F401  (a fixture)

PROCESSES, EACH = 8, 25


def _check(uri: str) -> float:
    import sqlalchemy as sa

    seconds = run_writers(uri, PROCESSES, EACH)
    assert numbers(uri) == list(range(1, PROCESSES * EACH + 1))
    engine = sa.create_engine(uri)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*), count(run_id) FROM "
                                    "cogit_decision_numbers").one()
    engine.dispose()
    assert tuple(rows) == (PROCESSES * EACH, PROCESSES * EACH)   # every number confirmed
    return seconds


@pytest.mark.slow
def test_concurrent_writers_sqlite(store):
    seconds = _check(store)
    print(f"sqlite: {PROCESSES}x{EACH} decisions in {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_writers_postgres(pg_uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seconds = _check(pg_uri)
    print(f"postgresql: {PROCESSES}x{EACH} decisions in {seconds:.1f} s")


@pytest.mark.slow
def test_http_store_claims_numbers_by_experiment_name(own_server, tmp_path, monkeypatch):
    """No database behind an HTTP store: numbers are claimed through unique experiment names,
    and a failed `new` releases its claim (fault injected at the artifact-writing seam)."""
    from cogit_tracker.decisions.model import Decision
    from cogit_tracker.decisions.store import DecisionLog

    monkeypatch.chdir(tmp_path)
    run_writers(own_server, 3, 4)
    assert numbers(own_server) == list(range(1, 13))
    log = DecisionLog(own_server)

    def boom(run_id, d):
        raise OSError("disk full")

    with monkeypatch.context() as patch, pytest.raises(OSError):
        patch.setattr(log, "_artifacts", boom)
        log.create(Decision(title="doomed"))
    assert log.create(Decision(title="after")).number == 13
    assert numbers(own_server) == list(range(1, 14))
