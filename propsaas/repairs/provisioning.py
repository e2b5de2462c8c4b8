"""Provisioning of the repairs section of a delivery template (repairs.toml): one RepairCategory per [[categories]],
and the response times and return-visit hours kept in ``tenant.settings['repairs']``. Runs inside the new tenant's
scope, in the transaction that creates the tenant."""
from __future__ import annotations

from ..extensions import db
from ..tenancy.delivery import DeliveryTemplate
from ..tenancy.models import Tenant
from ..tenancy.provisioning import provisioner
from .models import RepairCategory

#: a completed order the resident neither confirms nor reopens is confirmed by the clock after this many days
AUTO_CONFIRM_DAYS = 3


def repair_settings(template: DeliveryTemplate) -> dict:
    section = template.sections.get('repairs') or {}
    return {'response_times': [dict(entry) for entry in section.get('response_times') or []],
            'return_visit_hours': section.get('return_visit_hours') or 48,
            'auto_confirm_days': AUTO_CONFIRM_DAYS}


@provisioner
def provision_repairs(tenant: Tenant, template: DeliveryTemplate) -> None:
    entries = (template.sections.get('repairs') or {}).get('categories') or []
    db.session.add_all([RepairCategory(code=entry['code'], name=entry['name'], area=entry.get('area') or 'both',
                                       sort_order=position) for position, entry in enumerate(entries, start=1)])
    tenant.settings = {**(tenant.settings or {}), 'repairs': repair_settings(template)}
    db.session.flush()
