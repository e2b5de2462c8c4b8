"""One error handler for the whole app: JSON in one shape under /api, a Chinese HTML page elsewhere."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from .errors import DomainError

CODES = {
    400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
    409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type', 422: 'validation_error',
    429: 'rate_limited', 500: 'server_error', 503: 'unavailable',
}


def default_message(status: int) -> str:
    return {
        400: _('请求格式不正确'),
        401: _('请先登录'),
        403: _('没有权限进行这个操作'),
        404: _('找不到这个页面或内容'),
        405: _('不支持这种请求方式'),
        413: _('提交的内容太大了'),
        415: _('请以 JSON 格式提交（Content-Type: application/json）'),
        422: _('提交的内容有误，请检查后重试'),
        429: _('尝试次数太多，请稍后再试'),
        503: _('服务暂时不可用，请稍后再试'),
    }.get(status, _('服务器出了点问题，我们会尽快处理'))


def wants_json() -> bool:
    return request.path.startswith('/api/') or request.path == '/healthz'


def json_error(status: int, message: str | None = None, *, code: str | None = None, fields: dict | None = None,
               headers: dict | None = None):
    body = {'error': {'code': code or CODES.get(status, 'error'), 'message': str(message or default_message(status)),
                      'fields': fields or {}}}
    return body, status, headers or {}


def _fields(data: dict) -> dict:
    """Field name -> problems. webargs nests them by location ({"json": {...}}); a problem with the body as a
    whole (not JSON, not an object) is a list: it goes under "_schema", as marshmallow names it."""
    fields = data.get('errors') or data.get('messages') or {}
    if isinstance(fields, dict) and len(fields) == 1 and next(iter(fields)) in ('json', 'query', 'form', 'view_args'):
        fields = next(iter(fields.values()))
    return fields if isinstance(fields, dict) else {'_schema': list(fields) if isinstance(fields, list) else [fields]}


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, 'data', None) or {}
    message = data.get('message') or getattr(error, 'propsaas_message', None)
    if wants_json():
        return json_error(status, message, code=data.get('code'), fields=_fields(data), headers=data.get('headers'))
    template = 'errors/suspended.html' if data.get('code') == 'tenant_suspended' else 'errors/error.html'
    return render_template(template, status=status, message=message or default_message(status)), status


def handle_domain_error(error: DomainError):
    if wants_json():
        message = str(error.message)  # lazy strings render in the request's language here
        return json_error(error.status_code, message, fields={error.field: [message]} if error.field else {})
    return render_template('errors/error.html', status=error.status_code, message=error.message), error.status_code


def init_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
