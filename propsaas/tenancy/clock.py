"""Time where the project is: its timezone (tenant.timezone, default Asia/Shanghai), today there, and UTC values
shown or typed in its local time. The database stores UTC (DESIGN.md)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = 'Asia/Shanghai'


def tenant_zone(tenant) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(tenant, 'timezone', None) or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def now_utc() -> datetime:
    """The current time (aware UTC); tests replace it to pin 'today'."""
    return datetime.now(UTC)


def tenant_today(tenant, now: datetime | None = None) -> date:
    """Today's date where the project is, not on the server."""
    now = now or now_utc()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(tenant_zone(tenant)).date()


def local_datetime(value: datetime | None, tenant, fmt: str = '%Y-%m-%d %H:%M') -> str:
    """'2026-03-01 09:30' in the project's timezone; '' for None."""
    if value is None:
        return ''
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tenant_zone(tenant)).strftime(fmt)
