"""tripl's domain: database schema, plan rules, warehouse adapters, detection maths, alert channels.

Imports neither FastAPI nor Dagster, so that the API and the pipelines can both build on it.
"""

__version__ = "0.1.0"
