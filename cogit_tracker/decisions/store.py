"""Decisions as MLflow runs in experiment `captains-log`, linked both ways by `cogit.uid`.

Each decision is one run named "Decision #002: Title": the DESIGN.md tags for querying, the
markdown as the run description (so `mlflow ui` shows it), and `decision.json` (the source of
truth for the record) plus `decision.md` as artifacts. Status and links, which change after
creation, live in tags and are copied back into the artifacts on every change.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from mlflow.exceptions import MlflowException

from .. import schema as S
from ..errors import BadInput, Failure, Unknown
from ..runtime.provenance import run_context_tags
from ..store import once, query
from ..store.artifacts import ArtifactReader, client_reader, quiet_mlflow
from ..store.ops import ensure_experiment
from ..store.uri import tracking_uri
from .markdown import render
from .model import Decision, check_role, validate
from .numbers import numbers_for
from .verify import Outcome, RunView, evaluate, parse_criterion, verdict

NOTE_LIMIT = S.MAX_TAG_VALUE - 100   # room for the truncation notice
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Entry:
    """One line of `decision list`: what the tags alone say, no artifact download."""

    number: int
    title: str
    date: str
    status: str
    links: int
    verification: str
    run_id: str


@dataclass
class LinkedRun:
    """A run a decision points at, flattened for tables and criteria."""

    role: str
    uid: str
    run_id: str
    kind: str
    campaign: str
    phase: str
    gpu: str
    precision: str
    status: str
    metrics: dict[str, float]
    tags: dict[str, str]
    experiment_id: str = ""
    phases: list["LinkedRun"] = field(default_factory=list)

    def view(self) -> RunView:
        return RunView(self.tags, self.metrics, self.status, [p.view() for p in self.phases])


@dataclass
class Claim:
    """A run a link does not count, and why: another run carrying the linked uid (`planted`;
    `ambiguous` for a link made before pins), or a pinned run that is gone, changed or not
    readable here. `link_experiment` is where the link points ("" when unknown): a reader of
    the pages sees a claim only about a link they may see."""

    uid: str
    role: str
    what: str            # planted | ambiguous | unreadable | changed | deleted | missing
    run_id: str = ""     # the run it is about
    experiment_id: str = ""
    experiment: str = ""   # that experiment's name
    link_experiment: str = ""
    counted_run_id: str = ""   # the run the link counts instead, if any
    hidden: bool = False       # the run is in an experiment this reader may not read

    @property
    def line(self) -> str:
        where = "a run in an experiment you may not read" if self.hidden else \
            f"run {self.run_id} in experiment {self.experiment or self.experiment_id!r}"
        link = f"{self.role} link {self.uid}"
        if self.what == "planted":
            return (f"{where} also claims cogit.uid {self.uid}; the {self.role} link is pinned "
                    f"to run {self.counted_run_id or '(unreadable)'}: not counted")
        if self.what == "ambiguous":
            return (f"{where} carries cogit.uid {self.uid} of an unpinned {self.role} link that "
                    "other runs carry too: none counted; pin it with `cogit-log decision link "
                    "NUMBER RUN_ID --role ROLE`")
        if self.what == "missing":
            return f"{link}: no run carries that cogit.uid: nothing counted"
        state = {"unreadable": "is not in this store or not readable here",
                 "changed": "no longer carries that cogit.uid in its pinned experiment",
                 "deleted": "is deleted"}[self.what]
        return f"{link}: its pinned run {self.run_id} {state}: not counted"


@dataclass
class Evidence:
    runs: list[LinkedRun]
    claims: list[Claim]
    new_pins: dict[str, str]   # unpinned links -> the pin of the one run carrying their uid


def pin_of(run) -> str:
    """A link's pin: where the run it was resolved to sits, by the store's own ids."""
    return f"{run.info.experiment_id}/{run.info.run_id}"


@dataclass
class Verification:
    decision: Decision
    results: list[tuple[object, Outcome]]     # (Criterion, Outcome)
    status: str                               # status after verifying
    changed: bool
    claims: list["Claim"] = field(default_factory=list)   # runs not counted, and why
    pinned: list[str] = field(default_factory=list)       # uids of links pinned by this verify

    @property
    def summary(self) -> str:
        counts: dict[str, int] = {}
        for _, out in self.results:
            counts[out.state] = counts.get(out.state, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in counts.items()) or "no criteria"


class DecisionLog:
    """The Captain's Log on one tracking store."""

    def __init__(self, uri: str | None = None, mode: str = "write",
                 read_artifact: ArtifactReader | None = None):
        """`read_artifact` reads a run's `decision.json`; by default through the client (the
        `cogit` web app, inside the server, reads the server's artifact store itself)."""
        self.uri = tracking_uri(uri, mode)
        self._read_artifact = read_artifact

    @cached_property
    def client(self):
        """Made on first use, so that a record refused by its checks opens no store (and
        so makes no new one)."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    @cached_property
    def read_artifact(self) -> ArtifactReader:
        return self._read_artifact or client_reader(self.client)

    # ------------------------------------------------------------ lookup

    @cached_property
    def experiment_id(self) -> str:
        return ensure_experiment(self.client, S.DECISION_EXPERIMENT)

    @cached_property
    def numbers(self):
        return numbers_for(self.uri, self._existing, self.client)

    def _decision_runs(self, tags: dict[str, str] | None = None) -> list:
        exp = self.client.get_experiment_by_name(S.DECISION_EXPERIMENT)  # reads create nothing
        if exp is None:
            return []
        runs = query.runs(self.client, f"tags.`{S.KIND}` = 'decision'", [exp.experiment_id],
                          tags=tags)
        # a store written before exactly-once creates may hold one decision twice: one shown
        return once.distinct_runs(runs, lambda r: r.data.tags.get(S.DECISION_NUMBER),
                                  what="decisions")

    def _existing(self):
        return [(int(r.data.tags[S.DECISION_NUMBER]), r.info.run_id)
                for r in self._decision_runs() if r.data.tags.get(S.DECISION_NUMBER, "").isdigit()]

    def _run(self, number: int):
        runs = self._decision_runs({S.DECISION_NUMBER: f"{number:03d}"})
        if not runs:
            raise Unknown(f"decision #{number:03d}: no such decision in {self.uri} "
                          "(see `cogit-log decision list`)")
        return runs[0]

    def entries(self, experiment_ids: list[str] | None = None) -> list[Entry]:
        """Every decision's line; with `experiment_ids` (a reader of the pages), each counts
        only the links that reader may see, as its page shows them."""
        found = []
        for run in self._decision_runs():
            e = _entry(run)
            if experiment_ids is not None:
                e.links = len(self.evidence(self._links_of(run), experiment_ids,
                                            phases=False).runs)
            found.append(e)
        return sorted(found, key=lambda e: e.number)

    @staticmethod
    def _links_of(run) -> Decision:
        """A decision run's links and pins, from its tags alone (no artifact read)."""
        t = run.data.tags
        links = {k[len(S.LINK_PREFIX):]: v for k, v in t.items() if k.startswith(S.LINK_PREFIX)}
        return Decision(t.get(S.DECISION_TITLE, "?"), links=links,
                        pins={u: t[S.pin_tag(u)] for u in links if S.pin_tag(u) in t})

    def entry(self, number: int) -> Entry:
        """What the tags say of one decision (its last verification among them)."""
        return _entry(self._run(number))

    def supersede_chain(self, number: int) -> list[Entry]:
        """Every decision joined to `number` by `supersedes` links, either way and through
        others, oldest first: what it replaced and what replaced it (itself included)."""
        runs = {int(r.data.tags[S.DECISION_NUMBER]): r for r in self._decision_runs()}
        joined: dict[int, set[int]] = {n: set() for n in runs}
        for older, run in runs.items():   # the replaced decision's run names its replacement
            for newer, role in S.linked_decisions(run.data.tags).items():
                if role == "supersedes" and newer in joined:
                    joined[older].add(newer)
                    joined[newer].add(older)
        seen, todo = set(), [number]
        while todo:
            n = todo.pop()
            if n in joined and n not in seen:
                seen.add(n)
                todo += joined[n]
        return [_entry(runs[n]) for n in sorted(seen)]

    def load(self, number: int) -> Decision:
        run = self._run(number)
        return self._record(run)

    def _record(self, run) -> Decision:
        """The decision a run holds (its `decision.json`); `Failure` naming it when that
        record cannot be read."""
        number = run.data.tags.get(S.DECISION_NUMBER, "?")
        try:
            d = Decision.from_dict(json.loads(self.read_artifact(run, "decision.json")))
        except (MlflowException, OSError, ValueError, TypeError, KeyError,
                AttributeError) as exc:
            raise Failure(f"decision #{number}: its record (decision.json of run "
                          f"{run.info.run_id}) cannot be read ({type(exc).__name__}); import "
                          "its markdown again (`decision import --renumber`) to repair "
                          "it") from None
        tags = run.data.tags
        d.status = tags.get(S.DECISION_STATUS, d.status)
        d.links = {k[len(S.LINK_PREFIX):]: v for k, v in tags.items()
                   if k.startswith(S.LINK_PREFIX)}
        d.pins = {k[len(S.PIN_PREFIX):]: v for k, v in tags.items()
                  if k.startswith(S.PIN_PREFIX) and k[len(S.PIN_PREFIX):] in d.links}
        return d

    def all(self) -> tuple[list[Decision], list[str]]:
        """Every readable decision, by number, and a line for each that is not."""
        found, problems = [], []
        for run in self._decision_runs():
            try:
                found.append(self._record(run))
            except Failure as exc:
                problems.append(str(exc))
        return sorted(found, key=lambda d: d.number), problems

    def resolve(self, target: str, where: str = "--link"):
        """A run from its MLflow run id, its `cogit.uid`, or a campaign label."""
        if RUN_ID.match(target):
            try:
                return self.client.get_run(target)
            except MlflowException:
                pass
        for search in (lambda: query.runs(self.client, tags={S.UID: target}),
                       lambda: query.campaigns(self.client, target)):
            runs = search()
            if len(runs) == 1:
                return runs[0]
            if len(runs) > 1:
                raise BadInput(f"{where}: {target!r} names {len(runs)} runs; "
                               "give its cogit.uid or run id instead")
        raise BadInput(f"{where}: link target {target!r} is not a run id, cogit.uid or campaign "
                       f"label in {self.uri}")

    # ------------------------------------------------------------ writing

    def create(self, d: Decision, links: list[tuple[str, str]] = (),
               number: int | None = None) -> Decision:
        """Store a new decision under the next free number (or `number`, for imports).

        Everything that can be wrong with the input is checked before a number is reserved;
        if writing fails after that, the run and the link tags are removed and the number is
        released, so a failed `new` leaves nothing behind.
        """
        validate(d, lambda f: f"--{f}")
        targets = [(self.resolve(t), check_role(role)) for t, role in links]
        d.links = {self._uid(run): role for run, role in targets}
        d.pins = {run.data.tags[S.UID]: pin_of(run) for run, _ in targets}
        _ = self.experiment_id
        d.number = self.numbers.reserve(number)
        written: list[tuple[str, str]] = []
        run_id = None
        try:
            run_id = self._create_run(d)
            self._artifacts(run_id, d)
            with quiet_mlflow():
                self.client.set_terminated(run_id)
            for run, role in targets:
                self.client.set_tag(run.info.run_id, S.decision_tag(d.number), role)
                written.append((run.info.run_id, S.decision_tag(d.number)))
            self.numbers.confirm(d.number, run_id)
            return d
        except BaseException:
            self._undo(run_id, written)
            self.numbers.release(d.number)
            d.number = None
            raise

    def _uid(self, run) -> str:
        """The run's `cogit.uid`; a plain MLflow run gets one so that it can be linked."""
        uid = run.data.tags.get(S.UID)
        if not uid:
            uid = uuid.uuid4().hex
            self.client.set_tag(run.info.run_id, S.UID, uid)
            run.data.tags[S.UID] = uid
        return uid

    def _create_run(self, d: Decision) -> str:
        tags = {S.UID: uuid.uuid4().hex, S.KIND: "decision", **self._tags(d)}
        tags.update({S.link_tag(uid): role for uid, role in d.links.items()})
        tags.update({S.pin_tag(uid): pin for uid, pin in d.pins.items()})
        # sent once, the uid looked up after a lost reply: never a second run (`once.py`)
        return once.create_run(self.client, self.experiment_id, tags[S.UID],
                               run_context_tags(tags), run_name=d.heading).info.run_id

    def _tags(self, d: Decision) -> dict[str, str]:
        md = render(d)
        if len(md) > NOTE_LIMIT:
            md = md[:NOTE_LIMIT] + "\n\n… (truncated; the full record is decision.md)"
        tags = {S.DECISION_NUMBER: f"{d.number:03d}", S.DECISION_TITLE: d.title,
                S.DECISION_STATUS: d.status, S.DECISION_DATE: d.date, S.RUN_NOTE: md}
        if d.chosen:
            tags[S.DECISION_CHOSEN] = d.chosen
        return tags

    def _artifacts(self, run_id: str, d: Decision) -> None:
        self.client.log_dict(run_id, d.to_dict(), "decision.json")
        self.client.log_text(run_id, render(d), "decision.md")

    def _save(self, run_id: str, d: Decision, extra_tags: dict[str, str] | None = None) -> None:
        for key, value in {**self._tags(d), **(extra_tags or {})}.items():
            self.client.set_tag(run_id, key, value)
        self._artifacts(run_id, d)

    def _undo(self, run_id: str | None, written: list[tuple[str, str]]) -> None:
        for target, key in written:
            self.client.delete_tag(target, key)
        if run_id is None:
            return
        store = self.client._tracking_client.store
        # A SQL store can drop the row outright (what `mlflow gc` does); elsewhere the run is
        # marked deleted, which hides it from every search.
        if hasattr(store, "_hard_delete_run"):
            store._hard_delete_run(run_id)
        else:
            self.client.delete_run(run_id)

    def link(self, number: int, target: str, role: str) -> Decision:
        check_role(role)
        run = self._run(number)
        other = self.resolve(target, where="RUN")
        d = self._record(run)
        uid = self._uid(other)
        d.links[uid] = role
        d.pins[uid] = pin_of(other)   # linking again (by run id) re-pins a link
        self.client.set_tag(run.info.run_id, S.pin_tag(uid), d.pins[uid])
        self.client.set_tag(run.info.run_id, S.link_tag(uid), role)
        self.client.set_tag(other.info.run_id, S.decision_tag(number), role)
        self._save(run.info.run_id, d)
        return d

    def set_status(self, number: int, status: str, by: int | None = None) -> Decision:
        if status not in ("accepted", "superseded"):
            raise BadInput(f"status {status!r}: set by hand only accepted or superseded "
                           "(validated and refuted come from `decision verify`)")
        if status == "superseded" and by is None:
            raise BadInput("--by: superseded needs the number of the decision that replaces it")
        if status == "accepted" and by is not None:
            raise BadInput(f"--by {by}: only goes with superseded")
        if by == number:
            raise BadInput(f"--by {by}: a decision cannot supersede itself")
        run = self._run(number)
        newer = self._run(by) if by is not None else None
        d = self._record(run)
        d.status = status
        self._save(run.info.run_id, d)
        if newer is not None:
            self.link(by, run.info.run_id, "supersedes")   # by run id: a uid is a claim
        return d

    def set_criterion(self, number: int, index: int, expr: str) -> Decision:
        """Make criterion `index` (1-based) of a decision checkable with `expr`, e.g. the
        imported log's "H100 Phase 3 completes in <15 min"; `-` makes it manual again. Kept in
        `decision.json` and in the markdown export (`text — `expr``)."""
        run = self._run(number)
        d = self._record(run)
        if not 1 <= index <= len(d.criteria):
            raise BadInput(f"criterion {index}: decision #{number:03d} has "
                           f"{len(d.criteria)} criteria; accepted: 1 to {len(d.criteria)}"
                           if d.criteria else
                           f"criterion {index}: decision #{number:03d} has no criteria")
        expr = expr.strip()
        if expr != "-":
            parse_criterion(expr, where=f"criterion {index}")
        d.criteria[index - 1].expr = None if expr == "-" else expr
        self._save(run.info.run_id, d)
        return d

    # ------------------------------------------------------------ evidence

    def linked_runs(self, d: Decision, experiment_ids: list[str] | None = None) -> list[LinkedRun]:
        """The runs a decision links to, each campaign with its phase runs; only those in
        `experiment_ids` when given (what a reader of the `cogit` pages may see)."""
        return self.evidence(d, experiment_ids).runs

    def evidence(self, d: Decision, experiment_ids: list[str] | None = None,
                 phases: bool = True) -> "Evidence":
        """What a decision's links point at, and what claims to be it but is not counted.

        A pinned link (`cogit.pin.<uid>`) counts its pinned run only, while that run still
        carries the uid and sits in the pinned experiment; a run of another store's id (a
        synced copy) is found by `cogit.sync.source_run_id`. Every other run carrying the uid
        is a `Claim`, never counted. A link made before pins (none stored) counts the one run
        carrying its uid, and is pinned to it by the next `verify`; when several carry it,
        none is counted. Resolution does not depend on the reader: `experiment_ids` (what a
        reader may see) only filters the result, links and claims alike, afterwards."""
        names = {e.experiment_id: e.name for e in query.experiments(self.client)}
        runs, claims, new_pins = [], [], {}
        for uid, role in d.links.items():
            carriers = query.runs(self.client, experiment_ids=list(names),
                                  tags={S.UID: uid}) if names else []
            found, link_exp = self._pinned(uid, role, d.pins.get(uid), carriers, claims, names)
            if d.pins.get(uid) is None:
                if len(carriers) == 1:
                    found = carriers[0]
                    new_pins[uid] = pin_of(found)
                elif not carriers:
                    claims.append(Claim(uid, role, "missing"))
            if found is not None:
                link_exp = found.info.experiment_id
            for other in carriers:
                if found is None or other.info.run_id != found.info.run_id:
                    claims.append(Claim(uid, role, "ambiguous" if d.pins.get(uid) is None
                                        else "planted", other.info.run_id,
                                        other.info.experiment_id,
                                        names.get(other.info.experiment_id, ""), link_exp,
                                        found.info.run_id if found is not None else ""))
            if found is None:
                continue
            item = _linked(found, role)
            if item.kind == "campaign" and phases:
                kids = query.children(self.client, found)
                item.phases = sorted((_linked(k, role) for k in kids), key=_phase_order)
            runs.append(item)
        for c in claims:
            c.link_experiment = c.link_experiment or next(
                (r.experiment_id for r in runs if r.uid == c.uid), "")
        if experiment_ids is not None:
            ids = set(experiment_ids)
            runs = [r for r in runs if r.experiment_id in ids]
            claims = [c for c in claims if c.link_experiment in ids]
            for c in claims:
                if c.experiment_id not in ids:   # say nothing of where that run is
                    c.hidden, c.run_id, c.experiment_id, c.experiment = True, "", "", ""
        return Evidence(runs, claims, new_pins)

    def _pinned(self, uid: str, role: str, pin: str | None, carriers: list, claims: list,
                names: dict[str, str]):
        """(the run a pinned link counts or None, the experiment it is pinned to)."""
        if pin is None:
            return None, ""
        exp_id, _, run_id = pin.rpartition("/")
        run = self._get_run(run_id) if RUN_ID.match(run_id) else None
        if run is None:   # another store's run id: this store's copy of that run, if one
            copies = [r for r in carriers if r.data.tags.get(S.SYNC_SOURCE_RUN) == run_id]
            if len(copies) == 1:
                return copies[0], copies[0].info.experiment_id
            claims.append(Claim(uid, role, "unreadable", run_id, exp_id,
                                names.get(exp_id, ""), exp_id))
        elif run.data.tags.get(S.UID) != uid or run.info.experiment_id != exp_id:
            claims.append(Claim(uid, role, "changed", run_id, run.info.experiment_id,
                                names.get(run.info.experiment_id, ""), exp_id))
        elif run.info.lifecycle_stage != "active":
            claims.append(Claim(uid, role, "deleted", run_id, exp_id, names.get(exp_id, ""),
                                exp_id))
        else:
            return run, exp_id
        return None, exp_id

    def _get_run(self, run_id: str):
        """The run with this id, or None if this store has none or will not show it."""
        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "PERMISSION_DENIED",
                                  "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                return None
            raise

    def check(self, d: Decision, runs: list[LinkedRun]) -> list[tuple[object, Outcome]]:
        """Each criterion of `d` against its linked `runs`, as they stand; writes nothing."""
        views = [r.view() for r in runs]
        return [(crit, Outcome("manual", None, 0) if crit.expr is None
                 else evaluate(parse_criterion(crit.expr), views)) for crit in d.criteria]

    def verify(self, number: int) -> Verification:
        run = self._run(number)
        d = self._record(run)
        ev = self.evidence(d)
        results = self.check(d, ev.runs)
        found = verdict([o for _, o in results])
        changed = found is not None and d.status != "superseded" and found != d.status
        if changed:
            d.status = found
        d.pins.update(ev.new_pins)   # links made before pins: pinned to the run counted now
        ver = Verification(d, results, d.status, changed, ev.claims, sorted(ev.new_pins))
        self._save(run.info.run_id, d, {S.DECISION_VERIFICATION: ver.summary,
                                        **{S.pin_tag(u): p for u, p in ev.new_pins.items()}})
        return ver


