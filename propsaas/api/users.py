import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint

from ..auth.models import User, mask_mobile
from ..models_base import get_or_404
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, page_of, paginate

PREFIX = '/users'
blp = Blueprint('api_users', __name__, description='Users of this project (admins)')


class UserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    duties = ma.fields.List(ma.fields.String(), required=True)
    email = ma.fields.String(allow_none=True)
    mobile = ma.fields.Function(lambda u: mask_mobile(u.mobile) or None, allow_none=True)
    active = ma.fields.Boolean(required=True)
    invited = ma.fields.Boolean(required=True)


@blp.route('', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(UserSchema))
@blp.alt_response(401, description='no valid token')
@blp.doc(security=BEARER)
@api_login_required('admin')
def list_users(args):
    """Users of this project by role and name."""
    return paginate(sa.select(User).order_by(User.role, User.name, User.id), args)


@blp.route('/<int:user_id>', methods=['GET'])
@blp.response(200, UserSchema)
@blp.alt_response(404, description='no such user in this project')
@blp.doc(security=BEARER)
@api_login_required('admin')
def get_user(user_id):
    """One user."""
    return get_or_404(User, user_id)
