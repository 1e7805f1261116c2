"""Every `cogit` route, gathered in one place: each page module registers its routes on the
one blueprint when imported, so the app (`app.py`) and the tests import this module, and
MLflow's basic-auth gets every path (it validates exact paths)."""
from __future__ import annotations

from . import live, stop, tools, views

blueprint = views.blueprint
PATHS = [*views.PATHS, *tools.PATHS, *live.PATHS]
POST_PATHS = [*stop.POST_PATHS, *tools.POST_PATHS]  # routes that change something
