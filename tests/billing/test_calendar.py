"""Working days for reminders: chinese-calendar's holidays and make-up days, the project's own days, 2027 on."""
from __future__ import annotations

from datetime import date

from propsaas.billing import calendar
from propsaas.billing.models import ProjectDay


def test_national_day_moves_to_the_first_working_day_after(make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant):
        assert not calendar.is_working_day(date(2026, 10, 1))
        assert calendar.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)
        assert calendar.next_working_day(date(2026, 10, 8)) == date(2026, 10, 8)
        assert calendar.is_working_day(date(2026, 10, 10))  # a Saturday make-up working day (调休)
        assert calendar.calendar_covers(date(2026, 10, 1))


def test_project_days_override_the_public_calendar(make_tenant, in_tenant):
    tenant, other = make_tenant(), make_tenant('别的小区')
    with in_tenant(tenant) as session:
        session.add(ProjectDay(day=date(2026, 10, 8), working=False, name='小区停水检修'))
        session.add(ProjectDay(day=date(2026, 10, 11), working=True, name='周日加班收费'))
    with in_tenant(tenant):
        assert calendar.next_working_day(date(2026, 10, 1)) == date(2026, 10, 9)
        assert calendar.is_working_day(date(2026, 10, 11))
    with in_tenant(other):  # another project's days change nothing here
        assert calendar.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)
        assert not calendar.is_working_day(date(2026, 10, 11))


def test_years_without_data_fall_back_to_weekends(make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant) as session:
        assert not calendar.calendar_covers(date(2027, 1, 4))
        assert calendar.is_working_day(date(2027, 10, 1))  # a Friday: no holiday data for 2027
        assert calendar.next_working_day(date(2027, 1, 2)) == date(2027, 1, 4)  # Saturday -> Monday
        session.add(ProjectDay(day=date(2027, 1, 4), working=False, name='元旦补休'))
    with in_tenant(tenant):
        assert calendar.next_working_day(date(2027, 1, 2)) == date(2027, 1, 5)


def test_adding_and_removing_project_days(make_tenant, in_tenant):
    import pytest

    from propsaas.errors import DomainError

    tenant = make_tenant()
    with in_tenant(tenant):
        with pytest.raises(DomainError):
            calendar.add_project_day(date(2026, 5, 6), False, '  ')
        calendar.add_project_day(date(2026, 5, 6), False, '检修')
        calendar.add_project_day(date(2026, 5, 6), True, '改为上班')  # the same day again changes it
        assert [(d.day, d.working, d.name) for d in calendar.list_project_days()] == [
            (date(2026, 5, 6), True, '改为上班')]
        calendar.remove_project_day(date(2026, 5, 6))
        assert calendar.list_project_days() == []
        with pytest.raises(DomainError):
            calendar.remove_project_day(date(2026, 5, 6))
