"""tripl's HTTP API (FastAPI). Imports tripl_core, never Dagster or tripl_pipelines."""
