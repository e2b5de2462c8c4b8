"""微信支付 WeChat Pay API v3 with the project's own merchant account (直连商户), through the ``wechatpayv3`` SDK.

Keys: the merchant's API certificate private key signs our requests (``cert_serial_no`` names its certificate); the
**微信支付公钥** (WeChat Pay public key, ``public_key`` + ``public_key_id``) checks what WeChat Pay signs, answers and
notifications alike. The older platform-certificate mode is not offered: the SDK would download the certificates
from WeChat Pay when the adapter is built, and a notification naming an unknown certificate would make it download
again — so a notification whose ``Wechatpay-Serial`` is not the configured public key id is refused before the SDK
sees it.

Paying: H5 (``/v3/pay/transactions/h5``) on a phone, the resident goes to ``h5_url`` and comes back to our result
page (``redirect_url``); Native (``/v3/pay/transactions/native``) on a desktop, the page shows ``code_url`` as a QR
code to scan with WeChat.

Notifications (支付成功通知): a JSON body signed with SHA256-RSA over ``timestamp\\nnonce\\nbody\\n`` (headers
``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Signature``, ``Wechatpay-Serial``), whose ``resource`` is
encrypted with AEAD_AES_256_GCM under the APIv3 key. The SDK checks the signature and decrypts; it does not look at
the timestamp, so this adapter refuses one more than ``MAX_NOTICE_AGE_SECONDS`` away from now (a replay).

No 代扣: WeChat Pay's 委托代扣 (papay) is a separate product with its own contract, APIs and notifications, which
the SDK does not cover.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from flask_babel import lazy_gettext as _l

from .base import MAX_NOTICE_AGE_SECONDS, Checkout, Field, Notice, Provider, ProviderError, Refused, Urls

log = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8))
#: WeChat Pay's limit on ``description``, in UTF-8 bytes
DESCRIPTION_BYTES = 127
SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048'
HEADERS = ('Wechatpay-Signature', 'Wechatpay-Timestamp', 'Wechatpay-Nonce', 'Wechatpay-Serial',
           'Wechatpay-Signature-Type')
#: trade_state of a notified transaction -> what it means for our order (None: still waiting for the payer)
_TRADE_STATES = {'SUCCESS': True, 'USERPAYING': None, 'NOTPAY': None,
                 'CLOSED': False, 'PAYERROR': False, 'REVOKED': False, 'REFUND': False}
#: seconds the SDK waits for WeChat Pay (connect, read)
TIMEOUT = (5, 15)


def beijing_time(moment: datetime) -> datetime:
    """An aware (or naive UTC) datetime in Beijing time, to the second."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).replace(microsecond=0)


def clip_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    return text.encode('utf-8')[:limit].decode('utf-8', errors='ignore')


