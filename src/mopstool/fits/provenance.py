"""The time written into the HISTORY of mopstool's FITS products."""

from __future__ import annotations

import os
from datetime import datetime, timezone


def run_time() -> str:
    """UTC 'YYYY-MM-DDTHH:MM:SSZ': SOURCE_DATE_EPOCH (seconds) when set, so that two runs
    give byte-identical files (the reproducible-builds convention), else now."""
    epoch = (os.environ.get("SOURCE_DATE_EPOCH") or "").strip()
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch.isdigit() else datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
