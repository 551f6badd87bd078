"""Bucket sizes of scans. Below both `base` (adapters) and `sql` (query building), which use it."""

from __future__ import annotations

import enum
from datetime import timedelta


class ScanInterval(enum.StrEnum):
    """Bucket sizes of scan configs (both `interval` and `replay_chunk_interval`)."""

    m5 = "5m"
    m15 = "15m"
    m30 = "30m"
    h1 = "1h"
    h6 = "6h"
    h12 = "12h"
    d1 = "1d"

    @property
    def seconds(self) -> int:
        return _INTERVAL_SECONDS[self.value]

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.seconds)


_INTERVAL_SECONDS = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "6h": 21600, "12h": 43200, "1d": 86400}
