"""Compose files, natively: ``model`` reads and checks a project (Compose Specification keys that matter
on one host, hostile-input bounds in ``yamlfile`` and ``interpolate``); ``engine`` brings it up and down
through the managers' verbs. Nothing here runs ``docker compose``."""

from __future__ import annotations

from managers.compose.engine import Compose
from managers.compose.model import Project, load_project

__all__ = ["Compose", "Project", "load_project"]
