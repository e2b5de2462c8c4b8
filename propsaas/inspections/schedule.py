"""When a plan's rounds fall: its frequency and the periods it makes.

A frequency is one of

- ``daily``: ``times`` rounds a day (1-48), the day split evenly from local midnight (2: 00:00 and 12:00);
- ``weekly``: on the chosen ``weekdays`` (0 = Monday ... 6 = Sunday);
- ``monthly``: on ``day`` (1-31) of every ``months``-th month counted from the plan's first month; a day past the
  month's end falls on its last day (31 → 28 or 29 February);
- ``every_days``: every ``days`` days from the plan's first day.

Each round is a *period*: it starts at its local time and is due when the next one starts (at least once every
interval, as the delivery template's ``every`` says). Times are local wall-clock times of the project's timezone
(Asia/Shanghai has no daylight saving, but the arithmetic is done on local dates, never by adding hours to UTC, so
it would stay right where there is).
"""
from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from ..errors import DomainError

KINDS = ('daily', 'weekly', 'monthly', 'every_days')
KIND_NAMES = {'daily': _l('每天'), 'weekly': _l('每周'), 'monthly': _l('每月'), 'every_days': _l('每隔 N 天')}
WEEKDAY_NAMES = (_l('周一'), _l('周二'), _l('周三'), _l('周四'), _l('周五'), _l('周六'), _l('周日'))
MAX_TIMES_PER_DAY = 48


@dataclass(frozen=True)
class Frequency:
    kind: str
    times: int = 1
    weekdays: tuple[int, ...] = field(default_factory=tuple)
    day: int = 1
    months: int = 1
    days: int = 1

    @classmethod
    def from_json(cls, data: dict | None) -> Frequency:
        """Read a stored or submitted frequency; DomainError on anything malformed."""
        data = dict(data or {})
        kind = data.get('kind')
        try:
            if kind == 'daily':
                frequency = cls('daily', times=int(data.get('times', 1)))
            elif kind == 'weekly':
                frequency = cls('weekly', weekdays=tuple(sorted({int(d) for d in data.get('weekdays') or []})))
            elif kind == 'monthly':
                frequency = cls('monthly', day=int(data.get('day', 1)), months=int(data.get('months', 1)))
            elif kind == 'every_days':
                frequency = cls('every_days', days=int(data.get('days', 1)))
            else:
                raise DomainError(_l('请选择巡检频次'), field='frequency')
        except (TypeError, ValueError):
            raise DomainError(_l('巡检频次格式不正确'), field='frequency') from None
        frequency.check()
        return frequency

    def check(self) -> None:
        if self.kind == 'daily' and not 1 <= self.times <= MAX_TIMES_PER_DAY:
            raise DomainError(_l('每天巡检次数应为 1 到 %(n)s', n=MAX_TIMES_PER_DAY), field='frequency')
        if self.kind == 'weekly' and (not self.weekdays or any(not 0 <= d <= 6 for d in self.weekdays)):
            raise DomainError(_l('请选择每周巡检的日子'), field='frequency')
        if self.kind == 'monthly' and not (1 <= self.day <= 31 and 1 <= self.months <= 120):
            raise DomainError(_l('每月巡检的日期应为 1 到 31 日，间隔 1 到 120 个月'), field='frequency')
        if self.kind == 'every_days' and not 1 <= self.days <= 3660:
            raise DomainError(_l('间隔天数应为 1 到 3660'), field='frequency')

    def to_json(self) -> dict:
        data = asdict(self)
        data['weekdays'] = list(self.weekdays)
        keep = {'daily': ('times',), 'weekly': ('weekdays',), 'monthly': ('day', 'months'),
                'every_days': ('days',)}[self.kind]
        return {'kind': self.kind, **{key: data[key] for key in keep}}

    def describe(self) -> str:
        """'每天 2 次', '每周一、周四', '每 3 个月 15 日', '每 15 天', in words for the pages."""
        if self.kind == 'daily':
            return str(_l('每天')) if self.times == 1 else str(_l('每天 %(n)s 次', n=self.times))
        if self.kind == 'weekly':
            return str(_l('每%(days)s', days='、'.join(str(WEEKDAY_NAMES[d]) for d in self.weekdays)))
        if self.kind == 'monthly':
            day = str(_l('月末')) if self.day == 31 else str(_l('%(d)s 日', d=self.day))
            if self.months == 1:
                return str(_l('每月 %(day)s', day=day))
            if self.months == 12:
                return str(_l('每年（%(day)s）', day=day))
            return str(_l('每 %(n)s 个月（%(day)s）', n=self.months, day=day))
        return str(_l('每天')) if self.days == 1 else str(_l('每 %(n)s 天', n=self.days))


