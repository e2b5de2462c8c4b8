import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from ..auth.models import mask_mobile
from .auth import BEARER, api_login_required

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
    mobile = ma.fields.Function(lambda u: mask_mobile(u.mobile) or None, allow_none=True,
                                metadata={'description': 'masked: 138****1234'})
    locale = ma.fields.Function(lambda u: u.locale or g.tenant.locale)
    tenant = ma.fields.Function(lambda u: {'slug': g.tenant.slug, 'name': g.tenant.name})


@blp.route('', methods=['GET'])
@blp.response(200, MeSchema)
@blp.alt_response(401, description='no valid token')
@blp.doc(security=BEARER)
@api_login_required()
def me():
    """Who the token belongs to, and in which project."""
    return g.api_user
