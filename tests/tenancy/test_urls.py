"""Absolute URLs on a tenant's host: the request's host inside a request there, the configured public form outside."""
from __future__ import annotations

import pytest
from flask import g

from propsaas.tenancy.urls import tenant_url


def test_outside_a_request_the_public_form_is_used(app, make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant):
        assert tenant_url('/my/bills/1/pay') == f'http://{tenant.slug}.localhost/my/bills/1/pay'
        app.config.update(PUBLIC_URL_SCHEME='https', PUBLIC_URL_PORT='8443')
        try:
            assert tenant_url('/x', tenant) == f'https://{tenant.slug}.localhost:8443/x'
        finally:
            app.config.update(PUBLIC_URL_SCHEME='http', PUBLIC_URL_PORT=None)
        with pytest.raises(ValueError):
            tenant_url('relative/path')


def test_inside_a_request_on_the_tenant_host_its_host_and_port_are_kept(app, make_tenant, in_tenant):
    tenant = make_tenant()
    with in_tenant(tenant), app.test_request_context('/', base_url=f'http://{tenant.slug}.localhost:5099'):
        g.tenant = tenant
        assert tenant_url('/pay/notify/wechat') == f'http://{tenant.slug}.localhost:5099/pay/notify/wechat'
