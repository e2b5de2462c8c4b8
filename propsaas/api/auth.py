"""Bearer tokens: issue with login + password, revoke; and the decorator every API resource uses."""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import g, request
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort
from marshmallow import validate

from ..auth import services
from ..auth.models import AccessToken
from ..auth.passwords import MAX_LENGTH
from ..auth.throttle import throttle_failed_logins
from ..extensions import db
from .schemas import errors

PREFIX = '/auth'
blp = Blueprint('api_auth', __name__, description='Bearer tokens')
BEARER = [{'bearerAuth': []}]


def _bearer() -> str | None:
    header = request.headers.get('Authorization', '')
    scheme, _, value = header.partition(' ')
    return value.strip() if scheme.lower() == 'bearer' and value.strip() else None


def api_login_required(*roles: str, duties: tuple[str, ...] = ()):
    """Authenticate the request by its bearer token (of this tenant); 401 without one, 403 for other roles, and,
    when ``duties`` are named, 403 for staff with none of them (admins have every duty)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            raw = _bearer()
            user = services.user_for_token(raw, AccessToken.API) if raw else None
            if user is None:
                abort(401)
            if roles and user.role not in roles:
                abort(403)
            if duties and not any(user.has_duty(duty) for duty in duties):
                abort(403)
            g.api_user, g.api_token = user, raw
            return view(*args, **kwargs)

        return wrapper

    return decorator


class TokenRequestSchema(ma.Schema):
    login = ma.fields.String(required=True, validate=validate.Length(min=1, max=254),
                             metadata={'description': 'mainland mobile number or e-mail'})
    password = ma.fields.String(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = ma.fields.DateTime(required=True)


@blp.route('/token', methods=['POST'])
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@errors(blp, 400, 401, 403, 415, 422, 429)
@throttle_failed_logins
def issue_token(body):
    """Log in and get a bearer token for this tenant."""
    user = services.authenticate(body['login'], body['password'])
    if user is None:
        abort(401, message=_('手机号/邮箱或密码不正确'))
    token, expires_at = services.issue_api_token(user)
    db.session.commit()
    return {'token': token, 'expires_at': expires_at}


@blp.route('/token', methods=['DELETE'])
@blp.response(204)
@errors(blp, 401, 403)
@blp.doc(security=BEARER)
@api_login_required()
def revoke_token():
    """Revoke the token this request was made with (log out)."""
    services.revoke_token(g.api_token, AccessToken.API)
    db.session.commit()
