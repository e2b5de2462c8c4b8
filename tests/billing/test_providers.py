"""The WeChat Pay v3 and Alipay adapters against notifications built exactly as the providers build them (SECURITY.md
15: a bad signature, a stale or future timestamp, another merchant, a malformed body are refused — as ``Refused``,
never another exception), their checkouts (the request WeChat Pay receives, the URL Alipay's gateway receives, both
signed with the merchant's key), and Alipay's 代扣 with the network call replaced. No network; the database only
in the last test, which delivers genuine and forged notifications to ``/pay/notify/<provider>`` (``billing.online``).

Throwaway RSA keys: the merchant's (signs what we send) and the provider's (signs what the provider sends; its
public half is what a project configures), plus a stranger's for forged signatures.
"""
from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.error import URLError
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from propsaas.billing import online
from propsaas.billing.models import Payment, PaymentOrder
from propsaas.billing.providers import ProviderError, Refused, Urls, provider_class
from propsaas.billing.providers.alipay import parse_amount, yuan
from propsaas.billing.providers.base import MAX_NOTICE_AGE_SECONDS
from tests.billing.test_online import bills_of, money_rows, new_order
from tests.billing.test_runs import build_estate, run_period

BEIJING = timezone(timedelta(hours=8))
URLS = Urls(notify='https://yangguang.example.cn/pay/notify/{}', back='https://yangguang.example.cn/my/pay/orders/7')
APIV3_KEY = 'Abcdefghijklmnopqrstuvwxyz012345'  # 32 bytes, as the merchant platform requires
MCHID, APPID, PUBLIC_KEY_ID = '1900000109', 'wxd678efh567hg6787', 'PUB_KEY_ID_0119000001092025010100000000000001'
ALIPAY_APP_ID, SELLER_ID = '2021000123456789', '2088102177846880'


