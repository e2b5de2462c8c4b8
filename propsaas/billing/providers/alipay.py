"""支付宝 Alipay (open platform, 公钥 mode) with the project's own application, through ``python-alipay-sdk``.

Keys: the application's private key (应用私钥) signs what we send, RSA2 (SHA256withRSA); the Alipay public key
(支付宝公钥) checks what Alipay signs. Signing is local: a checkout is a redirect to the gateway with signed query
parameters, so it needs no network.

Paying: 手机网站支付 ``alipay.trade.wap.pay`` on a phone, 电脑网站支付 ``alipay.trade.page.pay`` on a desktop.

Notifications (异步通知): a form POST whose ``sign`` covers every other parameter but ``sign_type``, sorted as
``k=v&...``. Besides the signature, a notice must be fresh (``notify_time``, Beijing time), for this application
(``app_id``) and, for payments, for this seller (``seller_id``). ``trade_status``: TRADE_SUCCESS / TRADE_FINISHED paid,
TRADE_CLOSED failed (or, after a full refund, closed: a paid order stays paid), WAIT_BUYER_PAY a ``'pending'``
notice (the order stays pending). Alipay's domestic notices carry no currency: amounts are always CNY.

代扣 (商家扣款 ``GENERAL_WITHHOLDING``): the resident signs an agreement on Alipay's page
(``alipay.user.agreement.page.sign``, a locally signed redirect); its notices (``dut_user_sign`` /
``dut_user_unsign``) come to the same notify URL. A charge is ``alipay.trade.pay`` with ``agreement_params`` (a
server call, signed, whose answer's signature is checked by the SDK); its outcome follows as an ordinary payment
notice. ``alipay.user.agreement.unsign`` ends an agreement. The merchant must have the 商家扣款 product signed with
Alipay for this to work.
"""
from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from .base import MAX_NOTICE_AGE_SECONDS, ChargeResult, Checkout, Field, Notice, Provider, ProviderError, Refused, Urls

log = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8))
TIME_FORMAT = '%Y-%m-%d %H:%M:%S'
#: Alipay's limit on ``subject``, in characters
SUBJECT_CHARS = 256
_AMOUNT_RE = re.compile(r'^[0-9]{1,10}(\.[0-9]{1,2})?\Z')  # ASCII digits only
_TRUE = ('1', 'true', 'yes', 'on', '是')
#: trade_status of a payment notice -> paid (True), failed (False), still waiting (None)
_TRADE_STATUSES = {'TRADE_SUCCESS': True, 'TRADE_FINISHED': True, 'TRADE_CLOSED': False, 'WAIT_BUYER_PAY': None}
#: 商家扣款: the agreement's product (personal side) and the sale product charged under it
AGREEMENT_PRODUCT = 'GENERAL_WITHHOLDING_P'
CHARGE_PRODUCT = 'GENERAL_WITHHOLDING'
DEFAULT_SCENE = 'DEFAULT|DEFAULT'
#: the SDK's gateways (``debug=True``: the sandbox), where the browser is sent with the signed query
GATEWAY, SANDBOX_GATEWAY = 'https://openapi.alipay.com/gateway.do', 'https://openapi-sandbox.dl.alipaydev.com/gateway.do'
#: Alipay's answer codes of a charge: 10000 paid, 10003 waiting (the notice follows), 40004 declined (business)
_CHARGE_ACCEPTED, _CHARGE_DECLINED = ('10000', '10003'), '40004'


def beijing(moment: datetime) -> str:
    """'YYYY-MM-DD HH:MM:SS' in Beijing time (Alipay's timestamps) of an aware (or naive UTC) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def yuan(fen: int) -> str:
    """25660 -> '256.60' (integer arithmetic, never a float)."""
    fen = int(fen)
    if fen <= 0:
        raise ValueError('an amount to pay must be positive')
    return f'{fen // 100}.{fen % 100:02d}'


def parse_amount(text) -> int:
    """Alipay's yuan amount ('256.60') -> fen, exactly; ValueError for more than two decimals or anything else."""
    if not isinstance(text, str) or not _AMOUNT_RE.match(text):
        raise ValueError(f'amount {str(text)[:30]!r} is not yuan with at most two decimals')
    return int(Decimal(text) * 100)