def _header(headers, name: str) -> str:
    """A header's value whatever its case (Flask's headers ignore case; a plain dict does not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lowered), None)
    return str(value or '').strip()


class WechatPay(Provider):
    name = 'wechat'
    fields = (
        Field('mchid', _l('商户号'), help=_l('微信支付商户平台 → 账户中心 → 商户信息')),
        Field('appid', _l('公众号/小程序 AppID'), help=_l('与商户号绑定的公众号或小程序的 AppID')),
        Field('cert_serial_no', _l('商户证书序列号'), help=_l('商户平台 → 账户中心 → API安全 → API证书')),
        Field('private_key', _l('商户私钥'), secret=True, multiline=True,
              help=_l('API证书的私钥文件 apiclient_key.pem 的全部内容')),
        Field('apiv3_key', _l('APIv3 密钥'), secret=True, help=_l('商户平台 → API安全 → 设置APIv3密钥（32位）')),
        Field('public_key_id', _l('微信支付公钥ID'), help=_l('商户平台 → API安全 → 微信支付公钥，以 PUB_KEY_ID_ 开头')),
        Field('public_key', _l('微信支付公钥'), multiline=True,
              help=_l('下载的微信支付公钥文件 pub_key.pem 的全部内容')),
    )
    supports_autopay = False

    @property
    def merchant_id(self) -> str:
        return str(self.config.get('mchid') or '').strip()

    def _setting(self, name: str) -> str:
        return str(self.config.get(name) or '').strip()

    def _client(self, pay_type):
        """The SDK's client in 微信支付公钥 mode (no network when built). ValueError when the settings are
        incomplete or a key does not load."""
        from wechatpayv3 import WeChatPay as Sdk

        missing = [spec.name for spec in self.fields if spec.required and not self._setting(spec.name)]
        if missing:
            raise ValueError(f'missing settings: {", ".join(missing)}')
        if len(self._setting('apiv3_key').encode()) != 32:
            raise ValueError('the APIv3 key is not 32 bytes')
        try:
            return Sdk(wechatpay_type=pay_type, mchid=self.merchant_id, appid=self._setting('appid'),
                       private_key=self._setting('private_key'), cert_serial_no=self._setting('cert_serial_no'),
                       apiv3_key=self._setting('apiv3_key'), public_key=self._setting('public_key'),
                       public_key_id=self._setting('public_key_id'), timeout=TIMEOUT)
        except Exception as exc:  # the SDK raises bare Exception for a key that does not load
            raise ValueError(str(exc)) from None

    # --- paying ------------------------------------------------------------------------------------------------

    def checkout(self, order, urls: Urls, *, subject: str, client_ip: str = '', mobile: bool = True) -> Checkout:
        from wechatpayv3 import WeChatPayType

        pay_type = WeChatPayType.H5 if mobile else WeChatPayType.NATIVE
        try:
            client = self._client(pay_type)
        except ValueError as exc:
            log.warning('WeChat Pay settings of project %s are unusable: %s', self.tenant_id, exc)
            raise ProviderError(_l('微信支付的商户设置不完整或有误，请联系物业')) from None
        scene_info = {'payer_client_ip': client_ip} if client_ip else {}
        if mobile:  # H5 needs the payer's IP: without it WeChat Pay refuses the order (a ProviderError)
            scene_info['h5_info'] = {'type': 'Wap'}
        kwargs = dict(description=clip_utf8(subject, DESCRIPTION_BYTES) or str(order.number),
                      out_trade_no=str(order.number),
                      amount={'total': int(order.amount_fen), 'currency': order.currency or 'CNY'},
                      notify_url=urls.notify, scene_info=scene_info, pay_type=pay_type)
        if getattr(order, 'expires_at', None) is not None:
            kwargs['time_expire'] = beijing_time(order.expires_at).isoformat()
        try:
            code, message = client.pay(**kwargs)
        except Exception as exc:  # requests' network errors, or the SDK's 'failed to verify the signature'
            log.warning('WeChat Pay order %s not placed: %s', order.number, exc)
            raise ProviderError(_l('微信支付暂时无法下单，请稍后再试')) from None
        answer = _json(message)
        link = answer.get('h5_url' if mobile else 'code_url') if code == 200 else None
        if not isinstance(link, str) or not link:
            log.warning('WeChat Pay order %s refused (HTTP %s): %s %s', order.number, code, answer.get('code'),
                        answer.get('message') or str(message)[:300])
            raise ProviderError(_l('微信支付暂时无法下单，请稍后再试'))
        if mobile:
            # WeChat sends the phone back here after paying (documented for H5: the value URL-encoded)
            return Checkout(redirect_url=f'{link}&redirect_url={quote(urls.back, safe="")}')
        return Checkout(qr_text=link)

    # --- notifications -----------------------------------------------------------------------------------------

    def verify(self, headers, body: bytes, form) -> Notice:
        signed = {name: _header(headers, name) for name in HEADERS}
        if not (signed['Wechatpay-Signature'] and signed['Wechatpay-Nonce'] and signed['Wechatpay-Serial']):
            raise Refused('missing Wechatpay-* signature headers')
        if signed['Wechatpay-Signature-Type'] != SIGNATURE_TYPE:
            raise Refused(f'unsupported signature type {signed["Wechatpay-Signature-Type"][:40]!r}')
        if signed['Wechatpay-Serial'] != self._setting('public_key_id'):
            # another key (or a platform certificate): the SDK would go and download certificates
            raise Refused(f'signed with {signed["Wechatpay-Serial"][:60]!r}, not the configured public key')
        timestamp = signed['Wechatpay-Timestamp']
        if not (timestamp.isdigit() and len(timestamp) <= 12):
            raise Refused('missing or malformed Wechatpay-Timestamp')
        if abs(time.time() - int(timestamp)) > MAX_NOTICE_AGE_SECONDS:
            raise Refused(f'stale timestamp {timestamp}')
        try:
            client = self._client(None)
        except ValueError as exc:
            raise Refused(f'merchant settings unusable: {exc}') from None
        from wechatpayv3.utils import load_public_key, rsa_verify

        try:
            text = bytes(body or b'').decode('utf-8')
            # the SDK's own check, first on its own so that the reason logged tells a forgery from a wrong APIv3 key
            if not rsa_verify(timestamp, signed['Wechatpay-Nonce'], text, signed['Wechatpay-Signature'],
                              load_public_key(self._setting('public_key'))):
                raise Refused('bad signature')
            data = client.callback(signed, text)  # checks the signature again, decrypts the resource
        except Refused:
            raise
        except Exception as exc:  # a body that is not UTF-8 or JSON, an unknown algorithm ...
            raise Refused(f'unreadable notification: {type(exc).__name__}: {exc}') from None
        if not data:
            raise Refused('not an encrypted resource, or one that does not decrypt with the APIv3 key')
        try:
            return self._notice(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Refused(f'malformed notification: {type(exc).__name__}: {exc}') from None

    def _notice(self, data: dict) -> Notice:
        if not isinstance(data, dict) or not isinstance(data.get('resource'), dict):
            raise ValueError('no resource')
        if data.get('event_type') != 'TRANSACTION.SUCCESS':
            raise Refused(f'unknown event type {str(data.get("event_type"))[:60]!r}')
        resource = data['resource']
        if str(resource['mchid']) != self.merchant_id:
            raise Refused(f'merchant {str(resource["mchid"])[:40]!r} is not this project\'s')
        if str(resource['appid']) != self._setting('appid'):
            raise Refused(f'app {str(resource["appid"])[:40]!r} is not this project\'s')
        if resource['trade_state'] not in _TRADE_STATES:  # a state we do not know fails nothing
            raise ValueError(f'unknown trade_state {str(resource["trade_state"])[:40]!r}')
        state = _TRADE_STATES[resource['trade_state']]
        order_number = _text(resource['out_trade_no'])
        if state is None:  # still waiting for the payer: the order stays pending
            return Notice(kind='pending', order_number=order_number, succeeded=False, merchant_id=self.merchant_id,
                          raw=resource)
        amount = resource['amount']
        # ``total`` is the order's amount; ``payer_total`` is what the payer's own money covered after WeChat Pay
        # coupons (代金券), which the merchant is settled for all the same. The bills are paid by ``total``.
        total = amount['total']
        if isinstance(total, bool) or not isinstance(total, int):
            raise ValueError('amount.total is not an integer')
        paid_at = None
        if resource.get('success_time'):
            paid_at = datetime.fromisoformat(resource['success_time'])
            if paid_at.tzinfo is None:
                raise ValueError('success_time without a UTC offset')
            paid_at = paid_at.astimezone(UTC)
        return Notice(kind='payment', order_number=order_number, succeeded=bool(state),
                      merchant_id=str(resource['mchid']), txn_id=_text(resource['transaction_id']),
                      amount_fen=total, currency=_text(amount['currency']), paid_at=paid_at,
                      failure_reason=None if state else (str(resource.get('trade_state_desc') or '')[:200] or
                                                         str(resource['trade_state'])),
                      raw=resource)

    def answer(self, ok: bool):
        if ok:
            return '', 204, {}
        return (json.dumps({'code': 'FAIL', 'message': '失败'}, ensure_ascii=False), 400,
                {'Content-Type': 'application/json; charset=utf-8'})


def _json(message) -> dict:
    if isinstance(message, bytes):
        message = message.decode('utf-8', errors='replace')
    try:
        answer = json.loads(message or '{}')
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _text(value) -> str:
    """A non-empty identifier from the notification (an order number, a transaction id, a currency)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValueError(f'not an identifier: {str(value)[:70]!r}')
    return value.strip()


ADAPTER = WechatPay
