"""API: Gates and access permissions (门禁), and the door-controller sync export.

Staff read gates and grants; admins manage gates; admins and staff with the service-desk or security duty grant,
revoke and export. A door controller (or its integration) logs in as a staff user with the security duty.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, abort, g
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..residents import access as services
from ..residents.models import AccessGrant, Gate, Resident
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/access'
blp = Blueprint('api_access', __name__, description='Gates and access permissions (门禁)')

_ID = validate.Range(min=1, max=MAX_ID)


class AccessGateSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={'description': "the door controller's name, 'north-gate'"})
    name = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)


class AccessGateListArgsSchema(PageArgsSchema):
    active = ma.fields.Boolean()


class AccessGateCreateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=40),
                            metadata={'description': "lowercase letters, digits, '-' and '_'"})
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))


class AccessGatePatchSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=60))
    active = ma.fields.Boolean(metadata={'description': 'false deactivates: its grants export as revoked'})


class AccessGrantSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    resident_id = ma.fields.Integer(required=True)
    resident_name = ma.fields.Function(lambda grant: grant.resident.name, required=True)
    gate_id = ma.fields.Integer(required=True)
    gate_code = ma.fields.Function(lambda grant: grant.gate.code, required=True)
    gate_name = ma.fields.Function(lambda grant: grant.gate.name, required=True)
    credential_kind = ma.fields.String(required=True, metadata={'description': 'card, face or qr'})
    credential_ref = ma.fields.String(required=True, metadata={'description': 'card number, face record ref, QR'})
    status = ma.fields.Function(services.status_of, required=True,
                                metadata={'description': 'active, or revoked (also while the gate is inactive)'})
    granted_at = ma.fields.DateTime(required=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revoke_reason = ma.fields.String(allow_none=True)
    updated_at = ma.fields.DateTime(required=True)


class AccessGrantListArgsSchema(PageArgsSchema):
    resident_id = ma.fields.Integer(validate=_ID)
    gate_id = ma.fields.Integer(validate=_ID)
    status = ma.fields.String(validate=validate.OneOf(('active', 'revoked')),
                              metadata={'description': 'active: not revoked; revoked: revoked'})


class AccessCredentialSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(services.CREDENTIAL_KINDS))
    ref = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))


class AccessGrantCreateSchema(ma.Schema):
    resident_id = ma.fields.Integer(required=True, validate=_ID)
    gate_ids = ma.fields.List(ma.fields.Integer(validate=_ID), required=True, validate=validate.Length(min=1, max=200))
    credentials = ma.fields.List(ma.fields.Nested(AccessCredentialSchema), required=True,
                                 validate=validate.Length(min=1, max=3),
                                 metadata={'description': 'each credential at each gate; a face credential needs '
                                                          'a card or qr at the same gate (here or already active)'})


class AccessGrantCreatedSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AccessGrantSchema), required=True)


class AccessRevokeSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class AccessExportArgsSchema(ma.Schema):
    format = ma.fields.String(load_default='json', validate=validate.OneOf(('json', 'csv')))
    changed_since = ma.fields.DateTime(metadata={'description': 'ISO 8601; without an offset it is UTC. Grants '
                                                                'changed after it (all grants without it)'})
    cursor = ma.fields.String(validate=validate.Length(max=100),
                              metadata={'description': 'continue an export that had has_more'})
    limit = ma.fields.Integer(load_default=services.EXPORT_LIMIT,
                              validate=validate.Range(min=1, max=services.EXPORT_MAX_LIMIT))


class AccessExportRowSchema(ma.Schema):
    grant_id = ma.fields.Integer(required=True)
    resident_id = ma.fields.Integer(required=True)
    resident_name = ma.fields.String(required=True)
    gate_code = ma.fields.String(required=True)
    credential_kind = ma.fields.String(required=True)
    credential_ref = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={'description': 'active: allow; revoked: remove'})
    granted_at = ma.fields.String(required=True)
    revoked_at = ma.fields.String(allow_none=True)
    updated_at = ma.fields.String(required=True)


class AccessExportSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AccessExportRowSchema), required=True)
    count = ma.fields.Integer(required=True)
    next_since = ma.fields.String(allow_none=True, required=True,
                                  metadata={'description': 'pass as changed_since next time (newest updated_at)'})
    has_more = ma.fields.Boolean(required=True, metadata={'description': 'call again with cursor'})
    cursor = ma.fields.String(allow_none=True, required=True)


def _managers_only():
    if not services.can_manage_grants(g.api_user):
        abort(403)


def _loads(model, param: str, name: str):
    """Resolve the path's object (scoped: another project's is 404) before the body is read."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            kwargs[name] = get_or_404(model, kwargs.pop(param))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _grant(grant_id: int) -> AccessGrant:
    return db.session.execute(services.grants_query().where(AccessGrant.id == grant_id)).unique().scalar_one()


# --- gates ------------------------------------------------------------------------------------------------------

