"""Decision numbers that stay unique and consecutive with many writers on one store.

SQL stores (sqlite, PostgreSQL, MySQL): a table `cogit_decision_numbers` in the tracking
database itself, `number` its primary key. A writer reserves the lowest free number in a short
transaction (a unique-key clash means another writer won: try again), creates the run, then
confirms the row with the run id. A failed `new` deletes its reservation, and because the next
writer takes the lowest free number, a released number is handed out again instead of leaving
a gap. A reservation left behind by a killed process is reclaimed after `STALE_S` seconds.

HTTP stores (`mlflow server`) expose no database. If `COGIT_DECISION_NUMBERS_URI` names the
server's backend database the table is used there; otherwise a number is claimed by creating
an experiment named after it, which the server's unique constraint on experiment names makes
atomic (see `ExperimentNumbers`).
"""
from __future__ import annotations

import functools
import os
import time
import uuid
from typing import Protocol

from ..store import query
from ..store.uri import scheme

TABLE = "cogit_decision_numbers"
STALE_S = 600.0
NUMBERS_URI_ENV = "COGIT_DECISION_NUMBERS_URI"
#: on an HTTP store's claim experiment: the key of the writer that claimed it
CLAIM_TAG = "cogit.decision.claim"
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


class Taken(Exception):
    """The number asked for belongs to another decision."""


class Numbers(Protocol):
    def reserve(self, wanted: int | None = None) -> int: ...
    def confirm(self, number: int, run_id: str) -> None: ...
    def release(self, number: int) -> None: ...


def numbers_for(uri: str, existing, client) -> Numbers:
    """The allocator for a tracking URI; `existing()` yields (number, run_id) of the decision
    runs already in the store, so that numbers given before the allocator existed are kept."""
    if scheme(uri) in SQL_SCHEMES:
        return SqlNumbers(uri, existing)
    if os.environ.get(NUMBERS_URI_ENV):
        return SqlNumbers(os.environ[NUMBERS_URI_ENV], existing)
    return ExperimentNumbers(client, existing)


@functools.lru_cache(maxsize=None)
def _engine(db_uri: str):
    """One engine (and connection pool) per database and process, however many commands run."""
    import sqlalchemy as sa

    if not db_uri.startswith("sqlite"):
        return sa.create_engine(db_uri, pool_size=1, max_overflow=2)
    engine = sa.create_engine(db_uri, connect_args={"timeout": 60})

    # sqlite: take the write lock at BEGIN, so that two writers that both read first
    # cannot deadlock when they upgrade to writing.
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SqlNumbers:
    def __init__(self, db_uri: str, existing):
        import sqlalchemy as sa

        self.sa = sa
        self.engine = _engine(db_uri)
        self.table = sa.Table(
            TABLE, sa.MetaData(),
            sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("run_id", sa.String(32), nullable=True),
            sa.Column("reserved_at", sa.Float, nullable=False),
        )
        self._ensure_table(existing)

    def _ensure_table(self, existing) -> None:
        if self.sa.inspect(self.engine).has_table(TABLE):
            return
        try:
            self.table.create(self.engine)
        except self.sa.exc.DatabaseError:
            if not self.sa.inspect(self.engine).has_table(TABLE):
                raise
            return  # another writer created it at the same moment; it seeds it too
        for number, run_id in existing():   # decision runs made before the table existed
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert().values(
                        number=number, run_id=run_id, reserved_at=time.time()))
            except self.sa.exc.IntegrityError:
                pass

    def reserve(self, wanted: int | None = None) -> int:
        sa, t = self.sa, self.table
        for _ in range(200):
            try:
                with self.engine.begin() as conn:
                    conn.execute(t.delete().where(t.c.run_id.is_(None),
                                                  t.c.reserved_at < time.time() - STALE_S))
                    number = wanted if wanted is not None else _lowest_free(conn, t, sa)
                    conn.execute(t.insert().values(number=number, run_id=None,
                                                   reserved_at=time.time()))
                return number
            except sa.exc.IntegrityError:
                if wanted is not None:
                    raise Taken(wanted) from None
            except sa.exc.OperationalError as exc:   # sqlite busy past its timeout
                if "locked" not in str(exc):
                    raise
            time.sleep(0.005)
        raise RuntimeError(f"could not reserve a decision number in {TABLE} after 200 tries")

    def confirm(self, number: int, run_id: str) -> None:
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(t.update().where(t.c.number == number).values(run_id=run_id))

    def release(self, number: int) -> None:
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.number == number, t.c.run_id.is_(None)))


