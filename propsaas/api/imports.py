"""API: Resident imports (preview, commit, error report).

    POST /api/v1/imports                      multipart ``file``: check and store; the preview runs as a job
    GET  /api/v1/imports                      batches, newest first
    GET  /api/v1/imports/{batch_id}           status and stats
    GET  /api/v1/imports/{batch_id}/rows      preview rows (?kind=new|update|unchanged|duplicate|error|warning)
    POST /api/v1/imports/{batch_id}/commit    import every valid row in one transaction (a job)
    GET  /api/v1/imports/{batch_id}/errors.xlsx  rejected rows with 错误原因

For admins and staff with the service desk duty. Mobiles and ID numbers are masked in every response.
"""
from __future__ import annotations

import io

import marshmallow as ma
from flask import g, request, send_file
from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from marshmallow import validate

from ..errors import DomainError
from ..extensions import db
from ..jobs.queue import QueueUnavailable, enqueue
from ..models_base import get_or_404
from ..residents import import_services as services
from ..residents.models import ImportBatch
from ..storage import path_for
from .auth import BEARER, api_login_required
from .schemas import ErrorSchema, PageArgsSchema, PageSchema, errors, page_of, paginate

PREFIX = '/imports'
XLSX_MIMETYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


class _ImportsBlueprint(Blueprint):
    """The upload is multipart/form-data: the API-wide "bodies are JSON" check (api/__init__) lets it through.

    Every other before_request function (the tenant host check) is registered unchanged.
    """

    def before_request(self, f):
        from . import _require_json_body

        if f is _require_json_body:
            def _json_body_except_upload():
                if request.endpoint == f'{self.name}.upload_import' and request.mimetype == 'multipart/form-data':
                    return None
                return _require_json_body()

            return super().before_request(_json_body_except_upload)
        return super().before_request(f)


blp = _ImportsBlueprint('api_imports', __name__, description='Resident imports (preview, commit, error report)')


def _conflict(view):
    return blp.alt_response(409, schema=ErrorSchema, description='the batch is not in a state that allows this '
                            '(still being checked, already committed, nothing valid to import)')(view)


#: admins, or staff with the service desk duty (403 otherwise)
_import_user = api_login_required('admin', 'staff', duties=('service_desk',))


class ImportUploadSchema(ma.Schema):
    file = Upload(required=True, metadata={'description': '.xlsx, or .csv in UTF-8 (BOM or not) or GBK; '
                                                          'at most 10 MB and 50,000 rows'})


class ImportBatchSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    filename = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={
        'description': 'previewing, previewed, committing, committed or failed'})
    stats = ma.fields.Dict(required=True, metadata={
        'description': 'row counts by kind (new, update, unchanged, duplicate, error, total, warnings), '
                       'rooms_to_create ...; after the commit also residents_created, rooms_created ...'})
    error = ma.fields.String(allow_none=True, metadata={'description': 'why the batch failed'})
    has_error_report = ma.fields.Boolean(required=True)
    progress = ma.fields.Integer(allow_none=True, metadata={'description': '0-100 while a job works on it'})
    created_at = ma.fields.DateTime(required=True)
    committed_at = ma.fields.DateTime(allow_none=True)


class ImportRowFieldsSchema(ma.Schema):
    code = ma.fields.String(metadata={'description': "canonical room code, '1-2-301'"})
    name = ma.fields.String()
    mobile = ma.fields.String(metadata={'description': 'masked: 138****1234'})
    other_phone = ma.fields.String()
    role = ma.fields.String(metadata={'description': 'owner, renter or family'})
    moved_in_on = ma.fields.String(metadata={'description': 'ISO date'})
    area_m2 = ma.fields.String(metadata={'description': "decimal string, '89.50'"})
    id_number = ma.fields.String(metadata={'description': 'masked to the last 4 characters'})


class ImportRowErrorSchema(ma.Schema):
    column = ma.fields.String(required=True, metadata={'description': 'the column as titled in the file'})
    message = ma.fields.String(required=True)


class ImportRowSchema(ma.Schema):
    line = ma.fields.Integer(required=True, metadata={'description': 'row number in the uploaded sheet'})
    kind = ma.fields.String(required=True, metadata={'description': 'new, update, unchanged, duplicate or error'})
    fields = ma.fields.Nested(ImportRowFieldsSchema, required=True)
    errors = ma.fields.List(ma.fields.Nested(ImportRowErrorSchema), required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)
    changes = ma.fields.List(ma.fields.String(), required=True, metadata={'description': 'what an update changes'})
    duplicate_of = ma.fields.Integer(allow_none=True, metadata={'description': 'the earlier line it repeats'})