@blp.route('/gates', methods=['GET'])
@blp.arguments(AccessGateListArgsSchema, location='query')
@blp.response(200, page_of(AccessGateSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
def list_gates(args):
    """Gates of the project, active first, by code."""
    query = services.gates_query()
    if 'active' in args:
        query = query.where(Gate.active.is_(args['active']))
    return paginate(query, args)


@blp.route('/gates', methods=['POST'])
@blp.arguments(AccessGateCreateSchema)
@blp.response(201, AccessGateSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required('admin')
def create_gate(body):
    """Add a gate (admins). 422 when the code is taken or malformed."""
    gate = services.create_gate(body['code'], body['name'])
    db.session.commit()
    return gate


@blp.route('/gates/<int:gate_id>', methods=['PATCH'])
@api_login_required('admin')
@_loads(Gate, 'gate_id', 'gate')
@blp.arguments(AccessGatePatchSchema)
@blp.response(200, AccessGateSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def update_gate(body, gate):
    """Rename a gate, or deactivate/reactivate it (admins)."""
    if 'name' in body:
        services.rename_gate(gate, body['name'])
    if 'active' in body:
        services.set_gate_active(gate, body['active'])
    db.session.commit()
    return gate


# --- grants -----------------------------------------------------------------------------------------------------

@blp.route('/grants', methods=['GET'])
@blp.arguments(AccessGrantListArgsSchema, location='query')
@blp.response(200, page_of(AccessGrantSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
def list_grants(args):
    """Grants, newest first, with their history (revoked ones stay). Filters: resident, gate, status."""
    return paginate(services.grants_query(resident_id=args.get('resident_id'), gate_id=args.get('gate_id'),
                                          status=args.get('status')), args)


@blp.route('/grants', methods=['POST'])
@blp.arguments(AccessGrantCreateSchema)
@blp.response(201, AccessGrantCreatedSchema)
@errors(blp, 400, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
def create_grants(body):
    """Give a resident each credential at each gate (admin, service desk, security). Refused (422, nothing
    saved) for a resident who lives nowhere now, an inactive gate, a credential already active there, or a face
    credential that would be the only way in at a gate."""
    _managers_only()
    resident = db.session.execute(sa.select(Resident).where(Resident.id == body['resident_id'])).scalar_one_or_none()
    if resident is None:
        raise DomainError(_l('找不到这个住户'), field='resident_id')
    wanted = set(body['gate_ids'])
    gates = [gate for gate in services.gates() if gate.id in wanted]
    if len(gates) != len(wanted):
        raise DomainError(_l('找不到其中的门禁点'), field='gate_ids')
    credentials = services.clean_credentials([(c['kind'], c['ref']) for c in body['credentials']])
    grants = services.grant_access(resident, gates, credentials)
    db.session.commit()
    return {'items': [_grant(grant.id) for grant in grants]}


@blp.route('/grants/<int:grant_id>', methods=['GET'])
@api_login_required('admin', 'staff')
@_loads(AccessGrant, 'grant_id', 'grant')
@blp.response(200, AccessGrantSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def get_grant(grant):
    """One grant."""
    return grant


@blp.route('/grants/<int:grant_id>/revoke', methods=['POST'])
@api_login_required('admin', 'staff')
@_loads(AccessGrant, 'grant_id', 'grant')
@blp.arguments(AccessRevokeSchema)
@blp.response(200, AccessGrantSchema)
@errors(blp, 400, 401, 403, 404, 415, 422)
@blp.doc(security=BEARER)
def revoke_grant(body, grant):
    """Revoke a grant with a reason (kept in the history). 422 if already revoked, or if it is the last card/QR
    of its gate while a face grant there is active."""
    _managers_only()
    services.revoke_grant(grant, body['reason'])
    db.session.commit()
    return _grant(grant.id)


# --- the door-controller export ---------------------------------------------------------------------------------

@blp.route('/export', methods=['GET'])
@blp.arguments(AccessExportArgsSchema, location='query')
@blp.response(200, AccessExportSchema)
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER, responses={200: {'content': {'text/csv': {'schema': {'type': 'string'}}}}})
@api_login_required('admin', 'staff')
def export(args):
    """Grants for a door controller: all, or those changed after ``changed_since``, oldest change first.

    Apply rows by ``grant_id``: add/update ``active`` ones, remove ``revoked`` ones. Store ``next_since`` and send
    it as ``changed_since`` next time. At most ``limit`` rows per call: while ``has_more`` is true, call again
    with the same ``changed_since`` and the returned ``cursor``. ``format=csv`` gives the same rows as CSV (cells
    that would run as formulas are neutralised) with ``X-Next-Since``, ``X-Has-More`` and ``X-Cursor`` headers.
    """
    _managers_only()
    page = services.export_grants(changed_since=args.get('changed_since'), cursor=args.get('cursor'),
                                  limit=args['limit'])
    if args['format'] == 'csv':
        headers = {'X-Next-Since': page.next_since or '', 'X-Has-More': 'true' if page.has_more else 'false',
                   'X-Cursor': page.cursor or '', 'Content-Disposition': 'attachment; filename="access-grants.csv"'}
        return Response(services.export_csv(page.rows), mimetype='text/csv', headers=headers)
    return {'items': page.rows, 'count': len(page.rows), 'next_since': page.next_since, 'has_more': page.has_more,
            'cursor': page.cursor}
