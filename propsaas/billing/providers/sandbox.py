"""模拟支付: the built-in sandbox provider, so the demo and the tests run the whole online flow with no network.

It behaves like a real provider where it matters: the resident is sent to the provider's own page (served by this
app at ``/pay/sandbox/...``, for the resident who started the order only), and the outcome arrives later as an
asynchronous notification with the same shape as the real ones — a JSON body signed with HMAC-SHA256 over
``timestamp\\nnonce\\nbody`` under the project's sandbox key, in ``X-Sandbox-*`` headers — and goes through the same
checks (signature, freshness, merchant, currency, amount) and the same crediting as WeChat Pay and Alipay.

The key is derived from the app's SECRET_KEY and the project id, so it is per project and never stored. The sandbox
is offered only where the operator allows it (``PAYMENT_SANDBOX``: on in the demo and the tests, off by default).
It supports 代扣: a mandate is signed on the sandbox's page, and a charge is accepted (its notification follows
asynchronously) unless the project's sandbox setting ``decline_charges`` simulates an empty account.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l

from ...tenancy.urls import tenant_url
from .base import MAX_NOTICE_AGE_SECONDS, ChargeResult, Checkout, Field, Notice, Provider, Refused, Urls

HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE = 'X-Sandbox-Timestamp', 'X-Sandbox-Nonce', 'X-Sandbox-Signature'


def sandbox_key(tenant_id: int) -> bytes:
    return hmac.new(current_app.config['SECRET_KEY'].encode(), f'sandbox-notify:{int(tenant_id)}'.encode(),
                    hashlib.sha256).digest()


def sign(tenant_id: int, payload: dict, *, timestamp: int | None = None) -> tuple[dict, bytes]:
    """The headers and body of a notification of ``payload``, signed as the sandbox signs them."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    nonce = secrets.token_hex(12)
    signature = hmac.new(sandbox_key(tenant_id), b'%d\n%s\n%s' % (timestamp, nonce.encode(), body),
                         hashlib.sha256).hexdigest()
    return {HEADER_TIMESTAMP: str(timestamp), HEADER_NONCE: nonce, HEADER_SIGNATURE: signature}, body


class Sandbox(Provider):
    name = 'sandbox'
    fields = (Field('decline_charges', _l('模拟代扣失败（余额不足）'), required=False,
                    help=_l('填 1 时，所有代扣都被拒绝，用来演示代扣失败后的催缴')),)
    supports_autopay = True

    @property
    def merchant_id(self) -> str:
        return f'sandbox-{self.tenant_id}'

    def checkout(self, order, urls: Urls, *, subject: str, client_ip: str = '', mobile: bool = True) -> Checkout:
        return Checkout(redirect_url=tenant_url(f'/pay/sandbox/orders/{order.id}'))

    def mandate_checkout(self, mandate, urls: Urls, *, subject: str) -> Checkout:
        return Checkout(redirect_url=tenant_url(f'/pay/sandbox/mandates/{mandate.id}'))

    def charge(self, mandate, order, urls: Urls, *, subject: str) -> ChargeResult:
        if str(self.config.get('decline_charges') or '').strip() in ('1', 'true', 'yes', 'on'):
            return ChargeResult(accepted=False, reason='余额不足（模拟）')
        from ..online import deliver_sandbox_notice  # the sandbox's own asynchronous callback
        deliver_sandbox_notice(order, succeeded=True)
        return ChargeResult(accepted=True)

    def cancel_mandate(self, mandate) -> None:
        """Nothing to tell: the sandbox keeps no agreements of its own."""

    def notification(self, kind: str, number: str, *, succeeded: bool, amount_fen: int | None = None,
                     txn_id: str | None = None, agreement_no: str | None = None) -> tuple[dict, bytes]:
        """A signed notification as the sandbox sends it (the pay page, the charge, and the tests use it)."""
        payload = {'event': kind, 'merchant_id': self.merchant_id, 'order_number': number,
                   'status': 'SUCCESS' if succeeded else 'FAILED'}
        if kind == 'payment':
            payload.update(txn_id=txn_id or f'SBX{secrets.token_hex(10).upper()}', amount_fen=amount_fen,
                           currency='CNY', paid_at=datetime.now(UTC).isoformat(timespec='seconds'))
        else:
            payload.update(agreement_no=agreement_no or f'SBXA{secrets.token_hex(8).upper()}')
        return sign(self.tenant_id, payload)

    def verify(self, headers, body: bytes, form) -> Notice:
        timestamp, nonce = headers.get(HEADER_TIMESTAMP, ''), headers.get(HEADER_NONCE, '')
        signature = headers.get(HEADER_SIGNATURE, '')
        if not (timestamp.isdigit() and nonce and signature):
            raise Refused('missing or malformed X-Sandbox-* headers')
        expected = hmac.new(sandbox_key(self.tenant_id), b'%s\n%s\n%s' % (timestamp.encode(), nonce.encode(), body),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise Refused('bad signature')
        if abs(time.time() - int(timestamp)) > MAX_NOTICE_AGE_SECONDS:
            raise Refused(f'stale timestamp {timestamp}')
        try:
            data = json.loads(body)
            kind = data['event']
            succeeded = {'SUCCESS': True, 'FAILED': False}[data['status']]
            notice = dict(kind=kind, order_number=str(data['order_number']), succeeded=succeeded,
                          merchant_id=str(data['merchant_id']), raw=data)
            if kind == 'payment':
                amount = data['amount_fen']
                if isinstance(amount, bool) or not isinstance(amount, int):
                    raise ValueError('amount_fen is not an integer')
                notice.update(txn_id=str(data['txn_id']), amount_fen=amount, currency=str(data['currency']),
                              paid_at=datetime.fromisoformat(data['paid_at']))
            elif kind == 'mandate':
                notice.update(agreement_no=str(data['agreement_no']))
            else:
                raise ValueError(f'unknown event {kind!r}')
        except (ValueError, KeyError, TypeError) as exc:
            raise Refused(f'malformed notification: {exc}') from None
        return Notice(**notice)

    def answer(self, ok: bool):
        if ok:
            return json.dumps({'code': 'SUCCESS'}), 200, {'Content-Type': 'application/json'}
        return json.dumps({'code': 'FAIL', 'message': 'refused'}), 400, {'Content-Type': 'application/json'}


ADAPTER = Sandbox
