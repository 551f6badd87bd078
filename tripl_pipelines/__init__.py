"""tripl's Dagster code: assets, sensors, jobs, resources. Imports tripl_core, never tripl_api."""

import warnings

from dagster import BetaWarning, PreviewWarning

# BackfillPolicy and sensor owners are "beta" in Dagster 1.13; the warning at every code-server start sent users
# looking for a problem that is not there (docs/pipelines.md, "Batched backfills", says why we use them).
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
