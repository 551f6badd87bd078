"""Volume-anomaly settings: the project's anomaly settings plus a few engine knobs with principled defaults.

The four public fields mirror the anomaly-settings tag of the reference (Get/Update Project Anomaly Settings);
`DEFAULTS` are the values a project starts with (the settings model should use them as its column defaults).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tripl_core.errors import Invalid


@dataclass(frozen=True)
class VolumeSettings:
    """Knobs of `tripl_core.detection.volume.score_series`.

    baseline_window_buckets: how far back (in buckets) the baseline may look. 8,064 is four weeks of 5-minute
        buckets: the weekly model can use its three previous weeks at every interval from 5m up. (Verdicts depend
        on about the last four weeks only — three weeks of seasonal history for each bucket of the one-week
        model-selection window — so callers need not load more history than that.)
    min_history_buckets: warm-up; no bucket earlier than this is judged (the model has not seen a full day yet).
    sigma_threshold: |z| above which a bucket is anomalous. z is measured against a noise model that already
        includes Poisson count noise and the series' own extra spread, so 5 keeps false alarms rare
        (bench/detection_quality.py: 4 finds 11 % more incidents at 2.5× the false alarms).
    min_expected_count: volumes too small to matter. A bucket is judged only when its expected *or* actual count
        reaches it: drops need a baseline worth losing, spikes need an actual burst of this size.
    min_consecutive: optional persistence rule; a bucket alarms only after this many anomalous buckets in a row.
    relative_floor: the relative spread assumed beyond Poisson noise is never below this (5 %): with sigma 5 a
        large, perfectly smooth series still needs a change of about a quarter to alarm — a ±3 % wobble on a
        million events is not an incident.
    """

    baseline_window_buckets: int = 8064
    min_history_buckets: int | None = None
    sigma_threshold: float = 5.0
    min_expected_count: float = 10.0
    min_consecutive: int = 1
    relative_floor: float = 0.05

    def __post_init__(self) -> None:
        checks = (
            ("baseline_window_buckets", self.baseline_window_buckets >= 1, "must be at least 1"),
            ("min_history_buckets", self.min_history_buckets is None or self.min_history_buckets >= 0,
             "must not be negative"),
            ("sigma_threshold", self.sigma_threshold > 0, "must be greater than 0"),
            ("min_expected_count", self.min_expected_count >= 0, "must not be negative"),
            ("min_consecutive", self.min_consecutive >= 1, "must be at least 1"),
            ("relative_floor", 0 <= self.relative_floor < 1, "must be in [0, 1)"),
        )
        for field, ok, message in checks:
            if not ok:
                raise Invalid(field, f"{field} {message}.")


DEFAULTS = VolumeSettings()
# What a project's settings row starts with. The library's default warm-up (None) is "one week of whatever interval
# the series has"; a settings row needs a number, so a project starts with a week of the default 15-minute scan
# interval (672 buckets). Everything else is as in DEFAULTS.
PROJECT_DEFAULTS = VolumeSettings(min_history_buckets=672)
_FIELDS = {f.name: f for f in dataclasses.fields(VolumeSettings)}
_INTS = {"baseline_window_buckets", "min_history_buckets", "min_consecutive"}


def coerce_settings(settings: VolumeSettings | Mapping[str, Any] | Any | None) -> VolumeSettings:
    """Accept a VolumeSettings, a mapping, any object with the same attribute names (an ORM row), or None.

    Unknown keys are ignored and None values fall back to the default, so a partially filled settings row works.
    """
    if settings is None:
        return DEFAULTS
    if isinstance(settings, VolumeSettings):
        return settings
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = settings.get(name) if isinstance(settings, Mapping) else getattr(settings, name, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Invalid(name, f"{name} must be a number.")
        if name in _INTS and float(value) != int(value):
            raise Invalid(name, f"{name} must be an integer.")
        values[name] = int(value) if name in _INTS else float(value)
    return VolumeSettings(**values)
