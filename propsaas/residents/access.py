"""Access permissions (门禁): gates, grants and revocations, and what a door controller syncs.

A grant lets one resident pass one gate with one credential (a card number, a face-record reference or a QR
code). Grants are never deleted: revoking sets ``revoked_at`` and a reason, so the history stays. Every change
bumps ``updated_at``, which the door-controller export reads incrementally.

Face recognition may not be the only way in (最高法 face-recognition rules Art. 10): a face credential is
refused for a gate unless the resident has, or is given in the same action, a card or QR credential for that
gate; and the last card/QR of a gate can't be revoked while a face grant for it is active.
Services never commit; the view or API call that uses them commits once.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from ..auth.services import normalize_mobile
from ..documents.spreadsheets import safe_cell
from ..errors import DomainError
from ..extensions import db
from ..models_base import utcnow
from ..property.addresses import parse_room_address
from ..property.models import Room
from .models import AccessGrant, Gate, Occupancy, Resident

CREDENTIAL_KINDS = ('card', 'face', 'qr')
#: a face credential needs one of these for the same gate
OTHER_WAYS_IN = ('card', 'qr')
GATE_CODE_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,39}$')
EXPORT_LIMIT = 1000
EXPORT_MAX_LIMIT = 5000
EXPORT_COLUMNS = ('grant_id', 'resident_id', 'resident_name', 'gate_code', 'credential_kind', 'credential_ref',
                  'status', 'granted_at', 'revoked_at', 'updated_at')


def _text(value, field: str, max_length: int, message) -> str:
    value = unicodedata.normalize('NFKC', value or '').strip()
    if not value:
        raise DomainError(message, field=field)
    if len(value) > max_length:
        raise DomainError(_l('最多 %(n)s 个字', n=max_length), field=field)
    if any(unicodedata.category(ch) == 'Cc' for ch in value):
        raise DomainError(_l('包含无法保存的控制字符'), field=field)
    return value


# --- who may do what ---------------------------------------------------------------------------------------------

def can_manage_grants(user) -> bool:
    """Grant and revoke: admins, the service desk (客服) and security (秩序维护)."""
    return bool(user.is_staff and (user.has_duty('service_desk') or user.has_duty('security')))


def can_manage_gates(user) -> bool:
    return bool(user.is_staff and user.role == 'admin')


# --- gates -----------------------------------------------------------------------------------------------------

def create_gate(code: str, name: str) -> Gate:
    """A new gate; ``code`` is what the door controller calls it (lowercase letters, digits, '-' and '_')."""
    code = (code or '').strip().lower()
    if not code:
        raise DomainError(_l('请填写门禁点编号'), field='code')
    if not GATE_CODE_RE.match(code):
        raise DomainError(_l('编号只能用小写字母、数字、“-”和“_”，最多 40 个字符，例如 north-gate'), field='code')
    name = _text(name, 'name', 60, _l('请填写门禁点名称'))
    if db.session.execute(sa.select(Gate.id).where(Gate.code == code)).first():
        raise DomainError(_l('编号 %(code)s 已经用过了', code=code), field='code')
    gate = Gate(code=code, name=name, active=True)
    db.session.add(gate)
    db.session.flush()
    return gate


def rename_gate(gate: Gate, name: str) -> Gate:
    gate.name = _text(name, 'name', 60, _l('请填写门禁点名称'))
    return gate


def set_gate_active(gate: Gate, active: bool) -> Gate:
    """Deactivate (or reactivate) a gate. Its grants stay as they are, but the export reports them 'revoked'
    while the gate is inactive, so each grant's ``updated_at`` is bumped for the next incremental sync."""
    if gate.active == active:
        return gate
    gate.active = active
    db.session.execute(sa.update(AccessGrant).where(AccessGrant.gate_id == gate.id).values(updated_at=utcnow()))
    return gate


def gates_query():
    """All gates, active first, by code: a select to paginate."""
    return sa.select(Gate).order_by(Gate.active.desc(), Gate.code, Gate.id)


