"""tripl's Dagster code: assets, sensors, schedules, resources. Imports tripl_core, never tripl_api."""
