"""When the annual run happens: early January, Beijing time, reporting on the previous year, since
departments publish their reports by 31 January (S3)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ANNUAL_CRON, TIME_ZONE = "0 9 5 1 *", "Asia/Shanghai"


def report_year(today: date | None = None) -> int:
    """The year a scheduled run reports on: the previous calendar year, in Beijing time."""
    today = today or datetime.now(ZoneInfo(TIME_ZONE)).date()
    return today.year - 1