def gates(*, active_only: bool = False) -> list[Gate]:
    query = gates_query()
    if active_only:
        query = query.where(Gate.active.is_(True))
    return list(db.session.execute(query).scalars())


# --- grants ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credential:
    kind: str
    ref: str


def clean_credentials(pairs) -> list[Credential]:
    """[(kind, ref), ...] -> Credentials, blanks dropped, refs trimmed. Raises DomainError for a bad one."""
    result = []
    for kind, ref in pairs:
        ref = unicodedata.normalize('NFKC', ref or '').strip()
        if not ref:
            continue
        if kind not in CREDENTIAL_KINDS:
            raise DomainError(_l('凭证类型只能是门禁卡、人脸或二维码'), field='credential_kind')
        field = {'card': 'card_ref', 'face': 'face_ref', 'qr': 'qr_ref'}[kind]
        result.append(Credential(kind, _text(ref, field, 80, _l('请填写凭证编号'))))
    if not result:
        raise DomainError(_l('请至少填写一种凭证：门禁卡号、人脸记录编号或二维码'), field='card_ref')
    return result


def is_living(resident: Resident) -> bool:
    return db.session.execute(sa.select(Occupancy.id).where(
        Occupancy.resident_id == resident.id, Occupancy.moved_out_on.is_(None)).limit(1)).first() is not None


def grant_access(resident: Resident, gate_list: list[Gate], credentials: list[Credential]) -> list[AccessGrant]:
    """Give ``resident`` each credential at each gate: one AccessGrant per (gate, credential).

    Refused (DomainError, nothing saved) when the resident lives in no room now, a gate is inactive, the same
    credential is already active there (for this resident or another), or a face credential would be the only
    way in at a gate (no active card/QR there and none given now).
    """
    if not gate_list:
        raise DomainError(_l('请选择至少一个门禁点'), field='gates')
    if not credentials:
        raise DomainError(_l('请至少填写一种凭证：门禁卡号、人脸记录编号或二维码'), field='card_ref')
    if not is_living(resident):
        raise DomainError(_l('%(name)s 当前没有入住任何房屋，不能开通门禁', name=resident.name), field='gates')
    gate_ids = {g.id for g in gate_list}
    for gate in gate_list:
        if not gate.active:
            raise DomainError(_l('门禁点“%(name)s”已停用', name=gate.name), field='gates')
    active = list(db.session.execute(sa.select(AccessGrant).where(
        AccessGrant.gate_id.in_(gate_ids), AccessGrant.revoked_at.is_(None))).scalars())
    given_other = any(c.kind in OTHER_WAYS_IN for c in credentials)
    for gate in gate_list:
        if any(c.kind == 'face' for c in credentials) and not given_other and not any(
                a.resident_id == resident.id and a.gate_id == gate.id and a.credential_kind in OTHER_WAYS_IN
                for a in active):
            raise DomainError(_l('人脸识别不能作为唯一的通行方式：请同时为“%(gate)s”开通门禁卡或二维码',
                                 gate=gate.name), field='face_ref')
        for credential in credentials:
            clash = next((a for a in active if a.gate_id == gate.id and a.credential_kind == credential.kind
                          and a.credential_ref == credential.ref), None)
            if clash is not None:
                field = {'card': 'card_ref', 'face': 'face_ref', 'qr': 'qr_ref'}[credential.kind]
                if clash.resident_id == resident.id:
                    raise DomainError(_l('“%(gate)s”已经开通了这个凭证', gate=gate.name), field=field)
                raise DomainError(_l('凭证 %(ref)s 在“%(gate)s”已授权给其他住户', ref=credential.ref, gate=gate.name),
                                  field=field)
    now = utcnow()
    grants = [AccessGrant(resident_id=resident.id, gate_id=gate.id, credential_kind=c.kind, credential_ref=c.ref,
                          granted_at=now, updated_at=now)
              for gate in sorted(gate_list, key=lambda g: g.code) for c in credentials]
    db.session.add_all(grants)
    db.session.flush()
    return grants


