"""Which host kind a blueprint serves: tenant pages 404 on the platform host and the other way round."""
from flask import abort, g


def tenant_only(bp) -> None:
    @bp.before_request
    def _require_tenant_host():
        if not g.get('tenant'):
            abort(404)


def platform_only(bp) -> None:
    @bp.before_request
    def _require_platform_host():
        if not g.get('platform'):
            abort(404)