class Key:
    """An RSA key pair: PEM texts and SHA256withRSA (PKCS#1 v1.5) signing and checking, as both providers use."""

    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()).decode()
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, text: str) -> str:
        return base64.b64encode(self.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    def genuine(self, text: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(),
                                             hashes.SHA256())
        except InvalidSignature:
            return False
        return True


@pytest.fixture(scope='module')
def keys():
    return SimpleNamespace(merchant=Key(), provider=Key(), stranger=Key())


def an_order(number='PO20261203093000123456', amount_fen=25660, expires_in=timedelta(minutes=30)):
    return SimpleNamespace(id=7, number=number, amount_fen=amount_fen, currency='CNY',
                           expires_at=datetime.now(UTC).replace(microsecond=0) + expires_in)


def urls(provider):
    return Urls(notify=URLS.notify.format(provider), back=URLS.back)


def refused(adapter, headers, body=b'', form=None) -> str:
    with pytest.raises(Refused) as caught:
        adapter.verify(headers, body, form or {})
    return caught.value.reason


# --- WeChat Pay ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def wechat(keys):
    config = {'mchid': MCHID, 'appid': APPID, 'cert_serial_no': '444F4864EA9B34415B7C3B3E0E0A1D1E2F3A4B5C',
              'private_key': keys.merchant.private_pem, 'apiv3_key': APIV3_KEY, 'public_key_id': PUBLIC_KEY_ID,
              'public_key': keys.provider.public_pem}
    return provider_class('wechat')(config, tenant_id=1)


def transaction(**changes) -> dict:
    """A decrypted TRANSACTION.SUCCESS resource, as WeChat Pay documents it."""
    resource = {'mchid': MCHID, 'appid': APPID, 'out_trade_no': 'PO20261203093000123456',
                'transaction_id': '4200001234202612031234567890', 'trade_type': 'MWEB', 'trade_state': 'SUCCESS',
                'trade_state_desc': '支付成功', 'bank_type': 'OTHERS', 'attach': '',
                'success_time': '2026-12-03T09:31:05+08:00', 'payer': {'openid': 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'},
                'amount': {'total': 25660, 'payer_total': 25000, 'currency': 'CNY', 'payer_currency': 'CNY'}}
    resource.update(changes)
    return resource


def wechat_notification(key: Key, resource, *, event_type='TRANSACTION.SUCCESS', apiv3_key=APIV3_KEY,
                        timestamp=None, serial=PUBLIC_KEY_ID) -> tuple[dict, bytes]:
    """Headers and body exactly as WeChat Pay sends them: the resource encrypted with AES-256-GCM under the APIv3
    key, the body signed as ``timestamp\\nnonce\\nbody\\n`` with WeChat Pay's private key."""
    nonce = os.urandom(6).hex()  # 12 characters, used as the GCM nonce's bytes
    plain = resource if isinstance(resource, bytes) else json.dumps(resource, ensure_ascii=False).encode()
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plain, b'transaction')
    body = json.dumps({
        'id': 'EV-2018022511223320873', 'create_time': '2026-12-03T09:31:06+08:00',
        'resource_type': 'encrypt-resource', 'event_type': event_type, 'summary': '支付成功',
        'resource': {'original_type': 'transaction', 'algorithm': 'AEAD_AES_256_GCM', 'associated_data': 'transaction',
                     'nonce': nonce, 'ciphertext': base64.b64encode(ciphertext).decode()}},
        ensure_ascii=False, separators=(',', ':'))
    return signed_headers(key, body, timestamp=timestamp, serial=serial), body.encode()


def signed_headers(key: Key, body: str, *, timestamp=None, serial=PUBLIC_KEY_ID) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = os.urandom(16).hex()
    return {'Wechatpay-Timestamp': timestamp, 'Wechatpay-Nonce': nonce, 'Wechatpay-Serial': serial,
            'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
            'Wechatpay-Signature': key.sign(f'{timestamp}\n{nonce}\n{body}\n')}


def test_wechat_reads_a_genuine_notification(wechat, keys):
    headers, body = wechat_notification(keys.provider, transaction())
    notice = wechat.verify(headers, body, {})
    assert (notice.kind, notice.order_number, notice.succeeded) == ('payment', 'PO20261203093000123456', True)
    assert (notice.txn_id, notice.amount_fen, notice.currency) == ('4200001234202612031234567890', 25660, 'CNY')
    assert notice.amount_fen != notice.raw['amount']['payer_total']  # the order's total, not the payer's share
    assert notice.merchant_id == wechat.merchant_id == MCHID
    assert notice.paid_at == datetime(2026, 12, 3, 1, 31, 5, tzinfo=UTC)
    # header names in any case (a plain dict from another framework), the body as bytes
    lowered = {name.lower(): value for name, value in headers.items()}
    assert wechat.verify(lowered, body, {}).txn_id == notice.txn_id


def test_wechat_states_other_than_success(wechat, keys):
    headers, body = wechat_notification(keys.provider, transaction(trade_state='USERPAYING'))
    notice = wechat.verify(headers, body, {})
    assert (notice.kind, notice.succeeded) == ('pending', False)  # the order stays pending
    headers, body = wechat_notification(keys.provider, transaction(trade_state='PAYERROR',
                                                                   trade_state_desc='银行卡余额不足'))
    notice = wechat.verify(headers, body, {})
    assert (notice.kind, notice.succeeded, notice.failure_reason) == ('payment', False, '银行卡余额不足')


def test_wechat_refuses_forgeries_and_replays(wechat, keys):
    headers, body = wechat_notification(keys.provider, transaction())
    assert 'signature' in refused(wechat, {**headers, 'Wechatpay-Signature': keys.provider.sign('something else')},
                                  body)
    assert refused(wechat, headers, body.replace(b'"summary":"', b'"summary":"x')) == 'bad signature'  # tampered
    assert 'signature' in refused(wechat, {**headers, 'Wechatpay-Signature': '%%% not base64 %%%'}, body)
    forged, body = wechat_notification(keys.stranger, transaction(**{'amount': {'total': 1, 'currency': 'CNY'}}))
    assert 'signature' in refused(wechat, forged, body)
    # encrypted under another APIv3 key: the signature checks, the resource does not decrypt
    headers, body = wechat_notification(keys.provider, transaction(), apiv3_key='0' * 32)
    reason = refused(wechat, headers, body)
    assert 'decrypt' in reason and 'signature' not in reason
    # another key id: refused without the SDK going to download platform certificates
    headers, body = wechat_notification(keys.provider, transaction(), serial='5157F09EFDC096DE15EBE81A47057A72')
    assert 'configured public key' in refused(wechat, headers, body)
    for missing in ('Wechatpay-Signature', 'Wechatpay-Nonce', 'Wechatpay-Serial', 'Wechatpay-Timestamp',
                    'Wechatpay-Signature-Type'):
        headers, body = wechat_notification(keys.provider, transaction())
        refused(wechat, {name: value for name, value in headers.items() if name != missing}, body)
    assert 'signature type' in refused(wechat, {**headers, 'Wechatpay-Signature-Type': 'WECHATPAY2-SM2'}, body)


@pytest.mark.parametrize('offset', [-(MAX_NOTICE_AGE_SECONDS + 5), MAX_NOTICE_AGE_SECONDS + 5])
def test_wechat_refuses_a_stale_or_future_timestamp(wechat, keys, offset):
    headers, body = wechat_notification(keys.provider, transaction(), timestamp=int(time.time()) + offset)
    assert 'stale' in refused(wechat, headers, body)
    headers, body = wechat_notification(keys.provider, transaction(), timestamp='1733200000.5')
    assert 'Timestamp' in refused(wechat, headers, body)


def test_wechat_refuses_another_merchant_or_app(wechat, keys):
    headers, body = wechat_notification(keys.provider, transaction(mchid='1900000110'))
    assert 'merchant' in refused(wechat, headers, body)
    headers, body = wechat_notification(keys.provider, transaction(appid='wx0000000000000000'))
    assert 'app' in refused(wechat, headers, body)


@pytest.mark.parametrize('resource', [
    b'not json at all',
    b'[1, 2, 3]',
    transaction(amount={'total': '25660', 'currency': 'CNY'}),
    transaction(amount={'total': 256.6, 'currency': 'CNY'}),
    transaction(amount={'total': True, 'currency': 'CNY'}),
    transaction(amount={'currency': 'CNY'}),
    transaction(amount=None),
    transaction(out_trade_no=''),
    transaction(out_trade_no=None),
    transaction(transaction_id=12345),
    transaction(success_time='yesterday'),
    transaction(success_time='2026-12-03T09:31:05'),
    transaction(trade_state='SOMETHING_NEW'),
    transaction(trade_state=['SUCCESS']),
    {'mchid': MCHID},
])
def test_wechat_refuses_a_malformed_resource(wechat, keys, resource):
    headers, body = wechat_notification(keys.provider, resource)
    refused(wechat, headers, body)


def test_wechat_refuses_a_malformed_body_or_unknown_event(wechat, keys):
    headers, body = wechat_notification(keys.provider, transaction(), event_type='REFUND.SUCCESS')
    assert 'event type' in refused(wechat, headers, body)
    for text in ('not json', '{"resource_type": "encrypt-resource"}', '[]', '{"resource": "x"}',
                 '{"resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_SM4","nonce":"n","ciphertext":"c"}}',
                 '{"resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"n",'
                 '"ciphertext":"!!not base64"}}'):
        refused(wechat, signed_headers(keys.provider, text), text.encode())
    refused(wechat, signed_headers(keys.provider, 'x'), b'\xff\xfe not utf-8')


def test_wechat_refuses_with_unusable_settings(keys):
    adapter = provider_class('wechat')({'mchid': MCHID, 'public_key_id': PUBLIC_KEY_ID}, tenant_id=1)
    headers, body = wechat_notification(keys.provider, transaction())
    assert 'settings' in refused(adapter, headers, body)
    with pytest.raises(ProviderError):
        adapter.checkout(an_order(), urls('wechat'), subject='阳光花园 1-1-101 物业费等', client_ip='203.0.113.5')


def test_wechat_answers():
    adapter = provider_class('wechat')({}, tenant_id=1)
    body, status, _headers = adapter.answer(True)
    assert (body, status) == ('', 204)
    body, status, headers = adapter.answer(False)
    assert status >= 400 and json.loads(body)['code'] == 'FAIL' and 'json' in headers['Content-Type']
    assert not adapter.supports_autopay
    secrets = {spec.name for spec in adapter.fields if spec.secret}
    assert secrets == {'private_key', 'apiv3_key'}


class FakeWechatPay:
    """WeChat Pay's HTTP side: records what the SDK posts and answers, signed with WeChat Pay's key."""

    def __init__(self, key: Key, status=200, answer=None, error=None, signer=None):
        self.key, self.status, self.answer, self.error, self.signer = key, status, answer, error, signer
        self.calls = []

    def __call__(self, url, json=None, headers=None, **kwargs):
        self.calls.append(SimpleNamespace(url=url, body=json, headers=headers))
        if self.error:
            raise self.error
        text = __import__('json').dumps(self.answer)
        signed = signed_headers(self.signer or self.key, text)
        return SimpleNamespace(status_code=self.status, text=text,
                               headers={'Content-Type': 'application/json; charset=utf-8', **signed})


def test_wechat_h5_checkout(wechat, keys, monkeypatch):
    import wechatpayv3.core

    fake = FakeWechatPay(keys.provider, answer={'h5_url': 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?'
                                                          'prepay_id=wx2016121516420242444321ca0631331346&package=1405458241'})
    monkeypatch.setattr(wechatpayv3.core.requests, 'post', fake)
    order = an_order()
    subject = '阳光花园' * 20 + ' 1-1-101 物业费等'  # longer than WeChat's 127 bytes
    checkout = wechat.checkout(order, urls('wechat'), subject=subject, client_ip='203.0.113.5', mobile=True)
    assert checkout.qr_text is None
    assert checkout.redirect_url.startswith('https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=')
    assert checkout.redirect_url.endswith('&redirect_url=https%3A%2F%2Fyangguang.example.cn%2Fmy%2Fpay%2Forders%2F7')
    (call,) = fake.calls
    assert call.url == 'https://api.mch.weixin.qq.com/v3/pay/transactions/h5'
    sent = call.body
    assert sent['amount'] == {'total': 25660, 'currency': 'CNY'}
    assert (sent['out_trade_no'], sent['notify_url']) == (order.number, 'https://yangguang.example.cn/pay/notify/wechat')
    assert (sent['mchid'], sent['appid']) == (MCHID, APPID)
    assert sent['scene_info'] == {'payer_client_ip': '203.0.113.5', 'h5_info': {'type': 'Wap'}}
    assert len(sent['description'].encode()) <= 127 and subject.startswith(sent['description'])
    expire = datetime.fromisoformat(sent['time_expire'])
    assert sent['time_expire'].endswith('+08:00') and expire == order.expires_at
    # the request is signed with the merchant's key (WeChat Pay checks it with the merchant certificate)
    scheme, _, params = call.headers['Authorization'].partition(' ')
    fields = dict(part.split('=', 1) for part in params.split(','))
    fields = {name: value.strip('"') for name, value in fields.items()}
    assert (scheme, fields['mchid']) == ('WECHATPAY2-SHA256-RSA2048', MCHID)
    assert keys.merchant.genuine(f'POST\n/v3/pay/transactions/h5\n{fields["timestamp"]}\n{fields["nonce_str"]}\n'
                                 f'{json.dumps(sent)}\n', fields['signature'])


def test_wechat_native_checkout_on_a_desktop(wechat, keys, monkeypatch):
    import wechatpayv3.core

    fake = FakeWechatPay(keys.provider, answer={'code_url': 'weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00'})
    monkeypatch.setattr(wechatpayv3.core.requests, 'post', fake)
    checkout = wechat.checkout(an_order(amount_fen=1), urls('wechat'), subject='物业费', client_ip='', mobile=False)
    assert (checkout.qr_text, checkout.redirect_url) == ('weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00', None)
    (call,) = fake.calls
    assert call.url.endswith('/v3/pay/transactions/native')
    assert call.body['amount'] == {'total': 1, 'currency': 'CNY'} and 'scene_info' not in call.body


@pytest.mark.parametrize('fake', [
    lambda key: FakeWechatPay(key, status=400, answer={'code': 'PARAM_ERROR', 'message': '商户号与AppID不匹配'}),
    lambda key: FakeWechatPay(key, status=500, answer={'code': 'SYSTEM_ERROR', 'message': '系统错误'}),
    lambda key: FakeWechatPay(key, answer={'prepay_id': 'no link in it'}),
    lambda key: FakeWechatPay(key, error=__import__('requests').ConnectionError('network unreachable')),
    lambda key: FakeWechatPay(key, error=__import__('requests').Timeout('read timed out')),
    # an answer not signed by WeChat Pay (a man in the middle)
    lambda key: FakeWechatPay(key, answer={'h5_url': 'https://evil.example/'}, signer=Key()),
])
def test_wechat_checkout_failures_are_provider_errors(wechat, keys, monkeypatch, fake, caplog):
    import wechatpayv3.core

    monkeypatch.setattr(wechatpayv3.core.requests, 'post', fake(keys.provider))
    with pytest.raises(ProviderError) as caught:
        wechat.checkout(an_order(), urls('wechat'), subject='物业费', client_ip='203.0.113.5')
    assert str(caught.value.message) == '微信支付暂时无法下单，请稍后再试'
    assert 'WeChat Pay order PO20261203093000123456' in caplog.text  # the provider's word, for the operator


# --- Alipay -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def alipay_config(keys):
    return {'app_id': ALIPAY_APP_ID, 'app_private_key': keys.merchant.private_pem,
            'alipay_public_key': keys.provider.public_pem, 'seller_id': SELLER_ID}


@pytest.fixture(scope='module')
def alipay(alipay_config):
    return provider_class('alipay')(alipay_config, tenant_id=1)


def alipay_signed(key: Key, params: dict) -> dict:
    """Form parameters signed as Alipay signs them: RSA2 over the sorted ``k=v&...`` of all but sign/sign_type."""
    text = '&'.join(f'{k}={v}' for k, v in sorted(params.items()) if k not in ('sign', 'sign_type'))
    return {**params, 'sign_type': 'RSA2', 'sign': key.sign(text)}


def beijing_now(offset: int = 0) -> str:
    return (datetime.now(BEIJING) + timedelta(seconds=offset)).strftime('%Y-%m-%d %H:%M:%S')


def trade_notice(**changes) -> dict:
    params = {'notify_time': beijing_now(), 'notify_type': 'trade_status_sync',
              'notify_id': 'ac05099524730693a8b330c5ecf72da9786', 'charset': 'utf-8', 'version': '1.0',
              'app_id': ALIPAY_APP_ID, 'auth_app_id': ALIPAY_APP_ID, 'seller_id': SELLER_ID,
              'trade_no': '2026120322001404120512345678', 'out_trade_no': 'PO20261203093000123456',
              'buyer_id': '2088102122524333', 'buyer_logon_id': '159****5620', 'trade_status': 'TRADE_SUCCESS',
              'total_amount': '256.60', 'receipt_amount': '256.60', 'buyer_pay_amount': '256.60',
              'subject': '阳光花园 1-1-101 物业费等', 'gmt_create': '2026-12-03 09:30:10',
              'gmt_payment': '2026-12-03 09:31:05',
              'fund_bill_list': '[{"amount":"256.60","fundChannel":"ALIPAYACCOUNT"}]'}
    params.update(changes)
    return params


def test_alipay_reads_a_genuine_notification(alipay, keys):
    notice = alipay.verify({}, b'', alipay_signed(keys.provider, trade_notice()))
    assert (notice.kind, notice.order_number, notice.succeeded) == ('payment', 'PO20261203093000123456', True)
    assert (notice.txn_id, notice.amount_fen, notice.currency) == ('2026120322001404120512345678', 25660, 'CNY')
    assert notice.merchant_id == alipay.merchant_id == SELLER_ID
    assert notice.paid_at == datetime(2026, 12, 3, 1, 31, 5, tzinfo=UTC)
    assert 'sign' not in notice.raw
    # a Werkzeug form (what Flask's request.form is)
    from werkzeug.datastructures import ImmutableMultiDict

    form = ImmutableMultiDict(alipay_signed(keys.provider, trade_notice(trade_status='TRADE_FINISHED')))
    assert alipay.verify({}, b'', form).succeeded


@pytest.mark.parametrize('status, kind, succeeded', [
    ('TRADE_CLOSED', 'payment', False),
    ('WAIT_BUYER_PAY', 'pending', False),
])
def test_alipay_other_trade_statuses(alipay, keys, status, kind, succeeded):
    notice = alipay.verify({}, b'', alipay_signed(keys.provider, trade_notice(trade_status=status)))
    assert (notice.kind, notice.succeeded, notice.order_number) == (kind, succeeded, 'PO20261203093000123456')


def test_alipay_refuses_forgeries_and_replays(alipay, keys):
    genuine = alipay_signed(keys.provider, trade_notice())
    assert 'signature' in refused(alipay, {}, form={**genuine, 'total_amount': '0.01'})
    assert 'signature' in refused(alipay, {}, form={**genuine, 'extra': '1'})
    assert 'signature' in refused(alipay, {}, form=alipay_signed(keys.stranger, trade_notice()))
    assert 'signature' in refused(alipay, {}, form={**genuine, 'sign': keys.provider.sign('other')})
    assert 'signature' in refused(alipay, {}, form={**genuine, 'sign': '%%% not base64'})
    assert 'no sign' in refused(alipay, {}, form={k: v for k, v in genuine.items() if k != 'sign'})
    assert 'RSA2' in refused(alipay, {}, form={**genuine, 'sign_type': 'RSA'})
    assert 'notify_time' in refused(alipay, {}, form=alipay_signed(keys.provider, trade_notice(notify_time='soon')))
    assert 'no sign' in refused(alipay, {}, form={})


@pytest.mark.parametrize('offset', [-(MAX_NOTICE_AGE_SECONDS + 5), MAX_NOTICE_AGE_SECONDS + 5])
def test_alipay_refuses_a_stale_or_future_notify_time(alipay, keys, offset):
    form = alipay_signed(keys.provider, trade_notice(notify_time=beijing_now(offset)))
    assert 'stale' in refused(alipay, {}, form=form)


def test_alipay_refuses_another_app_or_seller(alipay, keys):
    assert 'app_id' in refused(alipay, {}, form=alipay_signed(keys.provider, trade_notice(app_id='2021000000000001')))
    assert 'seller_id' in refused(alipay, {},
                                  form=alipay_signed(keys.provider, trade_notice(seller_id='2088000000000001')))
    form = alipay_signed(keys.provider, {k: v for k, v in trade_notice().items() if k != 'seller_id'})
    assert 'seller_id' in refused(alipay, {}, form=form)


@pytest.mark.parametrize('changes', [
    {'total_amount': '256.605'},
    {'total_amount': '256.6.0'},
    {'total_amount': '-256.60'},
    {'total_amount': '1e3'},
    {'total_amount': ''},
    {'trade_status': 'TRADE_PENDING'},
    {'out_trade_no': ''},
    {'trade_no': 'x' * 65},
    {'gmt_payment': '03/12/2026'},
    {'notify_type': 'trade_refund_sync'},
])
def test_alipay_refuses_a_malformed_notice(alipay, keys, changes):
    refused(alipay, {}, form=alipay_signed(keys.provider, trade_notice(**changes)))


def test_alipay_refuses_when_a_field_is_missing(alipay, keys):
    for name in ('total_amount', 'trade_no', 'out_trade_no', 'trade_status', 'app_id', 'notify_time'):
        form = alipay_signed(keys.provider, {k: v for k, v in trade_notice().items() if k != name})
        refused(alipay, {}, form=form)


def test_alipay_amounts_are_exact():
    assert [yuan(fen) for fen in (1, 10, 25660, 100000000000)] == ['0.01', '0.10', '256.60', '1000000000.00']
    assert [parse_amount(text) for text in ('0.01', '0.1', '256.60', '256', '9999999999.99')] == \
        [1, 10, 25660, 25600, 999999999999]
    for bad in ('256.605', '0.001', ' 1', '1,000.00', '１.00', None, 1.5):
        with pytest.raises(ValueError):
            parse_amount(bad)
    with pytest.raises(ValueError):
        yuan(0)


def query_of(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def signed_by(key: Key, params: dict) -> bool:
    """A request's signature as Alipay checks it: over the sorted ``k=v&...`` of all but ``sign`` (a request's
    ``sign_type`` is signed too, unlike a notification's)."""
    params = dict(params)
    signature = params.pop('sign')
    return key.genuine('&'.join(f'{k}={v}' for k, v in sorted(params.items())), signature)


@pytest.mark.parametrize('mobile, method, product', [
    (True, 'alipay.trade.wap.pay', 'QUICK_WAP_WAY'),
    (False, 'alipay.trade.page.pay', 'FAST_INSTANT_TRADE_PAY'),
])
def test_alipay_checkout_is_a_signed_redirect(alipay, keys, mobile, method, product):
    order = an_order()
    checkout = alipay.checkout(order, urls('alipay'), subject='阳光花园 1-1-101 物业费等', mobile=mobile)
    assert checkout.qr_text is None
    assert checkout.redirect_url.startswith('https://openapi.alipay.com/gateway.do?')
    query = query_of(checkout.redirect_url)
    assert signed_by(keys.merchant, query)  # with the app's private key: Alipay checks it with the app public key
    assert not signed_by(keys.merchant, {**query, 'return_url': 'https://evil.example/'})
    assert (query['app_id'], query['method'], query['sign_type'], query['charset']) == \
        (ALIPAY_APP_ID, method, 'RSA2', 'utf-8')
    assert (query['notify_url'], query['return_url']) == ('https://yangguang.example.cn/pay/notify/alipay', URLS.back)
    sent = datetime.strptime(query['timestamp'], '%Y-%m-%d %H:%M:%S').replace(tzinfo=BEIJING)
    assert abs((sent - datetime.now(UTC)).total_seconds()) < 60  # Beijing time, whatever the server's zone
    biz = json.loads(query['biz_content'])
    assert (biz['total_amount'], biz['out_trade_no'], biz['product_code']) == ('256.60', order.number, product)
    assert biz['subject'] == '阳光花园 1-1-101 物业费等'
    expire = datetime.strptime(biz['time_expire'], '%Y-%m-%d %H:%M:%S').replace(tzinfo=BEIJING)
    assert expire == order.expires_at


def test_alipay_sandbox_gateway_and_bare_keys(keys, alipay_config):
    def bare(pem: str) -> str:  # the base64 the Alipay key tool shows, without the PEM lines
        return ''.join(line for line in pem.splitlines() if not line.startswith('-----'))

    config = {**alipay_config, 'sandbox_gateway': '1', 'app_private_key': bare(keys.merchant.private_pem),
              'alipay_public_key': bare(keys.provider.public_pem)}
    adapter = provider_class('alipay')(config, tenant_id=1)
    checkout = adapter.checkout(an_order(), urls('alipay'), subject='物业费', mobile=True)
    assert checkout.redirect_url.startswith('https://openapi-sandbox.dl.alipaydev.com/gateway.do?')
    assert signed_by(keys.merchant, query_of(checkout.redirect_url))
    assert adapter.verify({}, b'', alipay_signed(keys.provider, trade_notice())).amount_fen == 25660


def test_alipay_unusable_settings(keys, alipay_config):
    broken = provider_class('alipay')({**alipay_config, 'app_private_key': 'not a key'}, tenant_id=1)
    with pytest.raises(ProviderError):
        broken.checkout(an_order(), urls('alipay'), subject='物业费')
    assert 'settings' in refused(broken, {}, form=alipay_signed(keys.provider, trade_notice()))
    empty = provider_class('alipay')({}, tenant_id=1)
    assert 'settings' in refused(empty, {}, form=alipay_signed(keys.provider, trade_notice()))


def test_alipay_answers(alipay):
    assert alipay.answer(True)[:2] == ('success', 200)
    assert alipay.answer(False)[:2] == ('fail', 200)
    assert {spec.name for spec in alipay.fields if spec.secret} == {'app_private_key'}
    optional = {spec.name for spec in alipay.fields if not spec.required}
    assert optional == {'sandbox_gateway', 'autopay', 'agreement_scene'}


# --- Alipay 代扣 (商家扣款) ------------------------------------------------------------------------------------------

def a_mandate(agreement_no='20265203012345678901'):
    return SimpleNamespace(id=3, number='DK20261203093000654321', room_id=1, agreement_no=agreement_no)


def agreement_notice(notify_type='dut_user_sign', **changes) -> dict:
    params = {'notify_time': beijing_now(), 'notify_type': notify_type, 'notify_id': '2026120300222093000000000001',
              'charset': 'utf-8', 'version': '1.0', 'app_id': ALIPAY_APP_ID, 'auth_app_id': ALIPAY_APP_ID,
              'alipay_user_id': '2088212270326166', 'external_agreement_no': 'DK20261203093000654321',
              'agreement_no': '20265203012345678901', 'personal_product_code': 'GENERAL_WITHHOLDING_P',
              'sign_scene': 'DEFAULT|DEFAULT', 'sign_time': '2026-12-03 09:30:39', 'valid_time': '2026-12-03 09:30:39',
              'invalid_time': '2115-02-01 00:00:00', 'status': 'NORMAL' if notify_type == 'dut_user_sign' else 'UNSIGN'}
    params.update(changes)
    return params


def test_alipay_mandate_checkout_is_a_signed_redirect(alipay, keys):
    checkout = alipay.mandate_checkout(a_mandate(None), Urls(notify='https://yangguang.example.cn/pay/notify/alipay',
                                                             back='https://yangguang.example.cn/my/autopay'),
                                       subject='阳光花园 1-1-101')
    query = query_of(checkout.redirect_url)
    assert signed_by(keys.merchant, query)
    assert (query['method'], query['notify_url']) == ('alipay.user.agreement.page.sign',
                                                      'https://yangguang.example.cn/pay/notify/alipay')
    biz = json.loads(query['biz_content'])
    assert (biz['external_agreement_no'], biz['personal_product_code'], biz['product_code']) == \
        ('DK20261203093000654321', 'GENERAL_WITHHOLDING_P', 'GENERAL_WITHHOLDING')
    assert biz['access_params'] == {'channel': 'ALIPAYAPP'} and biz['sign_scene'] == 'DEFAULT|DEFAULT'


def test_alipay_agreement_notices(alipay, keys):
    notice = alipay.verify({}, b'', alipay_signed(keys.provider, agreement_notice()))
    assert (notice.kind, notice.order_number, notice.agreement_no, notice.succeeded) == \
        ('mandate', 'DK20261203093000654321', '20265203012345678901', True)
    assert notice.merchant_id == SELLER_ID
    notice = alipay.verify({}, b'', alipay_signed(keys.provider, agreement_notice('dut_user_unsign')))
    assert (notice.kind, notice.succeeded, notice.failure_reason) == ('mandate', False, '在支付宝解约')
    notice = alipay.verify({}, b'', alipay_signed(keys.provider, agreement_notice(status='TEMP')))
    assert notice.kind == 'pending'  # stored at Alipay, not in force yet: the mandate stays pending
    assert alipay.verify({}, b'', alipay_signed(keys.provider, agreement_notice(partner_id=SELLER_ID))).succeeded
    assert 'partner_id' in refused(alipay, {}, form=alipay_signed(keys.provider,
                                                                  agreement_notice(partner_id='2088000000000001')))
    other_app = alipay_signed(keys.provider, agreement_notice(app_id='2021000000000001'))
    assert 'app_id' in refused(alipay, {}, form=other_app)
    assert 'signature' in refused(alipay, {}, form=alipay_signed(keys.stranger, agreement_notice()))
    refused(alipay, {}, form=alipay_signed(keys.provider, agreement_notice(external_agreement_no='')))
    refused(alipay, {}, form=alipay_signed(keys.provider, agreement_notice(notify_time=beijing_now(-3600))))


class FakeAlipayGateway:
    """Alipay's gateway for server calls: records the signed request URL and answers as Alipay does, the
    ``<method>_response`` object signed with Alipay's key."""

    def __init__(self, key: Key, answer: dict | None = None, error=None, signer=None):
        self.key, self.answer, self.error, self.signer = key, answer, error, signer
        self.urls = []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        if self.error:
            raise self.error
        method = query_of(url)['method']
        inner = json.dumps(self.answer, ensure_ascii=False, separators=(',', ':'))
        signature = (self.signer or self.key).sign(inner)
        text = f'{{"{method.replace(".", "_")}_response":{inner},"sign":"{signature}"}}'
        return SimpleNamespace(read=lambda: text.encode())


def test_alipay_charge_under_an_agreement(alipay, keys, monkeypatch):
    import alipay as sdk

    fake = FakeAlipayGateway(keys.provider, {'code': '10000', 'msg': 'Success', 'trade_no': '2026120322001404120599',
                                             'out_trade_no': 'PO20261203093000123456', 'total_amount': '256.60'})
    monkeypatch.setattr(sdk, 'urlopen', fake)
    result = alipay.charge(a_mandate(), an_order(), urls('alipay'), subject='阳光花园 1-1-101 物业费等')
    assert (result.accepted, result.reason) == (True, None)
    (url,) = fake.urls
    query = query_of(url)
    assert url.startswith('https://openapi.alipay.com/gateway.do?') and signed_by(keys.merchant, query)
    assert (query['method'], query['notify_url']) == ('alipay.trade.pay', 'https://yangguang.example.cn/pay/notify/alipay')
    biz = json.loads(query['biz_content'])
    assert biz['agreement_params'] == {'agreement_no': '20265203012345678901'}
    assert (biz['total_amount'], biz['out_trade_no'], biz['product_code']) == \
        ('256.60', 'PO20261203093000123456', 'GENERAL_WITHHOLDING')
    # waiting for the payer's confirmation: accepted, the outcome follows as a notice
    monkeypatch.setattr(sdk, 'urlopen', FakeAlipayGateway(keys.provider, {'code': '10003', 'msg': 'order success pay '
                                                                                                  'inprocess'}))
    assert alipay.charge(a_mandate(), an_order(), urls('alipay'), subject='物业费').accepted


def test_alipay_charge_declined_or_failing(alipay, keys, monkeypatch):
    import alipay as sdk

    monkeypatch.setattr(sdk, 'urlopen', FakeAlipayGateway(keys.provider, {
        'code': '40004', 'msg': 'Business Failed', 'sub_code': 'ACQ.BUYER_BALANCE_NOT_ENOUGH',
        'sub_msg': '买家余额不足'}))
    result = alipay.charge(a_mandate(), an_order(), urls('alipay'), subject='物业费')
    assert (result.accepted, result.reason) == (False, '买家余额不足')
    assert alipay.charge(a_mandate(None), an_order(), urls('alipay'), subject='物业费').accepted is False
    for fake in (FakeAlipayGateway(keys.provider, error=URLError('network unreachable')),
                 FakeAlipayGateway(keys.provider, error=TimeoutError('timed out')),
                 FakeAlipayGateway(keys.provider, {'code': '20000', 'msg': 'Service Currently Unavailable'}),
                 FakeAlipayGateway(keys.provider, {'code': '10000', 'trade_no': '1'}, signer=keys.stranger)):
        monkeypatch.setattr(sdk, 'urlopen', fake)
        with pytest.raises(ProviderError):
            alipay.charge(a_mandate(), an_order(), urls('alipay'), subject='物业费')

    def not_json(url, timeout=None):
        return SimpleNamespace(read=lambda: b'<html>502 Bad Gateway</html>')
    monkeypatch.setattr(sdk, 'urlopen', not_json)
    with pytest.raises(ProviderError):
        alipay.charge(a_mandate(), an_order(), urls('alipay'), subject='物业费')


def test_alipay_cancel_mandate(alipay, keys, monkeypatch):
    import alipay as sdk

    fake = FakeAlipayGateway(keys.provider, {'code': '10000', 'msg': 'Success'})
    monkeypatch.setattr(sdk, 'urlopen', fake)
    assert alipay.cancel_mandate(a_mandate()) is None
    biz = json.loads(query_of(fake.urls[0])['biz_content'])
    assert (query_of(fake.urls[0])['method'], biz['agreement_no']) == ('alipay.user.agreement.unsign',
                                                                       '20265203012345678901')
    fake.urls.clear()
    alipay.cancel_mandate(a_mandate(None))  # never signed: nothing to tell Alipay
    assert fake.urls == []
    monkeypatch.setattr(sdk, 'urlopen', FakeAlipayGateway(keys.provider, {'code': '40004', 'sub_msg': '协议不存在'}))
    with pytest.raises(ProviderError):
        alipay.cancel_mandate(a_mandate())


# --- through the notify endpoint (with the database) ----------------------------------------------------------------

@pytest.mark.parametrize('provider', ['wechat', 'alipay'])
def test_a_genuine_notification_credits_the_order_once_and_a_forged_one_changes_nothing(
        provider, app, make_tenant, make_user, in_tenant, keys, alipay_config, wechat):
    e = build_estate(make_tenant, make_user, in_tenant, f'{provider}小区')  # 1-1-101 owes 21033 + 6000 fen
    run_period(in_tenant, e, '2026-02')
    values = wechat.config if provider == 'wechat' else alipay_config
    with in_tenant(e.tenant) as session:
        online.save_settings(provider, enabled=True, values=values)
        session.commit()
    order = new_order(in_tenant, e, provider=provider)

    def notification(key, *, amount_fen=None, stale=False):
        amount_fen = order.amount_fen if amount_fen is None else amount_fen
        if provider == 'wechat':
            resource = transaction(out_trade_no=order.number,
                                   amount={'total': amount_fen, 'payer_total': 1, 'currency': 'CNY'})
            headers, body = wechat_notification(key, resource, timestamp=int(time.time()) - 3600 if stale else None)
            return {**headers, 'Content-Type': 'application/json'}, body
        form = alipay_signed(key, trade_notice(out_trade_no=order.number, total_amount=yuan(amount_fen),
                                               notify_time=beijing_now(-3600 if stale else 0)))
        return {'Content-Type': 'application/x-www-form-urlencoded'}, urlencode(form).encode()

    def deliver(headers, body):
        return app.test_client().post(f'/pay/notify/{provider}', data=body, headers=headers,
                                      base_url=f'http://{e.tenant.slug}.localhost')

    before = money_rows(in_tenant, e)
    for headers, body in (notification(keys.stranger), notification(keys.provider, amount_fen=order.amount_fen - 1),
                          notification(keys.provider, stale=True)):
        answer = deliver(headers, body)
        if provider == 'wechat':
            assert answer.status_code == 400 and json.loads(answer.text)['code'] == 'FAIL'
        else:
            assert (answer.status_code, answer.text) == (200, 'fail')
    assert money_rows(in_tenant, e) == before
    genuine = notification(keys.provider)
    for _copy in range(2):
        answer = deliver(*genuine)
        assert (answer.status_code, answer.text) == ((204, '') if provider == 'wechat' else (200, 'success'))
    assert [bill.status for bill in bills_of(in_tenant, e)] == ['paid', 'paid']
    with in_tenant(e.tenant) as session:
        payment = session.execute(sa.select(Payment)).scalar_one()
        assert (payment.method, payment.amount_fen) == (provider, order.amount_fen)
        assert session.execute(sa.select(PaymentOrder.status)).scalar_one() == 'paid'


def test_alipay_autopay_is_offered_only_once_the_merchant_says_it_is_signed():
    from propsaas.billing.providers.alipay import Alipay

    assert Alipay.supports_autopay
    assert not Alipay({'app_id': '1'}, tenant_id=1).autopay_ready
    assert Alipay({'app_id': '1', 'autopay': '1'}, tenant_id=1).autopay_ready