def revoke_grant(grant: AccessGrant, reason: str) -> AccessGrant:
    """Revoke one grant with a reason (kept in the history). Refused if it is already revoked, or if it is the
    last card/QR of its gate while a face grant there is still active (face would be the only way in)."""
    if grant.revoked_at is not None:
        raise DomainError(_l('这条授权已经撤销过了'))
    reason = _text(reason, 'reason', 200, _l('请填写撤销原因'))
    if grant.credential_kind in OTHER_WAYS_IN:
        others = list(db.session.execute(sa.select(AccessGrant.credential_kind).where(
            AccessGrant.resident_id == grant.resident_id, AccessGrant.gate_id == grant.gate_id,
            AccessGrant.revoked_at.is_(None), AccessGrant.id != grant.id)).scalars())
        if 'face' in others and not any(kind in OTHER_WAYS_IN for kind in others):
            raise DomainError(_l('撤销后人脸识别将成为唯一的通行方式：请先撤销该门禁点的人脸授权'), field='reason')
    now = utcnow()
    grant.revoked_at = now
    grant.revoke_reason = reason
    grant.updated_at = now
    return grant


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


def active_grants(resident: Resident) -> list[AccessGrant]:
    """The resident's active grants, gates loaded (one query)."""
    query = (sa.select(AccessGrant).where(AccessGrant.resident_id == resident.id, AccessGrant.revoked_at.is_(None))
             .options(joinedload(AccessGrant.gate)).order_by(AccessGrant.granted_at.desc(), AccessGrant.id.desc()))
    return list(db.session.execute(query).scalars())


def revoked_grants_query(resident: Resident):
    """The resident's revoked grants (the history), newest revocation first: a select to paginate."""
    return (sa.select(AccessGrant).where(AccessGrant.resident_id == resident.id, AccessGrant.revoked_at.is_not(None))
            .options(joinedload(AccessGrant.gate)).order_by(AccessGrant.revoked_at.desc(), AccessGrant.id.desc()))


def grants_query(*, resident_id: int | None = None, gate_id: int | None = None, status: str | None = None):
    query = (sa.select(AccessGrant).options(joinedload(AccessGrant.gate), joinedload(AccessGrant.resident))
             .order_by(AccessGrant.id.desc()))
    if resident_id is not None:
        query = query.where(AccessGrant.resident_id == resident_id)
    if gate_id is not None:
        query = query.where(AccessGrant.gate_id == gate_id)
    if status == 'active':
        query = query.where(AccessGrant.revoked_at.is_(None))
    elif status == 'revoked':
        query = query.where(AccessGrant.revoked_at.is_not(None))
    return query


def status_of(grant: AccessGrant) -> str:
    """'active' only while neither the grant is revoked nor its gate deactivated: what a controller enforces."""
    return 'active' if grant.revoked_at is None and grant.gate.active else 'revoked'


# --- finding residents (on these pages) -----------------------------------------------------------------------

def search_residents(q: str):
    """Residents by name (contains), mobile (exact) or room address ('1-2-1201'); a select to paginate."""
    q = ''.join(ch for ch in unicodedata.normalize('NFKC', q or '') if unicodedata.category(ch) != 'Cc').strip()[:60]
    query = sa.select(Resident).order_by(Resident.name, Resident.id)
    if not q:
        return query
    conditions = [Resident.name.contains(q, autoescape=True)]
    mobile = normalize_mobile(q)
    if mobile:
        conditions.append(Resident.mobile == mobile)
    address = parse_room_address(q)
    if address is not None and address.code:
        conditions.append(Resident.id.in_(sa.select(Occupancy.resident_id).join(Room, Room.id == Occupancy.room_id)
                                          .where(Room.code == address.code, Occupancy.moved_out_on.is_(None))))
    return query.where(sa.or_(*conditions))


