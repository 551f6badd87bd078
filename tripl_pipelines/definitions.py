"""The Dagster code location loaded by workspace.yaml."""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions(assets=[], sensors=[], schedules=[], jobs=[])