def key_material(text: str):
    """A key as pasted: PEM (with its BEGIN line) as it is, or the bare base64 the Alipay key tool shows, as DER
    bytes (PKCS#1 or PKCS#8 private key, X.509 public key) — pycryptodome reads both."""
    text = (text or '').strip()
    if '-----BEGIN' in text:
        return text
    try:
        return base64.b64decode(''.join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return text  # the SDK then fails to load it: reported as unusable settings


class Alipay(Provider):
    name = 'alipay'
    fields = (
        Field('app_id', _l('应用 APPID'), help=_l('支付宝开放平台 → 控制台 → 我的应用 → 应用详情')),
        Field('app_private_key', _l('应用私钥'), secret=True, multiline=True,
              help=_l('用支付宝密钥工具生成的应用私钥（RSA2）')),
        Field('alipay_public_key', _l('支付宝公钥'), multiline=True,
              help=_l('开放平台 → 应用 → 开发设置 → 接口加签方式（公钥模式）中的“支付宝公钥”')),
        Field('seller_id', _l('收款支付宝账号 PID'),
              help=_l('以 2088 开头的 16 位数字：商家平台 → 账号中心 → 主账号信息')),
        Field('sandbox_gateway', _l('使用支付宝沙箱环境'), required=False,
              help=_l('填 1 时连接支付宝沙箱网关（openapi-sandbox），只用于联调测试')),
        Field('autopay', _l('开通自动代扣（商家扣款）'), required=False,
              help=_l('填 1 时住户可签约自动代扣；须先在支付宝商家平台签约“商家扣款”产品')),
        Field('agreement_scene', _l('商家扣款签约场景码'), required=False,
              help=_l('开通商家扣款时支付宝给出的场景码，未给出时留空（DEFAULT|DEFAULT）')),
    )
    supports_autopay = True

    @property
    def autopay_ready(self) -> bool:
        """商家扣款 is a product the merchant signs with Alipay on its own: offered only once the admin says so."""
        return str(self.config.get('autopay') or '').strip().lower() in ('1', 'true', 'yes', 'on')

    @property
    def merchant_id(self) -> str:
        return self._setting('seller_id')

    def _setting(self, name: str) -> str:
        return str(self.config.get(name) or '').strip()

    def _client(self):
        """The SDK's client (RSA2). ValueError when the settings are incomplete or a key does not load."""
        from alipay import AliPay

        missing = [spec.name for spec in self.fields if spec.required and not self._setting(spec.name)]
        if missing:
            raise ValueError(f'missing settings: {", ".join(missing)}')
        try:
            return AliPay(appid=self._setting('app_id'), sign_type='RSA2',
                          app_private_key_string=key_material(self._setting('app_private_key')),
                          alipay_public_key_string=key_material(self._setting('alipay_public_key')),
                          debug=self._sandbox())
        except Exception as exc:  # pycryptodome: ValueError / IndexError / TypeError for a key it cannot read
            raise ValueError(f'{type(exc).__name__}: {exc}') from None

    def _usable_client(self, message):
        try:
            return self._client()
        except ValueError as exc:
            log.warning('Alipay settings of project %s are unusable: %s', self.tenant_id, exc)
            raise ProviderError(message) from None

    def _sandbox(self) -> bool:
        return self._setting('sandbox_gateway').lower() in _TRUE

    def _redirect(self, client, method: str, biz_content: dict, urls: Urls) -> str:
        """The gateway URL with the signed request (no network). ``client_api`` rather than the SDK's
        ``api_alipay_trade_wap_pay``/``..._page_pay`` so the request's ``timestamp`` is Beijing time (the SDK takes the
        server's local clock, UTC here) and the phone product is the documented ``QUICK_WAP_WAY``."""
        signed = client.client_api(method, biz_content, return_url=urls.back, notify_url=urls.notify,
                                   timestamp=beijing(datetime.now(UTC)))
        return f'{SANDBOX_GATEWAY if self._sandbox() else GATEWAY}?{signed}'

    # --- paying ------------------------------------------------------------------------------------------------

    def checkout(self, order, urls: Urls, *, subject: str, client_ip: str = '', mobile: bool = True) -> Checkout:
        client = self._usable_client(_l('支付宝的商户设置不完整或有误，请联系物业'))
        biz = {'out_trade_no': str(order.number), 'total_amount': yuan(order.amount_fen),
               'subject': (subject or str(order.number))[:SUBJECT_CHARS],
               'product_code': 'QUICK_WAP_WAY' if mobile else 'FAST_INSTANT_TRADE_PAY'}
        if getattr(order, 'expires_at', None) is not None:
            biz['time_expire'] = beijing(order.expires_at)
        if mobile:
            biz['quit_url'] = urls.back  # where 支付宝's page sends a payer who gives up
        method = 'alipay.trade.wap.pay' if mobile else 'alipay.trade.page.pay'
        return Checkout(redirect_url=self._redirect(client, method, biz, urls))

    # --- notifications -----------------------------------------------------------------------------------------

    def verify(self, headers, body: bytes, form) -> Notice:
        try:
            params = {str(key): str(form[key]) for key in form}
        except (TypeError, KeyError) as exc:
            raise Refused(f'not a form: {exc}') from None
        signature, sign_type = params.pop('sign', ''), params.pop('sign_type', '')
        if not signature:
            raise Refused('no sign')
        if sign_type != 'RSA2':
            raise Refused(f'sign_type {sign_type[:20]!r}, not RSA2')
        try:
            client = self._client()
        except ValueError as exc:
            raise Refused(f'merchant settings unusable: {exc}') from None
        try:
            genuine = client.verify(dict(params), signature)
        except Exception as exc:  # a signature that is not base64 ...
            raise Refused(f'unreadable signature: {type(exc).__name__}') from None
        if not genuine:
            raise Refused('bad signature')
        try:
            notified = datetime.strptime(params.get('notify_time', ''), TIME_FORMAT).replace(tzinfo=BEIJING)
        except ValueError:
            raise Refused('missing or malformed notify_time') from None
        if abs(time.time() - notified.timestamp()) > MAX_NOTICE_AGE_SECONDS:
            raise Refused(f'stale notify_time {params["notify_time"]}')
        if params.get('app_id') != self._setting('app_id'):
            raise Refused(f'app_id {params.get("app_id", "")[:40]!r} is not this project\'s')
        try:
            notify_type = params.get('notify_type', '')
            if notify_type == 'trade_status_sync':
                return self._payment(params)
            if notify_type in ('dut_user_sign', 'dut_user_unsign'):
                return self._mandate(params, signed=notify_type == 'dut_user_sign')
        except (KeyError, ValueError) as exc:
            raise Refused(f'malformed notification: {type(exc).__name__}: {exc}') from None
        raise Refused(f'unknown notify_type {notify_type[:40]!r}')

    def _payment(self, params: dict) -> Notice:
        if params.get('seller_id') != self.merchant_id:
            raise Refused(f'seller_id {params.get("seller_id", "")[:40]!r} is not this project\'s')
        status = params['trade_status']
        if status not in _TRADE_STATUSES:
            raise ValueError(f'unknown trade_status {status[:40]!r}')
        outcome, number = _TRADE_STATUSES[status], _identifier(params['out_trade_no'])
        if outcome is None:  # WAIT_BUYER_PAY: the payer has not paid yet; the order stays pending
            return Notice(kind='pending', order_number=number, succeeded=False, merchant_id=params['seller_id'],
                          raw=params)
        paid_at = None
        if params.get('gmt_payment'):
            paid_at = datetime.strptime(params['gmt_payment'], TIME_FORMAT).replace(tzinfo=BEIJING).astimezone(UTC)
        return Notice(kind='payment', order_number=number, succeeded=outcome, merchant_id=params['seller_id'],
                      txn_id=_identifier(params['trade_no']), amount_fen=parse_amount(params['total_amount']),
                      currency='CNY',  # Alipay's domestic notices name no currency: it is always CNY
                      paid_at=paid_at, failure_reason=None if outcome else '交易关闭（超时未付款或已全额退款）',
                      raw=params)

    def _mandate(self, params: dict, *, signed: bool) -> Notice:
        # An agreement notice names the application (checked above) and, in older ones, the partner; not a seller.
        if params.get('partner_id') and params['partner_id'] != self.merchant_id:
            raise Refused(f'partner_id {params["partner_id"][:40]!r} is not this project\'s')
        number = _identifier(params['external_agreement_no'])
        agreement = _identifier(params['agreement_no'])
        status = params.get('status', '')
        if signed and status != 'NORMAL':  # TEMP: stored, not in force yet
            return Notice(kind='pending', order_number=number, succeeded=False, merchant_id=self.merchant_id,
                          agreement_no=agreement, raw=params)
        return Notice(kind='mandate', order_number=number, succeeded=signed, merchant_id=self.merchant_id,
                      agreement_no=agreement, failure_reason=None if signed else '在支付宝解约', raw=params)

    def answer(self, ok: bool):
        return ('success' if ok else 'fail'), 200, {'Content-Type': 'text/plain; charset=utf-8'}

    # --- 代扣 (商家扣款) ----------------------------------------------------------------------------------------

    def mandate_checkout(self, mandate, urls: Urls, *, subject: str) -> Checkout:
        client = self._usable_client(_l('支付宝的商户设置不完整或有误，请联系物业'))
        biz = {'personal_product_code': AGREEMENT_PRODUCT, 'product_code': CHARGE_PRODUCT,
               'sign_scene': self._setting('agreement_scene') or DEFAULT_SCENE,
               'external_agreement_no': str(mandate.number), 'access_params': {'channel': 'ALIPAYAPP'}}
        if subject:
            biz['external_logon_id'] = subject[:100]  # shown on Alipay's signing page
        return Checkout(redirect_url=self._redirect(client, 'alipay.user.agreement.page.sign', biz, urls))

    def _call(self, method: str, biz: dict, **kwargs) -> dict:
        """A server call, signed; the answer's signature checked by the SDK. ProviderError when Alipay cannot be
        reached or its answer is not to be believed."""
        from alipay.exceptions import AliPayException, AliPayValidationError

        client = self._usable_client(_l('支付宝的商户设置不完整或有误，请联系物业'))
        try:
            answer = client.server_api(method, biz, timestamp=beijing(datetime.now(UTC)), **kwargs)
        except (AliPayException, AliPayValidationError, OSError, ValueError, KeyError, AttributeError) as exc:
            # OSError: urllib's URLError and timeouts; the others: an answer that is not signed JSON
            log.warning('Alipay %s failed for project %s: %s: %s', method, self.tenant_id, type(exc).__name__,
                        str(exc)[:300])
            raise ProviderError(_l('支付宝暂时无法处理，请稍后再试')) from None
        if not isinstance(answer, dict):
            raise ProviderError(_l('支付宝暂时无法处理，请稍后再试'))
        return answer

    def charge(self, mandate, order, urls: Urls, *, subject: str) -> ChargeResult:
        if not mandate.agreement_no:
            return ChargeResult(accepted=False, reason='代扣协议尚未生效')
        biz = {'out_trade_no': str(order.number), 'total_amount': yuan(order.amount_fen),
               'subject': (subject or str(order.number))[:SUBJECT_CHARS], 'product_code': CHARGE_PRODUCT,
               'agreement_params': {'agreement_no': str(mandate.agreement_no)}}
        answer = self._call('alipay.trade.pay', biz, notify_url=urls.notify)
        code = str(answer.get('code', ''))
        if code in _CHARGE_ACCEPTED:
            return ChargeResult(accepted=True)
        reason = str(answer.get('sub_msg') or answer.get('msg') or code)[:200]
        if code == _CHARGE_DECLINED:  # e.g. ACQ.BUYER_BALANCE_NOT_ENOUGH, ACQ.AGREEMENT_INVALID
            log.info('Alipay declined charge %s: %s %s', order.number, answer.get('sub_code'), reason)
            return ChargeResult(accepted=False, reason=reason)
        log.warning('Alipay charge %s not made: %s %s %s', order.number, code, answer.get('sub_code'), reason)
        raise ProviderError(_l('支付宝暂时无法处理，请稍后再试'))

    def cancel_mandate(self, mandate) -> None:
        if not mandate.agreement_no:
            return  # never signed at Alipay: nothing to end there
        answer = self._call('alipay.user.agreement.unsign',
                            {'agreement_no': str(mandate.agreement_no), 'personal_product_code': AGREEMENT_PRODUCT,
                             'sign_scene': self._setting('agreement_scene') or DEFAULT_SCENE})
        if str(answer.get('code', '')) != '10000':
            log.warning('Alipay unsign of %s refused: %s %s %s', mandate.number, answer.get('code'),
                        answer.get('sub_code'), answer.get('sub_msg'))
            raise ProviderError(_l('支付宝暂时无法解约，请稍后再试'))


def _identifier(value: str) -> str:
    value = (value or '').strip()
    if not value or len(value) > 64:
        raise ValueError(f'not an identifier: {value[:70]!r}')
    return value


ADAPTER = Alipay