def current_rooms(resident_ids) -> dict[int, list[Room]]:
    """resident id -> rooms they live in now, in one query (for lists)."""
    ids = list(resident_ids)
    result: dict[int, list[Room]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.execute(sa.select(Occupancy).where(Occupancy.resident_id.in_(ids),
                                                         Occupancy.moved_out_on.is_(None))
                              .options(joinedload(Occupancy.room).joinedload(Room.building),
                                       joinedload(Occupancy.room).joinedload(Room.unit))).scalars()
    for occupancy in rows:
        result[occupancy.resident_id].append(occupancy.room)
    return result


# --- the door-controller export --------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace('+00:00', 'Z')


def to_utc(value: datetime) -> datetime:
    """An aware or naive (taken as UTC) datetime in aware UTC. Raises DomainError when it can't be."""
    try:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise DomainError(_l('时间超出范围'), field='changed_since') from None


def encode_cursor(grant: AccessGrant) -> str:
    return f'{_iso(grant.updated_at)}~{grant.id}'


def decode_cursor(raw: str) -> tuple[datetime, int]:
    try:
        stamp, _, ident = raw.partition('~')
        when = datetime.fromisoformat(stamp.replace('Z', '+00:00'))
        return to_utc(when), int(ident)
    except (ValueError, TypeError, DomainError):
        raise DomainError(_l('续传标记无效，请用上一次返回的 cursor'), field='cursor') from None


@dataclass
class ExportPage:
    rows: list[dict]
    next_since: str | None
    has_more: bool
    cursor: str | None


def export_grants(*, changed_since: datetime | None = None, cursor: str | None = None,
                  limit: int = EXPORT_LIMIT) -> ExportPage:
    """Grants changed after ``changed_since`` (all of them without it), active and revoked, oldest change first.

    At most ``limit`` rows; when there are more, ``has_more`` is true and ``cursor`` continues the same export
    (pass it with the same ``changed_since``). ``next_since`` is the newest ``updated_at`` sent so far: pass it
    as ``changed_since`` next time. A controller applies rows by ``grant_id`` (idempotent): add or update
    'active' ones, remove 'revoked' ones.
    """
    limit = max(1, min(int(limit), EXPORT_MAX_LIMIT))
    query = (sa.select(AccessGrant).options(joinedload(AccessGrant.gate), joinedload(AccessGrant.resident))
             .order_by(AccessGrant.updated_at, AccessGrant.id))
    since = to_utc(changed_since) if changed_since is not None else None
    if since is not None:
        query = query.where(AccessGrant.updated_at > since)
    if cursor:
        after_at, after_id = decode_cursor(cursor)
        query = query.where(sa.or_(AccessGrant.updated_at > after_at,
                                   sa.and_(AccessGrant.updated_at == after_at, AccessGrant.id > after_id)))
    grants = list(db.session.execute(query.limit(limit + 1)).scalars())
    has_more = len(grants) > limit
    grants = grants[:limit]
    rows = [{'grant_id': g.id, 'resident_id': g.resident_id, 'resident_name': g.resident.name,
             'gate_code': g.gate.code, 'credential_kind': g.credential_kind, 'credential_ref': g.credential_ref,
             'status': status_of(g), 'granted_at': _iso(g.granted_at), 'revoked_at': _iso(g.revoked_at),
             'updated_at': _iso(g.updated_at)} for g in grants]
    if grants:
        next_since = _iso(grants[-1].updated_at)
    elif cursor:
        next_since = _iso(decode_cursor(cursor)[0])
    else:
        next_since = _iso(since)
    return ExportPage(rows, next_since, has_more, encode_cursor(grants[-1]) if has_more else None)


def export_csv(rows: list[dict]) -> str:
    """The rows as CSV (UTF-8 with BOM, so Excel/WPS open it as Chinese text); every cell neutralised."""
    buffer = io.StringIO()
    buffer.write('\ufeff')
    writer = csv.writer(buffer, lineterminator='\r\n')
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell('' if row[c] is None else row[c]) for c in EXPORT_COLUMNS])
    return buffer.getvalue()
