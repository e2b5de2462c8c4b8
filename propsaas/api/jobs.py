import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint

from ..jobs.models import JobRecord
from ..models_base import get_or_404
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of, paginate

PREFIX = '/jobs'
blp = Blueprint('api_jobs', __name__, description='Background jobs of this project (staff)')


class JobSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={'description': 'queued, running, done or failed'})
    progress = ma.fields.Integer(required=True)
    result = ma.fields.Dict(allow_none=True)
    has_file = ma.fields.Boolean(required=True)
    error = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


@blp.route('', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(JobSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
def list_jobs(args):
    """Jobs of this project, newest first."""
    return paginate(sa.select(JobRecord).order_by(JobRecord.created_at.desc(), JobRecord.id.desc()), args)


@blp.route('/<int:job_id>', methods=['GET'])
@blp.response(200, JobSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@api_login_required('admin', 'staff')
def get_job(job_id):
    """One job with its progress, result and error."""
    return get_or_404(JobRecord, job_id)
