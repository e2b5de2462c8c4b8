import marshmallow as ma
from marshmallow import validate


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={'description': 'machine-readable, e.g. not_found'})
    message = ma.fields.String(required=True, metadata={'description': 'for people, in the user\'s language'})
    fields = ma.fields.Dict(required=True, metadata={'description': 'field name -> list of problems'})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageSchema(ma.Schema):
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)


def page_of(item_schema):
    """A list response: ``items`` plus the page it is and how many there are in all."""
    return type(f'{item_schema.__name__.removesuffix("Schema")}PageSchema', (PageSchema,),
                {'items': ma.fields.List(ma.fields.Nested(item_schema), required=True)})


def paginate(select, args: dict) -> dict:
    from ..extensions import db
    pagination = db.paginate(select, page=args['page'], per_page=args['per_page'], error_out=False)
    return {'items': pagination.items, 'page': pagination.page, 'per_page': pagination.per_page,
            'total': pagination.total, 'pages': pagination.pages}


ERROR_DESCRIPTIONS = {
    400: 'the body is not valid JSON',
    401: 'no valid bearer token (or wrong login/password)',
    403: 'the user\'s role may not do this, or the project is suspended',
    404: 'no such object in this project',
    415: 'the body is not application/json',
    422: 'invalid fields; see error.fields',
    409: 'the object is not in a state that allows this',
    429: 'too many failed attempts; try again later',
    503: 'background processing is unavailable; the job is recorded and runs when it is back',
}


def errors(blp, *statuses: int):
    """Document the error responses an operation gives, each with the one error body."""

    def decorator(view):
        for status in reversed(statuses):
            view = blp.alt_response(status, schema=ErrorSchema, description=ERROR_DESCRIPTIONS[status])(view)
        return view

    return decorator
