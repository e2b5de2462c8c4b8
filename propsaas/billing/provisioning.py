"""Provisioning of the fees section of a delivery template (fees.toml): one FeeItem per [[fee_items]], and the
project's late-fee item (滞纳金, computed from the [late_fee] settings; made whether or not late fees are enabled, so
switching them on later needs nothing else).

The [rules] and [late_fee] tables are kept in ``tenant.settings`` by the tenancy package. Runs inside the new
tenant's scope, in the transaction that creates the tenant.
"""
from __future__ import annotations

from ..extensions import db
from ..money import parse_rate, parse_yuan
from ..tenancy.delivery import DeliveryTemplate
from ..tenancy.models import Tenant
from ..tenancy.provisioning import provisioner
from .late_fees import late_fee_item
from .models import FeeItem


def fee_item_from_template(entry: dict, position: int) -> FeeItem:
    """A FeeItem from one validated [[fee_items]] entry (rates and amounts are yuan decimal strings there)."""
    return FeeItem(
        code=entry['code'],
        name=entry['name'],
        charging=entry['charging'],
        rate=parse_rate(entry['rate']) if entry.get('rate') is not None else None,
        amount_fen=parse_yuan(entry['amount']) if entry.get('amount') is not None else None,
        cycle=entry.get('period') or 'month',
        recurring=bool(entry.get('recurring', True)),
        applies_to=entry.get('applies_to') or 'room',
        meter=entry.get('meter'),
        shared=bool(entry.get('shared', False)),
        split_by=entry.get('split_by'),
        note=entry.get('note'),
        active=True,
        sort_order=position,
    )


@provisioner
def provision_fee_items(tenant: Tenant, template: DeliveryTemplate) -> None:
    entries = (template.sections.get('fees') or {}).get('fee_items') or []
    db.session.add_all([fee_item_from_template(entry, position) for position, entry in enumerate(entries, start=1)])
    db.session.flush()
    late_fee_item()
