"""设备故障报表 (equipment failures): per device and per device category, the failures of the range and the failure
rate, as 巡检统计 defines them (inspections/report.py, FailureRate): a device's failures are the work orders linked to
it created in the range (cancelled ones excepted); failures per month = failures × 30.4375 ÷ the days it was in the
ledger during the range; MTBF (平均故障间隔, days) = those days ÷ failures. A category sums its devices. Retired
devices with no failure in the range are left out. With a building chosen, only its devices.

One statement: the devices with their failure counts (a grouped subquery joined on).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from ..extensions import db
from ..inspections.models import Device
from ..inspections.report import CategoryFigures, DeviceFigures, days_in_ledger
from ..property.models import Building
from ..repairs.models import WorkOrder
from ..tenancy.clock import tenant_zone
from .common import ReportFilter, Sheet, book_bytes, new_book


@dataclass
class DeviceRow(DeviceFigures):
    building: str = ''


@dataclass
class EquipmentReport:
    filter: ReportFilter
    devices: list[DeviceRow]
    categories: list[CategoryFigures]

    @property
    def failures(self) -> int:
        return sum(c.failures for c in self.categories)


def compute(tenant, f: ReportFilter) -> EquipmentReport:
    low, high = f.bounds(tenant)
    failures = (sa.select(WorkOrder.device_id, sa.func.count().label('n'))
                .where(WorkOrder.device_id.is_not(None), WorkOrder.created_at >= low, WorkOrder.created_at < high,
                       WorkOrder.status != 'cancelled')
                .group_by(WorkOrder.device_id).subquery('failures'))
    query = (sa.select(Device, Building.name, sa.func.coalesce(failures.c.n, 0))
             .outerjoin(Building, Building.id == Device.building_id)
             .outerjoin(failures, failures.c.device_id == Device.id)
             .order_by(Device.category, Device.code))
    if f.building_id is not None:
        query = query.where(Device.building_id == f.building_id)
    zone = tenant_zone(tenant)
    devices, categories = [], {}
    for device, building, count in db.session.execute(query):
        count = int(count)
        days = days_in_ledger(device, f.start, f.end, zone)
        if (days == 0 or device.status == 'retired') and not count:
            continue
        row = DeviceRow(device.id, device.code, device.name, device.category, days, count, building=building or '')
        devices.append(row)
        category = categories.setdefault(device.category, CategoryFigures(device.category))
        category.devices += 1
        category.days += days
        category.failures += count
    devices.sort(key=lambda d: (-d.failures, d.code))
    return EquipmentReport(filter=f, devices=devices,
                           categories=sorted(categories.values(), key=lambda c: (-c.failures, c.category)))


def export_xlsx(tenant, f: ReportFilter, *, project_name: str = '', building_name: str = '') -> bytes:
    """Sheets 按设备 and 按类别."""
    figures = compute(tenant, f)
    book = new_book()
    title = _('%(project)s 设备故障报表 %(start)s 至 %(end)s（%(scope)s）', project=project_name,
              start=f.start.isoformat(), end=f.end.isoformat(), scope=building_name or _('全部楼栋')).strip()
    sheet = Sheet(book, _('按设备'))
    sheet.row(title)
    sheet.row(_('设备编号'), _('设备'), _('类别'), _('楼栋'), _('在账天数'), _('故障次数'), _('月均故障'),
              _('平均故障间隔（天）'))
    for d in figures.devices:
        sheet.row(d.code, d.name, str(CategoryFigures(d.category).name), d.building, d.days, d.failures,
                  d.per_month, d.mtbf_days)
    sheet = Sheet(book, _('按类别'))
    sheet.row(title)
    sheet.row(_('类别'), _('设备数'), _('设备天数'), _('故障次数'), _('每台月均故障'), _('平均故障间隔（天）'))
    for c in figures.categories:
        sheet.row(c.name, c.devices, c.days, c.failures, c.per_month, c.mtbf_days)
    return book_bytes(book)
