"""The JSON API at /api/v1 for the residents' app, the WeChat mini-program and integrations.

flask-smorest builds the OpenAPI document (/api/v1/openapi.json) from the same marshmallow schemas that
validate requests. Authentication is by bearer token only (never the session cookie), so the API needs no
CSRF token and a browser session can't be ridden into it.
"""
from flask import abort, request
from flask_smorest import Api as _Api

from ..extensions import csrf
from ..tenancy.guards import tenant_only
from .schemas import ErrorSchema


class Api(_Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """The app's own handler (errorpages) answers every error, in the shape ErrorSchema documents."""


def _require_json_body():
    if request.method in ('POST', 'PUT', 'PATCH') and (request.content_length or request.data) and not request.is_json:
        abort(415)


def _resources():
    from ..dashboard import api as dashboard
    from . import (
        access,
        arrears,
        auth,
        bills,
        fee_items,
        imports,
        inspections,
        jobs,
        late_fees,
        me,
        meters,
        notices,
        online,
        payments,
        property,
        renovations,
        repair_stats,
        repairs,
        residents,
        surveys,
        users,
    )

    return (auth, me, jobs, users, property, residents, imports, renovations, access, notices, surveys, fee_items,
            bills, meters, arrears, payments, late_fees, online, repair_stats, repairs, inspections, dashboard)


def _set_up_blueprints() -> None:
    """Once per process: blueprints are module-level, apps (tests, workers) may be several."""
    for module in _resources():
        tenant_only(module.blp)
        module.blp.before_request(_require_json_body)


def init_api(app) -> Api:
    api = Api(app, spec_kwargs={'info': {'description': 'PropSaaS tenant API. Authenticate with '
                                         '`POST /api/v1/auth/token`, then send `Authorization: Bearer <token>`.'}})
    api.spec.components.security_scheme('bearerAuth', {'type': 'http', 'scheme': 'bearer'})
    for module in _resources():
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix='/api/v1' + module.PREFIX)
    return api


_set_up_blueprints()
