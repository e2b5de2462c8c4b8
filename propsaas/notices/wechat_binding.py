"""公众号绑定: a resident links their WeChat openid, so notices can reach them as template messages.

    /wechat            the resident's page: bound or not, a button to bind, a button to unbind
    /wechat/bind       redirect to WeChat's OAuth page (snsapi_base: silent, gives the openid only)
    /wechat/bind/callback?code=&state=   exchange the code for the openid and store it
    POST /wechat/unbind

The state is signed and expires: it names the user and the tenant that started, so a callback can't be replayed by
another user or on another tenant. The openid goes to the ChannelPreference of every resident record of the user.
"""
from __future__ import annotations

import requests
import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wechatpy.exceptions import WeChatException
from wechatpy.oauth import WeChatOAuth

from ..auth.sessions import require_role
from ..errors import DomainError
from ..extensions import db
from ..residents.models import Resident
from ..tenancy.context import current_tenant_id
from . import bp
from .channels.wechat_mp import TimeoutSession
from .models import ChannelPreference, ChannelSetting

STATE_SALT = 'propsaas.notices.wechat-bind'
#: seconds a resident has to come back from WeChat's page
STATE_MAX_AGE = 600


class NotAvailable(DomainError):
    status_code = 404


class BindingFailed(DomainError):
    status_code = 400


# --- services ------------------------------------------------------------------------------------------------------

def wechat_config() -> dict:
    """The official account's app id and secret; NotAvailable unless the tenant's WeChat channel is on with the
    wechat_mp provider."""
    setting = db.session.execute(sa.select(ChannelSetting).where(ChannelSetting.channel == 'wechat')) \
        .scalar_one_or_none()
    config = (setting.config or {}) if setting else {}
    if (setting is None or not setting.enabled or setting.provider != 'wechat_mp' or not config.get('app_id')
            or not config.get('app_secret')):
        raise NotAvailable(_l('物业还没有开通微信公众号通知'))
    return config


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=STATE_SALT)


def make_state(user_id: int) -> str:
    return _serializer().dumps([user_id, current_tenant_id()])


def check_state(state: str, user_id: int) -> None:
    """Raises BindingFailed unless ``state`` was made for this user on this tenant within STATE_MAX_AGE."""
    try:
        signed_user, signed_tenant = _serializer().loads(state or '', max_age=STATE_MAX_AGE)
    except SignatureExpired:
        raise BindingFailed(_l('绑定链接已过期，请重新点击“绑定微信”')) from None
    except (BadSignature, TypeError, ValueError):
        raise BindingFailed(_l('绑定链接无效，请重新点击“绑定微信”')) from None
    if signed_user != user_id or signed_tenant != current_tenant_id():
        raise BindingFailed(_l('绑定链接不属于当前账号，请重新点击“绑定微信”'))


def oauth_client(config: dict, redirect_uri: str = '', state: str = '') -> WeChatOAuth:
    client = WeChatOAuth(config['app_id'], config['app_secret'], redirect_uri, scope='snsapi_base', state=state)
    client._http = TimeoutSession()
    return client


def authorize_url(user_id: int, redirect_uri: str) -> str:
    """Where to send the resident: WeChat's OAuth page, coming back to ``redirect_uri`` with a code."""
    return oauth_client(wechat_config(), redirect_uri, make_state(user_id)).authorize_url


def exchange_code(code: str) -> str:
    """The openid WeChat gives for an OAuth ``code``; BindingFailed when WeChat refuses or can't be reached."""
    code = (code or '').strip()
    if not code or len(code) > 128:
        raise BindingFailed(_l('微信没有返回授权码，请重新点击“绑定微信”'))
    try:
        answer = oauth_client(wechat_config()).fetch_access_token(code)
    except WeChatException as exc:
        raise BindingFailed(_l('微信授权失败（%(code)s %(msg)s），请重新点击“绑定微信”',
                               code=exc.errcode if exc.errcode is not None else '', msg=exc.errmsg or '')) from None
    except requests.RequestException:
        raise BindingFailed(_l('无法连接微信服务器，请稍后再试')) from None
    openid = str((answer or {}).get('openid') or '')
    if not openid or len(openid) > 64:
        raise BindingFailed(_l('微信没有返回 openid，请重新点击“绑定微信”'))
    return openid


def residents_of(user_id: int) -> list[Resident]:
    return db.session.execute(sa.select(Resident).where(Resident.user_id == user_id).order_by(Resident.id)) \
        .scalars().all()


def bind_openid(user_id: int, openid: str) -> int:
    """Store ``openid`` on the channel preferences of every resident record of the user (created when missing).
    Returns how many records were bound; BindingFailed when the user has none."""
    residents = residents_of(user_id)
    if not residents:
        raise BindingFailed(_l('你的账号还没有关联住户档案，请联系物业服务中心'))
    prefs = _preferences([r.id for r in residents])
    for resident in residents:
        pref = prefs.get(resident.id)
        if pref is None:
            pref = ChannelPreference(resident_id=resident.id, opted_out=[])
            db.session.add(pref)
        pref.wechat_openid = openid
    return len(residents)


def unbind(user_id: int) -> int:
    """Remove the openid from the user's resident records; returns how many had one."""
    prefs = _preferences([r.id for r in residents_of(user_id)])
    count = 0
    for pref in prefs.values():
        if pref.wechat_openid:
            pref.wechat_openid = None
            count += 1
    return count


def bound_openid(user_id: int) -> str | None:
    prefs = _preferences([r.id for r in residents_of(user_id)])
    return next((p.wechat_openid for p in prefs.values() if p.wechat_openid), None)


def _preferences(resident_ids: list[int]) -> dict[int, ChannelPreference]:
    if not resident_ids:
        return {}
    rows = db.session.execute(sa.select(ChannelPreference).where(ChannelPreference.resident_id.in_(resident_ids)))
    return {p.resident_id: p for p in rows.scalars()}


def available() -> bool:
    try:
        wechat_config()
    except NotAvailable:
        return False
    return True


# --- views ---------------------------------------------------------------------------------------------------------

@bp.get('/wechat')
@require_role('resident')
def wechat_page():
    """微信通知: whether the resident's WeChat is bound, with the buttons to bind or unbind."""
    return render_template('notices/settings/wechat.html', available=available(),
                           bound=bound_openid(current_user.id) is not None)


@bp.get('/wechat/bind')
@require_role('resident')
def wechat_bind():
    redirect_uri = url_for('.wechat_bind_callback', _external=True)
    return redirect(authorize_url(current_user.id, redirect_uri))


@bp.get('/wechat/bind/callback')
@require_role('resident')
def wechat_bind_callback():
    try:
        wechat_config()
        check_state(request.args.get('state', ''), current_user.id)
        openid = exchange_code(request.args.get('code', ''))
        bind_openid(current_user.id, openid)
    except BindingFailed as e:
        db.session.rollback()
        return render_template('notices/settings/wechat_failed.html', message=e.message), 400
    db.session.commit()
    return render_template('notices/settings/wechat_bound.html', tenant_name=g.tenant.name)


@bp.post('/wechat/unbind')
@require_role('resident')
def wechat_unbind():
    unbind(current_user.id)
    db.session.commit()
    flash(_('已解除微信绑定，今后不再通过微信接收通知'))
    return redirect(url_for('.wechat_page'))
