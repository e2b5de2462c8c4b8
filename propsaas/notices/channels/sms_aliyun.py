"""SMS through Aliyun (阿里云短信服务, dysmsapi 2017-05-25) with the official SDK.

Aliyun only sends approved templates: each message template names its Aliyun template code (SMS_123456789) and the
message's variables fill it (TemplateParam JSON). Throttling and network errors are retried; a bad number, sign or
template, or an empty balance fail at once with Aliyun's own message.
"""
from __future__ import annotations

import json

from alibabacloud_dysmsapi20170525.client import Client as DysmsClient
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from . import ChannelNotConfigured, Outgoing, SendFailed, provider

DEFAULT_REGION = 'cn-hangzhou'
DEFAULT_ENDPOINT = 'dysmsapi.aliyuncs.com'
#: milliseconds
CONNECT_TIMEOUT, READ_TIMEOUT = 5000, 10000

#: Aliyun answers worth retrying later (flow control, its own hiccups)
TRANSIENT_CODES = frozenset({
    'isv.BUSINESS_LIMIT_CONTROL', 'isv.DAY_LIMIT_CONTROL', 'isv.OUT_OF_SERVICE', 'isp.SYSTEM_ERROR',
    'InternalError', 'ServiceUnavailable', 'SignatureNonceUsed',
})
#: and some that need a person to fix something first (listed for the record; any other code is permanent too)
PERMANENT_CODES = frozenset({
    'isv.MOBILE_NUMBER_ILLEGAL', 'isv.SMS_SIGNATURE_ILLEGAL', 'isv.SMS_TEMPLATE_ILLEGAL', 'isv.AMOUNT_NOT_ENOUGH',
    'isv.TEMPLATE_MISSING_PARAMETERS', 'isv.INVALID_PARAMETERS', 'isv.BLACK_KEY_CONTROL_LIMIT',
    'isv.MOBILE_COUNT_OVER_LIMIT', 'isv.PARAM_LENGTH_LIMIT', 'isv.SIGN_NAME_ILLEGAL', 'isv.DENY_IP_RANGE',
    'InvalidAccessKeyId.NotFound', 'SignatureDoesNotMatch',
})


def is_transient(code: str | None) -> bool:
    code = code or ''
    return code in TRANSIENT_CODES or code.startswith('Throttling')


class AliyunSms:
    """Config: access_key_id, access_key_secret, sign_name (短信签名), region (cn-hangzhou), endpoint."""

    def __init__(self, config: dict):
        self.sign_name = (config.get('sign_name') or '').strip()
        access_key_id = (config.get('access_key_id') or '').strip()
        access_key_secret = config.get('access_key_secret') or ''
        if not access_key_id or not access_key_secret:
            raise ChannelNotConfigured('未填写阿里云 AccessKey ID / AccessKey Secret')
        if not self.sign_name:
            raise ChannelNotConfigured('未填写阿里云短信签名')
        self.client = DysmsClient(Config(
            access_key_id=access_key_id, access_key_secret=access_key_secret,
            region_id=(config.get('region') or '').strip() or DEFAULT_REGION,
            endpoint=(config.get('endpoint') or '').strip() or DEFAULT_ENDPOINT,
            connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT))
        self.runtime = RuntimeOptions(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, autoretry=False)

    def send(self, outgoing: Outgoing) -> str:
        if not outgoing.sms_template_code:
            raise ChannelNotConfigured('该消息没有阿里云短信模板 CODE：请在“消息模板”页面填写阿里云模板 CODE')
        request = SendSmsRequest(
            phone_numbers=outgoing.address, sign_name=self.sign_name, template_code=outgoing.sms_template_code,
            template_param=json.dumps({k: str(v) for k, v in (outgoing.params or {}).items()}, ensure_ascii=False))
        try:
            response = self.client.send_sms_with_options(request, self.runtime)
        except ThrottlingException as exc:
            raise SendFailed(f'阿里云限流：{exc.message or exc.code}', transient=True) from None
        except ServerException as exc:
            raise SendFailed(f'阿里云服务异常：{exc.code} {exc.message or ""}'.strip(), transient=True) from None
        except AlibabaCloudException as exc:  # 4xx: bad keys, bad parameters
            raise SendFailed(f'阿里云拒绝：{exc.code} {exc.message or ""}'.strip(), transient=is_transient(exc.code)) \
                from None
        except Exception as exc:  # network: refused, timeout, TLS
            raise SendFailed(f'无法连接阿里云短信服务：{type(exc).__name__} {exc}'.strip()[:300], transient=True) \
                from None
        body = response.body
        if body is not None and body.code == 'OK':
            return body.biz_id or body.request_id or ''
        code = getattr(body, 'code', None) or 'unknown'
        message = getattr(body, 'message', None) or ''
        raise SendFailed(f'阿里云：{message}（{code}）', transient=is_transient(code))


provider('sms', 'aliyun')(AliyunSms)