def _entry(run) -> Entry:
    t = run.data.tags
    return Entry(int(t[S.DECISION_NUMBER]), t.get(S.DECISION_TITLE, ""), t.get(S.DECISION_DATE, ""),
                 t.get(S.DECISION_STATUS, ""), sum(k.startswith(S.LINK_PREFIX) for k in t),
                 t.get(S.DECISION_VERIFICATION, ""), run.info.run_id)


def _phase_order(p: LinkedRun) -> tuple[int, str]:
    index = p.tags.get(S.PHASE_INDEX, "")
    return (int(index) if index.isdigit() else 1 << 30, p.phase)


def _linked(run, role: str) -> LinkedRun:
    t = run.data.tags
    return LinkedRun(role, t.get(S.UID, ""), run.info.run_id, t.get(S.KIND, ""),
                     t.get(S.CAMPAIGN, ""), t.get(S.PHASE, ""), t.get(S.GPU_KEY, ""),
                     t.get(S.PRECISION, ""), run.info.status, dict(run.data.metrics), dict(t),
                     run.info.experiment_id)


def _is_day(text: str) -> bool:
    """`YYYY-MM-DD` naming a day that exists (not 2025-13-45, not 2025-02-30)."""
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and bool(date.fromisoformat(text))
    except ValueError:
        return False


def select_entries(entries: list[Entry], status: str | None = None, since: str | None = None,
                   text: str | None = None) -> list[Entry]:
    """`decision list` filters; `since` compares the ISO date at the start of the date field."""
    if since is not None and not _is_day(since):
        raise BadInput(f"--since {since!r}: accepted is a date that exists, as YYYY-MM-DD "
                       "(e.g. 2025-11-03)")
    return [e for e in entries
            if (status is None or e.status == status)
            and (since is None or e.date[:10] >= since)
            and (text is None or text.lower() in e.title.lower())]
