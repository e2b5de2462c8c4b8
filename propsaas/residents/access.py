"""Access permissions (门禁): grant, revoke, and what a door controller syncs."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models_base import utcnow
from .models import AccessGrant, Occupancy


def revoke_if_moved_out(resident_id: int, reason: str = '已迁出') -> int:
    """Revoke every active grant of a resident who no longer lives in any room. Returns how many.

    Called by move-out in the same transaction, so a resident never keeps a card after leaving.
    """
    still_living = db.session.execute(sa.select(Occupancy.id).where(
        Occupancy.resident_id == resident_id, Occupancy.moved_out_on.is_(None))).first()
    if still_living:
        return 0
    result = db.session.execute(
        sa.update(AccessGrant).where(AccessGrant.resident_id == resident_id, AccessGrant.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason, updated_at=utcnow()))
    return result.rowcount