def _lowest_free(conn, t, sa) -> int:
    """1 if free, else the smallest n+1 not in the table: released numbers are reused."""
    if conn.execute(sa.select(t.c.number).where(t.c.number == 1)).first() is None:
        return 1
    b = t.alias("b")
    gap = sa.select(sa.func.min(t.c.number + 1)).where(
        ~sa.exists().where(b.c.number == t.c.number + 1))
    return int(conn.execute(gap).scalar())


class ExperimentNumbers:
    """HTTP stores: a number is claimed by creating the experiment `captains-log/number/NNNN`.

    The server keeps experiment names unique, deleted ones included, so creating one is an
    atomic claim. The claim is deleted at once to keep it out of the UI (its name stays
    taken). Releasing renames it away, which frees the name for the next writer.
    """

    PREFIX = "captains-log/number/"

    def __init__(self, client, existing):
        self.client, self.existing = client, existing

    def _name(self, number: int) -> str:
        return f"{self.PREFIX}{number:04d}"

    def _claimed(self) -> set[int]:
        names = [e.name[len(self.PREFIX):] for e in query.experiments(
            self.client, deleted=True, filter_string=f"name LIKE '{self.PREFIX}%'")]
        return {int(n) for n in names if n.isdigit()}

    def _claim(self, number: int) -> bool:
        """Create the number's experiment, tagged with a key of this claim's own, so that a
        create whose reply was lost (and MLflow's own retry of it, which the server refuses as
        a name already taken) is recognised as ours by the key, not taken for another's."""
        from mlflow.exceptions import MlflowException

        from ..store import once

        key = uuid.uuid4().hex
        name = self._name(number)
        exp_id = None
        for attempt in range(once.TRIES):
            try:
                exp_id = self.client.create_experiment(name, tags={CLAIM_TAG: key})
                break
            except Exception as exc:
                taken = isinstance(exc, MlflowException) and \
                    exc.error_code == "RESOURCE_ALREADY_EXISTS"
                if not taken and once.definite(exc):
                    raise
                try:
                    exp = self.client.get_experiment_by_name(name)
                except Exception:  # noqa: BLE001 - still away: try again, then say why
                    exp = None
                    if attempt == once.TRIES - 1:
                        raise exc from None
                if exp is not None:
                    if exp.tags.get(CLAIM_TAG) != key:
                        return False          # another writer's claim
                    exp_id = exp.experiment_id
                    break
                if taken or attempt == once.TRIES - 1:
                    raise
                time.sleep(once.PAUSE_S[min(attempt, len(once.PAUSE_S) - 1)])
        try:
            self.client.delete_experiment(exp_id)
        except MlflowException:
            # a delete whose reply was lost, repeated: the claim is deleted all the same
            if self.client.get_experiment(exp_id).lifecycle_stage != "deleted":
                raise
        return True

    def reserve(self, wanted: int | None = None) -> int:
        if wanted is not None:
            if not self._claim(wanted):
                raise Taken(wanted)
            return wanted
        for _ in range(200):
            used = self._claimed() | {n for n, _ in self.existing()}
            number = next(n for n in range(1, len(used) + 2) if n not in used)
            if self._claim(number):
                return number
        raise RuntimeError("could not claim a decision number after 200 tries")

    def confirm(self, number: int, run_id: str) -> None:
        """The claim needs no confirmation: the run carries its number in its tags."""

    def release(self, number: int) -> None:
        exp = self.client.get_experiment_by_name(self._name(number))
        if exp is None:
            return
        self.client.restore_experiment(exp.experiment_id)
        self.client.rename_experiment(exp.experiment_id,
                                      f"{self.PREFIX}released/{uuid.uuid4().hex}")
        self.client.delete_experiment(exp.experiment_id)
