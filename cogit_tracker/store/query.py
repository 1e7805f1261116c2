"""Searching a store: the one paginating search, and the one way a value enters a filter.

MLflow's `search_runs` and `search_experiments` answer one page (at most 1,000 entries) and a
token for the next; every search in cogit goes through `runs()` or `experiments()`, which
follow the tokens, so none can silently stop at the first page.

Values typed by a user (a campaign label, a uid) enter a filter string only through
`literal()`. MLflow's filter parser strips the quotes around a value but unescapes nothing, so
a label with a single quote is written in double quotes; a value that no quoting can carry
(both kinds of quote, or a backslash) is matched loosely with LIKE and then exactly here.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Mapping

from .. import schema

PAGE = 1000  # the most MLflow returns per request


def stored(value: float) -> float:
    """A metric as it was logged: MLflow's SQL store keeps +-inf as +-1.7976931348623157e308
    (the largest float), which a report would print as a 309-digit number."""
    value = float(value)
    return math.copysign(math.inf, value) if abs(value) >= sys.float_info.max else value


def pages(fetch: Callable[[str | None], list]) -> Iterator:
    """Every item of a paged MLflow search; `fetch(token)` returns one page with `.token`."""
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def experiments(client, deleted: bool = False, filter_string: str | None = None) -> list:
    """Every experiment of the store (active ones unless `deleted`)."""
    from mlflow.entities import ViewType

    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    return list(pages(lambda token: client.search_experiments(
        view_type=view, max_results=PAGE, filter_string=filter_string, page_token=token)))


def literal(value: str) -> str | None:
    """`value` as a filter-string literal that MLflow reads back unchanged, or None when no
    quoting can carry it (both quote kinds, or a backslash, which the parser treats as an
    escape without removing it)."""
    if "\\" in value:
        return None
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def tag_equals(tag: str, value: str) -> tuple[str, bool]:
    """A clause selecting runs whose `tag` is `value`, and whether it is exact; a loose one
    (LIKE with `_` for every character no literal can carry) must be checked run by run."""
    exact = literal(value)
    if exact is not None:
        return f"tags.`{tag}` = {exact}", True
    pattern = "".join("_" if ch in "'\"\\" else ch for ch in value)
    return f"tags.`{tag}` LIKE '{pattern}'", False


def runs(client, where: str = "", experiment_ids: list[str] | None = None,
         tags: Mapping[str, str] | None = None, order_by: list[str] | None = None,
         deleted: bool = False, limit: int | None = None) -> list:
    """Every run matching `where` (our own constant clauses) and `tags` (values the user
    gave: quoted here), in `experiment_ids` or every experiment, up to `limit` runs."""
    from mlflow.entities import ViewType

    ids = experiment_ids if experiment_ids is not None else \
        [e.experiment_id for e in experiments(client)]
    if not ids:
        return []
    clauses = [where] if where else []
    loose: dict[str, str] = {}
    for tag, value in (tags or {}).items():
        clause, exact = tag_equals(tag, value)
        clauses.append(clause)
        if not exact:
            loose[tag] = value
    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    found = []
    for run in pages(lambda token: client.search_runs(
            ids, " and ".join(clauses), view, max_results=min(PAGE, limit or PAGE),
            order_by=order_by, page_token=token)):
        if all(run.data.tags.get(t) == v for t, v in loose.items()):
            found.append(run)
            if limit is not None and len(found) >= limit:
                break
    return found


def find(client, uid: str, experiment_ids: list[str] | None = None):
    """The run carrying this `cogit.uid`, or None."""
    hits = runs(client, experiment_ids=experiment_ids, tags={schema.UID: uid}, limit=1)
    return hits[0] if hits else None


def campaigns(client, label: str, experiment_ids: list[str] | None = None) -> list:
    """Campaign runs with this label, newest first."""
    return runs(client, f"tags.`{schema.KIND}` = 'campaign'", experiment_ids,
                tags={schema.CAMPAIGN: label}, order_by=["attributes.start_time DESC"])


def children(client, parent) -> list:
    """The runs whose parent is `parent` (a campaign's phases), newest first."""
    return runs(client, experiment_ids=[parent.info.experiment_id],
                tags={schema.PARENT_RUN: parent.info.run_id},
                order_by=["attributes.start_time DESC"])
