"""Document numbers from the per-tenant ``counters`` table: 'ZD202612-000123' for bills.

A block of n numbers is taken with one ``UPDATE counters SET value = value + n .. RETURNING value``, so two bill runs
at once never hand out the same number (the row lock serialises them until their transactions end). The counter
row is created on first use; two first uses racing on the unique constraint are resolved by retrying the UPDATE.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..tenancy.context import current_tenant_id
from .models import Counter

BILL_COUNTER = 'bill'


def allocate(name: str, n: int) -> range:
    """Reserve ``n`` consecutive values of the tenant's counter ``name``; returns them (1-based, increasing).

    Runs in the caller's transaction: a rollback gives the numbers back. ``n`` <= 0 reserves nothing.
    """
    if n <= 0:
        return range(0)
    for _attempt in range(3):
        last = _bump(name, n)
        if last is not None:
            return range(last - n + 1, last + 1)
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(Counter.__table__).values(
                    tenant_id=current_tenant_id(), name=name, value=0))
        except sa.exc.IntegrityError:
            pass  # another transaction created it first: bump that one
    raise RuntimeError(f'counter {name} could not be created')  # pragma: no cover


def _bump(name: str, n: int) -> int | None:
    return db.session.execute(
        sa.update(Counter).where(Counter.name == name).values(value=Counter.value + n).returning(Counter.value)
        .execution_options(synchronize_session=False)).scalar_one_or_none()


def bill_number(period: str, sequence: int) -> str:
    """'2026-12', 123 -> 'ZD202612-000123' (more than six digits once past 999,999)."""
    return f'ZD{period.replace("-", "")}-{sequence:06d}'


def next_bill_numbers(period: str, n: int) -> list[str]:
    """``n`` new bill numbers of the tenant for ``period``, increasing, never used before."""
    return [bill_number(period, value) for value in allocate(BILL_COUNTER, n)]


RECEIPT_COUNTER = 'receipt'


def receipt_number(month: str, sequence: int) -> str:
    """'2026-12', 1 -> 'SJ202612-000001': a receipt (收据) number; the sequence runs on across months."""
    return f'SJ{month.replace("-", "")}-{sequence:06d}'


def next_receipt_number(month: str) -> str:
    """A new receipt number of the tenant for a payment, refund or reversal made in ``month`` ('YYYY-MM')."""
    return receipt_number(month, allocate(RECEIPT_COUNTER, 1)[0])
