import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from .auth import BEARER, api_login_required
from .schemas import errors

PREFIX = '/me'
blp = Blueprint('api_me', __name__, description='The logged-in user')


class TenantBriefSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class MeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={'description': 'admin, staff or resident'})
    duties = ma.fields.List(ma.fields.String(), required=True)
    email = ma.fields.String(allow_none=True)
    mobile = ma.fields.String(attribute='masked_mobile', allow_none=True,
                              metadata={'description': 'masked: 138****1234'})
    locale = ma.fields.String(required=True, metadata={'description': 'zh_CN or en'})
    tenant = ma.fields.Nested(TenantBriefSchema, required=True)


@blp.route('', methods=['GET'])
@blp.response(200, MeSchema)
@errors(blp, 401, 403)
@blp.doc(security=BEARER)
@api_login_required()
def me():
    """Who the token belongs to, and in which project."""
    user = g.api_user
    return {**{key: getattr(user, key) for key in ('id', 'name', 'role', 'duties', 'email', 'masked_mobile')},
            'locale': user.locale or g.tenant.locale, 'tenant': g.tenant}
