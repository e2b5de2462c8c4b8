"""Working days for payment reminders (催缴): no reminder goes out on a day off, it waits for the next working day.

The verdict is the `chinese-calendar` package's (public holidays and their make-up working days, 调休), overridden
by the project's own days (ProjectDay: an extra day off, or an extra working day). For years the package has no
data for (2027 on, with 1.11.0), weekends are the days off, plus the project's days; ``calendar_covers`` says so,
so a page can warn that the year's public holidays must be added by hand.
"""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from ..extensions import db
from .models import ProjectDay

#: how far next_working_day looks ahead: the longest Chinese holiday is 8 days; a typo in project days is not forever
MAX_LOOKAHEAD = 60


def calendar_covers(day: date) -> bool:
    """Whether the public-holiday calendar has data for ``day``'s year."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def public_working_day(day: date) -> bool:
    """The public calendar's verdict: chinese-calendar where it has data, else Monday to Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def project_days(start: date, end: date) -> dict[date, bool]:
    """The project's own days between ``start`` and ``end`` (inclusive): {day: working}."""
    rows = db.session.execute(sa.select(ProjectDay.day, ProjectDay.working)
                              .where(ProjectDay.day >= start, ProjectDay.day <= end)).all()
    return {day: working for day, working in rows}


def is_working_day(day: date, overrides: dict[date, bool] | None = None) -> bool:
    """Whether reminders may go out on ``day``: the project's day if it has one, else the public calendar."""
    if overrides is None:
        overrides = project_days(day, day)
    if day in overrides:
        return overrides[day]
    return public_working_day(day)


def next_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the first working day after it (one query)."""
    overrides = project_days(day, day + timedelta(days=MAX_LOOKAHEAD))
    for offset in range(MAX_LOOKAHEAD + 1):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate, overrides):
            return candidate
    raise DomainError(_l('%(day)s 之后 %(n)s 天内没有工作日，请检查项目休息日设置', day=day.isoformat(),
                         n=MAX_LOOKAHEAD))


def add_project_day(day: date, working: bool, name: str) -> ProjectDay:
    """Add (or change) one project day. Raises DomainError without a name."""
    name = (name or '').strip()[:60]
    if not name:
        raise DomainError(_l('请填写说明，例如“小区停水检修”'), field='name')
    existing = db.session.execute(sa.select(ProjectDay).where(ProjectDay.day == day)).scalar_one_or_none()
    if existing is None:
        existing = ProjectDay(day=day)
        db.session.add(existing)
    existing.working, existing.name = bool(working), name
    db.session.flush()
    return existing


def remove_project_day(day: date) -> None:
    """Remove the project's entry for ``day``. Raises DomainError when there is none."""
    row = db.session.execute(sa.select(ProjectDay).where(ProjectDay.day == day)).scalar_one_or_none()
    if row is None:
        raise DomainError(_l('该日期已不存在'))
    db.session.delete(row)
    db.session.flush()


def list_project_days(limit: int = 200) -> list[ProjectDay]:
    return list(db.session.execute(sa.select(ProjectDay).order_by(ProjectDay.day.desc()).limit(limit)).scalars())