class ImportRowArgsSchema(PageArgsSchema):
    kind = ma.fields.String(validate=validate.OneOf(['new', 'update', 'unchanged', 'duplicate', 'error', 'warning']))


class ImportRowPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(ImportRowSchema), required=True)


def _out(batch: ImportBatch) -> dict:
    job = services.running_job(batch)
    return {'id': batch.id, 'filename': batch.filename, 'status': batch.status, 'stats': batch.stats or {},
            'error': batch.error, 'has_error_report': bool(batch.report_file),
            'progress': job.progress if job is not None else None, 'created_at': batch.created_at,
            'committed_at': batch.committed_at}


@blp.route('', methods=['POST'])
@blp.arguments(ImportUploadSchema, location='files')
@blp.response(201, ImportBatchSchema)
@errors(blp, 401, 403, 415, 422)
@blp.doc(security=BEARER)
@_import_user
def upload_import(files):
    """Upload a residents file (multipart field ``file``). Checked by content (a renamed .exe, a zip bomb, a
    file over 10 MB or 50,000 rows, a sheet without a recognisable header: 422 with the reason); then the
    preview runs as a job: poll the batch until ``status`` is ``previewed`` (or ``failed``)."""
    upload = files['file']
    try:
        batch = services.start_import(upload.filename or '', upload.read(services.MAX_READ), g.api_user.id)
    except DomainError as e:
        db.session.rollback()
        abort(422, message=str(e.message), errors={'file': [str(e.message)]})
    batch_id = batch.id
    try:
        enqueue(services.preview_import, batch_id, key=services.preview_key(batch_id), requested_by_id=g.api_user.id)
    except QueueUnavailable:
        pass  # recorded; sent when the queue is back. The batch says previewing meanwhile.
    db.session.expire_all()
    return _out(get_or_404(ImportBatch, batch_id))


@blp.route('', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(ImportBatchSchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@_import_user
def list_imports(args):
    """Import batches of this project, newest first."""
    page = paginate(services.list_batches(), args)
    return {**page, 'items': [_out(b) for b in page['items']]}


@blp.route('/<int:batch_id>', methods=['GET'])
@blp.response(200, ImportBatchSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@_import_user
def get_import(batch_id):
    """One batch: status, row counts, progress of the job working on it."""
    return _out(get_or_404(ImportBatch, batch_id))


@blp.route('/<int:batch_id>/rows', methods=['GET'])
@blp.arguments(ImportRowArgsSchema, location='query')
@blp.response(200, ImportRowPageSchema)
@errors(blp, 401, 403, 404, 422)
@blp.doc(security=BEARER)
@_import_user
def list_import_rows(args, batch_id):
    """The preview: every row with its kind and reason, in file order; ``kind`` filters (``warning``: valid rows
    with a warning)."""
    batch = get_or_404(ImportBatch, batch_id)
    items, total = services.preview_rows(batch, args.get('kind'), args['page'], args['per_page'])
    rows = []
    for item in items:
        shown = services.display_row(item)
        rows.append({**shown, 'errors': [{'column': c, 'message': m} for c, m in shown.get('errors') or []]})
    return {'items': rows, 'page': args['page'], 'per_page': args['per_page'], 'total': total,
            'pages': (total + args['per_page'] - 1) // args['per_page']}


@blp.route('/<int:batch_id>/commit', methods=['POST'])
@blp.response(202, ImportBatchSchema)
@_conflict
@errors(blp, 401, 403, 404, 415)
@blp.doc(security=BEARER)
@_import_user
def commit_import(batch_id):
    """Import every valid row (new, update) in one transaction, as a job; poll the batch for ``committed``.
    409 when the batch is still being checked, already committed or has nothing valid."""
    batch = get_or_404(ImportBatch, batch_id)
    try:
        services.claim_commit(batch)
    except DomainError as e:
        db.session.rollback()
        abort(e.status_code, message=str(e.message))
    try:
        enqueue(services.commit_import, batch_id, key=services.commit_key(batch_id), requested_by_id=g.api_user.id)
    except QueueUnavailable:
        pass
    db.session.expire_all()
    return _out(get_or_404(ImportBatch, batch_id))


@blp.route('/<int:batch_id>/errors.xlsx', methods=['GET'])
@blp.response(200, description='the rejected rows as uploaded, with 错误原因 and the original line number',
              content_type=XLSX_MIMETYPE)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
@_import_user
def import_error_report(batch_id):
    """The error report (.xlsx); 404 when the batch has no rejected rows (or is still being checked)."""
    batch = get_or_404(ImportBatch, batch_id)
    if not batch.report_file or not path_for(batch.report_file).exists():
        abort(404)
    return send_file(io.BytesIO(path_for(batch.report_file).read_bytes()), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f'import-errors-{batch.id}.xlsx')
