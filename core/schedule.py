"""When the jobs run: the cron schedule vercel.json declares, as the page and the digest tell it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# The daily refresh, as vercel.json schedules it (a test keeps the two in step): after arXiv's
# RSS rebuild at midnight US Eastern (04:00 UTC in summer, 05:00 in winter).
REFRESH_CRON = "30 5 * * *"
REFRESH_AT_UTC = "05:30"


def next_refresh(now: datetime) -> datetime:
    """When the next scheduled refresh runs (Vercel Hobby may fire any time in that hour)."""
    hour, minute = (int(part) for part in REFRESH_AT_UTC.split(":"))
    today = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)
