"""Whether a SQL store's tables are the ones this MLflow makes, and if not, what to do.

MLflow refuses a database whose schema revision is not its own with a paragraph naming
`<database_uri>`; every MLflow release that adds a migration (3.18 adds three) makes every
existing store such a database until someone runs `mlflow db upgrade`. Our one line says which
way it is off (a store made by an older MLflow is upgraded; one made by a newer MLflow is not
something this one can read) and the exact command for this store, with every writer stopped
first, since MLflow's migrations are not guaranteed to be transactional.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import StoreFailure
from ..redaction import redact

#: MLflow's own words (mlflow/store/db/utils.py `_verify_schema`, 3.17 and 3.18)
MLFLOW_SAYS = re.compile(r"out-of-date database schema \(found version (\w+), "
                         r"but expected (\w+)\)")


class OtherSchema(StoreFailure):
    """A SQL store whose tables another MLflow made; the message is the whole advice line.
    Raised before MLflow opens it: MLflow 3.18 would otherwise migrate a 3.17 store on the
    spot from any client that opens it (it adds tables), a reading command or a pod included,
    under a server and other writers still on the old schema."""

    def __init__(self, line: str, found: str):
        super().__init__(line)
        self.found = found


def head() -> str | None:
    """The revision this MLflow's migrations end at (None if MLflow cannot say)."""
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision
        return _get_latest_schema_revision()
    except Exception:  # noqa: BLE001 - no answer means no check, MLflow still checks itself
        return None


def known(revision: str) -> bool:
    """Whether `revision` is one of this MLflow's migrations (else a newer MLflow made it)."""
    import mlflow.store.db_migrations as migrations

    return any((Path(migrations.__file__).parent / "versions").glob(f"{revision}_*.py"))


def refuse_other(uri: str, found: str | None, what: str = "tracking store") -> None:
    """OtherSchema if the store's tables, at revision `found` (`uri.revision`; None: none
    yet), are not at this MLflow's revision; else nothing."""
    expected = head() if found else None
    if found and expected and found != expected:
        raise OtherSchema(f"{what} {redact(uri)} {advice(uri, found)}", found)


def advice(uri: str, found: str) -> str:
    """What to say of a store at revision `found` that this MLflow does not open (the
    caller names the store first)."""
    import mlflow

    if known(found):
        return (f"was made by an older MLflow (schema {found}); MLflow {mlflow.__version__} "
                "reads it after an upgrade: back it up, stop every process writing to it, then "
                f"run `mlflow db upgrade {redact(uri)}`")
    return (f"has schema {found}, which MLflow {mlflow.__version__} does not know: a newer "
            "MLflow made it (open it with that MLflow, or through a server that runs it), or "
            "it is another application's database")


def explain(exc: BaseException, uri: str) -> str | None:
    """`the store <advice>` if `exc` is a refused schema (ours or MLflow's), else None."""
    if isinstance(exc, OtherSchema):
        return f"the store {advice(uri, exc.found)}"
    said = MLFLOW_SAYS.search(str(exc))
    return f"the store {advice(uri, said.group(1))}" if said else None
