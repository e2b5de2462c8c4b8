"""Provisioning of the property section of a delivery template (property.toml).

Room types and tags and the residents import's column headers go to ``tenant.settings``; the gates become
Gate rows. Runs inside the new tenant's scope, in the transaction that creates the tenant.
"""
from __future__ import annotations

from ..extensions import db
from ..residents.models import Gate
from ..tenancy.delivery import DeliveryTemplate, default_property
from ..tenancy.models import Tenant
from ..tenancy.provisioning import provisioner


@provisioner
def provision_property(tenant: Tenant, template: DeliveryTemplate) -> None:
    section = template.sections.get('property') or default_property()
    tenant.settings = {
        **(tenant.settings or {}),  # a new dict: the JSON column notices the change
        'property': {'room_types': [dict(t) for t in section['room_types']], 'room_tags': list(section['room_tags'])},
        'import_headers': {key: list(names) for key, names in section['import_headers'].items()},
    }
    db.session.add_all([Gate(code=gate['code'], name=gate['name']) for gate in section['gates']])