def from_template(entry: dict, starts_on: date) -> Frequency:
    """The frequency of a delivery template's [[plans]] entry for a plan starting on ``starts_on``:
    ``times_per_day = 2``, or ``every = "15d"`` (min, h: several rounds a day; d; w: every 7n days, or weekly on the
    first day's weekday when n is 1; M and y: monthly on the first day's day of the month)."""
    from ..tenancy.delivery import parse_every

    if entry.get('times_per_day'):
        return Frequency('daily', times=min(int(entry['times_per_day']), MAX_TIMES_PER_DAY))
    count, unit = parse_every(entry['every'])
    if unit == 'min':
        return Frequency('daily', times=min(max(1440 // count, 1), MAX_TIMES_PER_DAY))
    if unit == 'h':
        return Frequency('daily', times=min(max(24 // count, 1), MAX_TIMES_PER_DAY))
    if unit == 'd':
        return Frequency('daily') if count == 1 else Frequency('every_days', days=count)
    if unit == 'w':
        return Frequency('weekly', weekdays=(starts_on.weekday(),)) if count == 1 else \
            Frequency('every_days', days=7 * count)
    months = count if unit == 'M' else 12 * count
    return Frequency('monthly', day=starts_on.day, months=months)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _on_day(month_index: int, day: int) -> date:
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day, calendar.monthrange(year, month + 1)[1]))


def _starts(frequency: Frequency, starts_on: date, first: date, last: date) -> Iterator[datetime]:
    """Local (naive) starts of the rounds from ``first`` to ``last`` (local days, both included), never before
    ``starts_on``; plus the first start after ``last`` (to know the last round's due time)."""
    first = max(first, starts_on)
    if frequency.kind == 'daily':
        step = timedelta(minutes=1440 // frequency.times) if 1440 % frequency.times == 0 else \
            timedelta(seconds=86400 / frequency.times)
        day = first
        while day <= last + timedelta(days=1):
            midnight = datetime.combine(day, time())
            for slot in range(frequency.times):
                yield midnight + slot * step
            day += timedelta(days=1)
    elif frequency.kind == 'weekly':
        day = first
        while day <= last + timedelta(days=7):
            if day.weekday() in frequency.weekdays:
                yield datetime.combine(day, time())
            day += timedelta(days=1)
    elif frequency.kind == 'monthly':
        anchor = _month_index(starts_on)
        index = _month_index(first)
        index += (anchor - index) % frequency.months
        while True:
            day = _on_day(index, frequency.day)
            if day >= first:
                yield datetime.combine(day, time())
                if day > last:
                    return
            index += frequency.months
    else:
        offset = (first - starts_on).days
        day = starts_on + timedelta(days=-(-offset // frequency.days) * frequency.days)
        while True:
            yield datetime.combine(day, time())
            if day > last:
                return
            day += timedelta(days=frequency.days)


def periods(frequency: Frequency, starts_on: date, first: date, last: date,
            zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The rounds starting on local days ``first`` to ``last`` (both included): (start, due) as aware UTC, each due
    when the next round starts."""
    utc = ZoneInfo('UTC')
    starts = list(_starts(frequency, starts_on, first, last))
    rounds = []
    for start, following in zip(starts, starts[1:], strict=False):
        if start.date() > last:
            break
        rounds.append((start.replace(tzinfo=zone).astimezone(utc), following.replace(tzinfo=zone).astimezone(utc)))
    return rounds
