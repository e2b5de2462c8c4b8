import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint

from ..auth.models import User
from ..models_base import get_or_404
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/users'
blp = Blueprint('api_users', __name__, description='Users of this project (admins)')


class UserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    duties = ma.fields.List(ma.fields.String(), required=True)
    email = ma.fields.String(allow_none=True)
    mobile = ma.fields.String(attribute='masked_mobile', allow_none=True)
    active = ma.fields.Boolean(required=True)
    invited = ma.fields.Boolean(required=True)


@blp.route('', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(UserSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('admin')
def list_users(args):
    """Users of this project by role and name."""
    return paginate(sa.select(User).order_by(User.role, User.name, User.id), args)


@blp.route('/<int:user_id>', methods=['GET'])
@blp.response(200, UserSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required('admin')
def get_user(user_id):
    """One user."""
    return get_or_404(User, user_id)
