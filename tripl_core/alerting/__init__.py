"""Alerting: findings become messages (sandboxed templates, per-format escaping) sent through channels.

`render` turns a rule's templates and a finding context into a `RenderedMessage`; `channels` sends one to a
destination and reports (never raises) what happened, so the dispatcher decides about retries.
"""
