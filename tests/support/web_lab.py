"""A small lab for the `cogit` web pages (issue 12): two campaigns of the reference experiment
and one of a private sweep, written through a real server's REST API; three decisions linked
to them, one superseding another; and a generations table on an intervene phase."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from mlflow.tracking import MlflowClient

from cogit_tracker import schema as s
from cogit_tracker.decisions.model import Criterion, Decision, Option
from cogit_tracker.decisions.store import DecisionLog
from cogit_tracker.settings import environment

from . import synthetic as sy

QMECH, PRIVATE = "cogit-qmech", "private-sweep"
ODD_LABEL = 'it\'s "odd"/label'   # quotes and a slash: every page must still find it
READER, READER_PASSWORD = "reader", "reader-password-1234"


@dataclass
class Lab:
    url: str
    runs: dict[str, str] = field(default_factory=dict)     # label -> campaign run id
    phases: dict[str, list[str]] = field(default_factory=dict)
    auth: tuple[str, str] | None = None                   # admin credentials, with logins
    reader: tuple[str, str] | None = None                 # a user with less than that

    def get(self, path: str, user: tuple[str, str] | None = None) -> tuple[int, str, str]:
        """(status, content type, body) of a GET, as `user` (default: the admin, if any)."""
        request = urllib.request.Request(self.url + path)
        user = user or self.auth
        if user:
            token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.status, resp.headers.get_content_type(), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get_content_type(), err.read().decode()

    def json(self, path: str, user: tuple[str, str] | None = None):
        status, _, body = self.get(path, user)
        assert status == 200, (path, status, body)
        return json.loads(body)


def credentials(user: tuple[str, str] | None):
    """MLflow's own client variables, set for the duration (the lab writes as the admin)."""
    names = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    return environment(dict(zip(names, user)) if user else {})


GENERATIONS = {
    "prompt": ["The service was", "The service was", "My day has been", "My day has been"] * 3,
    "direction": ["baseline", "pos->neg", "baseline", "neg->pos"] * 3,
    "blend": [0.0, 1.0, 0.0, 1.0] * 3,
    "text": [" wonderful and kind", " awful and rude", " terrible so far", " lovely, thanks"] * 3,
    "compound": [0.77, -0.72, -0.48, 0.66] * 3,
}


def populate(lab: Lab) -> Lab:
    """Write the lab's campaigns and decisions; returns `lab` with their run ids."""
    with credentials(lab.auth):
        client = MlflowClient(lab.url)
        specs = [(QMECH, sy.CampaignSpec("run-001", sy.reference_phases())),
                 (QMECH, sy.CampaignSpec("run-002", _h100_phases(), gpu_key="h100-sxm",
                                         precision="int8", usd_per_hour=2.99,
                                         start_ms=1_763_100_000_000)),
                 (PRIVATE, sy.CampaignSpec("secret-sweep", sy.reference_phases(),
                                           gpu_key="a100-80gb")),
                 (QMECH, sy.CampaignSpec(ODD_LABEL, sy.reference_phases()[:1]))]
        for experiment, spec in specs:
            lab.runs[spec.label], lab.phases[spec.label] = sy.make_campaign(client, experiment,
                                                                             spec)
        client.log_table(lab.phases["run-002"][2], GENERATIONS, s.GENERATIONS_TABLE)
        _decisions(DecisionLog(lab.url))
    return lab


def _h100_phases() -> list[sy.PhaseSpec]:
    phases = sy.reference_phases(speed=11.8, fidelity=0.985)
    phases[3].status, phases[3].failure = "FAILED", "cuda_oom"
    return phases


def _decisions(log: DecisionLog) -> None:
    """#001 ran on the RTX 5090; #002 moved to an H100 and supersedes it; #003 concerns the
    private sweep only."""
    first = Decision("Run on the RTX 5090", context="Phase 3", chosen="A", options=[
        Option("A", "RTX 5090 at $0.89/h", pros=["cheap"]), Option("B", "Wait")])
    log.create(first, [("run-001", "context")])
    second = Decision("Migrate to H100", chosen="C", reasoning="CPU operators too slow",
                      options=[Option("A", "Wait for it"), Option("C", "Migrate to H100")],
                      criteria=[Criterion("Phase 3 under 15 min",
                                          "phase[intervene].duration_s < 900 "
                                          "where gpu.key = h100-sxm"),
                                Criterion("Cheaper than the 5090 run")])
    log.create(second, [("run-002", "validation"), ("run-001", "context")])
    log.set_status(1, "superseded", by=2)
    log.create(Decision("Sweep privately"), [("secret-sweep", "evidence")])


def add_reader(lab: Lab, denied: str) -> tuple[str, str]:
    """A user who may read everything (the server's default) except experiment `denied`."""
    from mlflow.server import get_app_client

    with credentials(lab.auth):
        admin = get_app_client("basic-auth", tracking_uri=lab.url)
        admin.create_user(READER, READER_PASSWORD)
        exp = MlflowClient(lab.url).get_experiment_by_name(denied)
        admin.grant_user_permission(READER, "experiment", exp.experiment_id, "DENY")
    return READER, READER_PASSWORD
