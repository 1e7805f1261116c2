"""Decision numbers that stay unique and consecutive with many writers on one store.

SQL stores (sqlite, PostgreSQL, MySQL): a table `cogit_decision_numbers` in the tracking
database itself, `number` its primary key. A writer reserves the lowest free number in a short
transaction (a unique-key clash means another writer won: try again), creates the run, then
confirms the row with the run id. A failed `new` deletes its reservation, and because the next
writer takes the lowest free number, a released number is handed out again instead of leaving
a gap. A reservation left behind by a killed process is reclaimed after `STALE_S` seconds.

HTTP stores (`mlflow server`) expose no database. If `COGIT_DECISION_NUMBERS_URI` names the
server's backend database the table is used there; otherwise numbers are claimed
optimistically: the run is created with the next number, then every run carrying that number
is listed and only the oldest (start time, then run id) keeps it; the others delete their run
and try the next one. That is sound as long as writers' clocks agree to within the time it
takes to create a run, which is why the database route is preferred.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Protocol

TABLE = "cogit_decision_numbers"
STALE_S = 600.0
NUMBERS_URI_ENV = "COGIT_DECISION_NUMBERS_URI"
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


class Taken(Exception):
    """The number asked for belongs to another decision."""


class Lost(Exception):
    """Another writer claimed the same number first; try again with a fresh one."""


class Numbers(Protocol):
    def reserve(self, wanted: int | None = None) -> int: ...
    def confirm(self, number: int, run_id: str) -> None: ...
    def release(self, number: int) -> None: ...


def numbers_for(uri: str, existing, claims) -> Numbers:
    """The allocator for a tracking URI.

    `existing()` yields (number, run_id) of the decision runs in the store; `claims(n)` lists
    the run ids carrying number n, oldest first (used only without database access).
    """
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in SQL_SCHEMES:
        return SqlNumbers(uri, existing)
    if os.environ.get(NUMBERS_URI_ENV):
        return SqlNumbers(os.environ[NUMBERS_URI_ENV], existing)
    return OptimisticNumbers(existing, claims)


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


class OptimisticNumbers:
    """For HTTP stores without database access (see the module docstring)."""

    def __init__(self, existing, claims):
        self.existing, self.claims = existing, claims

    def reserve(self, wanted: int | None = None) -> int:
        if wanted is not None:
            if any(n == wanted for n, _ in self.existing()):
                raise Taken(wanted)
            return wanted
        used = {n for n, _ in self.existing()}
        return next(n for n in range(1, len(used) + 2) if n not in used)

    def confirm(self, number: int, run_id: str) -> None:
        claims = self.claims(number)
        if claims and claims[0] != run_id:
            raise Lost(number)

    def release(self, number: int) -> None:
        """Nothing to undo: the number lives only on the run, which the caller deletes."""
