"""/api/v1/me/...: a resident's messages, announcements and notification preferences over bearer tokens."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.models_base import utcnow
from propsaas.notices import targeting
from propsaas.notices.delivery import Content, fan_out
from propsaas.notices.models import Announcement, AnnouncementAttachment, ChannelPreference, Delivery, Message
from propsaas.notices.targeting import Audience
from tests.helpers import count_queries
from tests.notices.compound import build_compound

ME = '/api/v1/me'


def token(in_tenant, tenant, user_id: int) -> dict:
    with in_tenant(tenant) as session:
        raw, _ = auth_services.issue_api_token(session.get(User, user_id))
    return {'Authorization': f'Bearer {raw}'}


def api(app, tenant):
    client = app.test_client()
    client.base = f'http://{tenant.slug}.localhost'
    return client


def send(resident_ids, n: int = 1, *, urgent: bool = False, prefix: str = 'test') -> None:
    """``n`` messages to each resident (inside a tenant scope)."""
    people = targeting.recipients(Audience(scope='residents', resident_ids=list(resident_ids)))
    for i in range(n):
        fan_out(f'{prefix}:{i}', people, Content(title=f'消息{i}', body=f'正文{i}', short_text='短', link=f'/x/{i}'),
                urgent=urgent)


def announce(title: str, *, audience: Audience | None = None, expires_at=None, pinned=False, status='published'):
    """A published announcement sent to its audience (inside a tenant scope)."""
    audience = audience or Audience()
    item = Announcement(title=title, body_html='<p>明天 9:00-12:00 停水</p>', category='停水', status=status,
                        audience=audience.to_json(), pinned=pinned, published_at=utcnow(), expires_at=expires_at,
                        for_everyone=audience.scope == 'all')
    db.session.add(item)
    db.session.flush()
    db.session.add(AnnouncementAttachment(announcement_id=item.id, kind='pdf', filename='停水通知.pdf',
                                          stored_name=f'a{item.id}.pdf', content_type='application/pdf',
                                          size_bytes=1234))
    if status == 'published':
        fan_out(item.source_key, targeting.recipients(audience),
                Content(title=title, body='停水', short_text='停水', link=f'/notices/{item.id}'),
                announcement_id=item.id)
    return item.id


@pytest.fixture
def setup(app, compound, in_tenant):
    c = compound
    c.api = api(app, c.tenant)
    c.low = token(in_tenant, c.tenant, c.owner_low_user)
    c.high = token(in_tenant, c.tenant, c.renter_high_user)
    return c


# --- messages ----------------------------------------------------------------------------------------------------

def test_messages_are_listed_newest_first_paginated_and_filtered_by_unread(app, setup, in_tenant):
    c = setup
    with in_tenant(c.tenant):
        send([c.residents['owner_low']], 25)
        send([c.residents['renter_high']], 3, prefix='other')
    first = c.api.get(f'{ME}/messages', headers=c.low)
    assert first.status_code == 200
    assert (first.json['total'], first.json['pages'], len(first.json['items'])) == (25, 2, 20)
    item = first.json['items'][0]
    assert set(item) == {'id', 'title', 'body', 'link', 'urgent', 'created_at', 'read_at'}
    assert item['read_at'] is None and item['urgent'] is False
    second = c.api.get(f'{ME}/messages?page=2&per_page=20', headers=c.low)
    ids = [m['id'] for m in first.json['items'] + second.json['items']]
    assert len(set(ids)) == 25 and ids == sorted(ids, reverse=True)

    assert c.api.post(f'{ME}/messages/{ids[0]}/read', json={}, headers=c.low).status_code == 200
    unread = c.api.get(f'{ME}/messages?unread=true&per_page=100', headers=c.low).json
    assert unread['total'] == 24 and ids[0] not in [m['id'] for m in unread['items']]
    assert c.api.get(f'{ME}/unread-count', headers=c.low).json == {'unread': 24}
    assert c.api.get(f'{ME}/messages?per_page=0', headers=c.low).status_code == 422


def test_the_list_does_not_query_per_message(app, setup, in_tenant):
    c = setup
    with in_tenant(c.tenant):
        send([c.residents['owner_low']], 3)
    c.api.get(f'{ME}/messages', headers=c.low)
    with count_queries(app) as few:
        c.api.get(f'{ME}/messages', headers=c.low)
    with in_tenant(c.tenant):
        send([c.residents['owner_low']], 30, prefix='more')
    with count_queries(app) as many:
        c.api.get(f'{ME}/messages', headers=c.low)
    assert len(many) == len(few)


def test_marking_read_is_idempotent_and_reaches_the_inbox_delivery(app, setup, in_tenant):
    c = setup
    with in_tenant(c.tenant):
        send([c.residents['owner_low']])
        message_id = db.session.execute(sa.select(Message.id)).scalar_one()
    one = c.api.get(f'{ME}/messages/{message_id}', headers=c.low)
    assert one.status_code == 200 and one.json['read_at'] is None  # reading is not marking
    first = c.api.post(f'{ME}/messages/{message_id}/read', json={}, headers=c.low)
    again = c.api.post(f'{ME}/messages/{message_id}/read', json={}, headers=c.low)
    assert first.status_code == again.status_code == 200
    assert first.json['read_at'] is not None and again.json['read_at'] == first.json['read_at']
    with in_tenant(c.tenant):
        inbox = db.session.execute(sa.select(Delivery).where(Delivery.message_id == message_id,
                                                             Delivery.channel == 'inbox')).scalar_one()
        assert inbox.status == 'read'


def test_read_all_marks_only_this_residents_unread_messages(app, setup, in_tenant):
    c = setup
    with in_tenant(c.tenant):
        send([c.residents['owner_low']], 4)
        send([c.residents['renter_high']], 2, prefix='other')
    assert c.api.post(f'{ME}/messages/read-all', json={}, headers=c.low).json == {'marked': 4}
    assert c.api.post(f'{ME}/messages/read-all', json={}, headers=c.low).json == {'marked': 0}
    assert c.api.get(f'{ME}/unread-count', headers=c.low).json == {'unread': 0}
    assert c.api.get(f'{ME}/unread-count', headers=c.high).json == {'unread': 2}


def test_another_residents_or_tenants_message_is_not_found(app, setup, in_tenant, make_tenant, make_user):
    c = setup
    other = build_compound(make_tenant, make_user, in_tenant, '别的小区')
    with in_tenant(c.tenant):
        send([c.residents['renter_high']])
        neighbours = db.session.execute(sa.select(Message.id)).scalar_one()
    with in_tenant(other.tenant):
        send([other.residents['owner_low']])
        elsewhere = db.session.execute(sa.select(Message.id)).scalar_one()
    for message_id in (neighbours, elsewhere, 10**9, 2**63):
        assert c.api.get(f'{ME}/messages/{message_id}', headers=c.low).status_code == 404
        missing = c.api.post(f'{ME}/messages/{message_id}/read', json={}, headers=c.low)
        assert missing.status_code == 404 and missing.json['error']['code'] == 'not_found'
    # the other tenant's token does not work here at all
    foreign = token(in_tenant, other.tenant, other.owner_low_user)
    assert c.api.get(f'{ME}/messages/{elsewhere}', headers=foreign).status_code == 401
    with in_tenant(c.tenant):
        assert db.session.execute(sa.select(Message.read_at)).scalar_one() is None


def test_staff_see_only_their_own_messages_and_no_token_is_unauthorized(app, setup, in_tenant):
    c = setup
    with in_tenant(c.tenant):
        send([c.residents['owner_low']])
    desk = token(in_tenant, c.tenant, c.desk)
    # Staff have an inbox of their own (work messages): the residents' messages are not in it.
    assert c.api.get(f'{ME}/messages', headers=desk).json['items'] == []
    assert c.api.get(f'{ME}/unread-count', headers=desk).json == {'unread': 0}
    assert c.api.post(f'{ME}/messages/read-all', json={}, headers=desk).json == {'marked': 0}
    for method, path in (('get', '/announcements'), ('get', '/notification-preferences')):
        assert getattr(c.api, method)(f'{ME}{path}', headers=desk).status_code == 403
    for method, path in (('get', '/messages'), ('get', '/unread-count'), ('post', '/messages/read-all'),
                         ('get', '/announcements'), ('get', '/notification-preferences')):
        body = {'json': {}} if method == 'post' else {}
        response = getattr(c.api, method)(f'{ME}{path}', **body)
        assert response.status_code == 401 and set(response.json['error']) == {'code', 'message', 'fields'}
    assert c.api.put(f'{ME}/notification-preferences', json={'email': '', 'opted_out': []},
                     headers=desk).status_code == 403


# --- announcements -----------------------------------------------------------------------------------------------

def test_announcements_visible_to_the_resident_with_attachments(app, setup, in_tenant):
    c = setup
    with in_tenant(c.tenant):
        everyone = announce('全体停水')
        pinned = announce('置顶通知', pinned=True)
        only_b2 = announce('二栋通知', audience=Audience(scope='residents', resident_ids=[c.residents['owner_b2']]))
        announce('已过期', expires_at=datetime.now(UTC) - timedelta(days=1))
        announce('草稿', status='draft')
    listed = c.api.get(f'{ME}/announcements', headers=c.low)
    assert listed.status_code == 200
    assert [a['id'] for a in listed.json['items']] == [pinned, everyone]
    item = listed.json['items'][1]
    assert item['body_html'] == '<p>明天 9:00-12:00 停水</p>' and item['category'] == '停水'
    assert item['attachments'] == [{'id': item['attachments'][0]['id'], 'filename': '停水通知.pdf', 'kind': 'pdf',
                                    'size_bytes': 1234}]
    assert c.api.get(f'{ME}/announcements/{only_b2}', headers=c.low).status_code == 404

    assert c.api.get(f'{ME}/unread-count', headers=c.low).json == {'unread': 3}  # the expired one was sent too
    opened = c.api.get(f'{ME}/announcements/{everyone}', headers=c.low)
    assert opened.status_code == 200 and opened.json['title'] == '全体停水'
    assert c.api.get(f'{ME}/unread-count', headers=c.low).json == {'unread': 2}
    again = c.api.get(f'{ME}/announcements/{everyone}', headers=c.low)
    assert again.status_code == 200 and c.api.get(f'{ME}/unread-count', headers=c.low).json == {'unread': 2}


def test_another_tenants_announcement_is_not_found(app, setup, in_tenant, make_tenant, make_user):
    c = setup
    other = build_compound(make_tenant, make_user, in_tenant, '别的小区')
    with in_tenant(other.tenant):
        elsewhere = announce('别的小区停水')
    assert c.api.get(f'{ME}/announcements/{elsewhere}', headers=c.low).status_code == 404
    assert c.api.get(f'{ME}/announcements/{2**63}', headers=c.low).status_code == 404
    assert c.api.get(f'{ME}/announcements', headers=c.low).json['total'] == 0


# --- preferences -------------------------------------------------------------------------------------------------

def test_preferences_get_and_put(app, setup, in_tenant):
    c = setup
    got = c.api.get(f'{ME}/notification-preferences', headers=c.low)
    assert got.status_code == 200
    assert got.json == {'email': 'owner.low@example.cn', 'login_email': 'owner.low@example.cn', 'wechat_bound': True,
                        'mobile': '138****0001', 'opted_out': [], 'enabled_channels': ['sms', 'email', 'wechat']}
    put = c.api.put(f'{ME}/notification-preferences', json={'email': 'new@example.cn', 'opted_out': ['sms']},
                    headers=c.low)
    assert put.status_code == 200 and put.json['opted_out'] == ['sms'] and put.json['email'] == 'new@example.cn'
    with in_tenant(c.tenant):
        row = db.session.execute(sa.select(ChannelPreference).where(
            ChannelPreference.resident_id == c.residents['owner_low'])).scalar_one()
        assert (row.email, row.opted_out, row.wechat_openid) == ('new@example.cn', ['sms'], 'o-owner-low-openid')


@pytest.mark.parametrize(('body', 'field'), [
    ({'email': 'bad@', 'opted_out': []}, 'email'),
    ({'email': '', 'opted_out': ['inbox']}, 'opted_out'),
    ({'email': '', 'opted_out': ['fax']}, 'opted_out'),
    ({'email': '', 'opted_out': 'sms'}, 'opted_out'),
    ({'opted_out': []}, 'email'),
    ({'email': 'x' * 300, 'opted_out': []}, 'email'),
])
def test_bad_preferences_are_422_and_nothing_is_saved(app, setup, in_tenant, body, field):
    c = setup
    response = c.api.put(f'{ME}/notification-preferences', json=body, headers=c.high)
    assert response.status_code == 422 and field in response.json['error']['fields']
    with in_tenant(c.tenant):
        assert db.session.execute(sa.select(ChannelPreference).where(
            ChannelPreference.resident_id == c.residents['renter_high'])).scalar_one_or_none() is None


def test_preferences_body_must_be_json(app, setup):
    c = setup
    not_json = c.api.put(f'{ME}/notification-preferences', data='email=x', headers=c.low,
                         content_type='application/x-www-form-urlencoded')
    broken = c.api.put(f'{ME}/notification-preferences', data=b'{', headers=c.low, content_type='application/json')
    assert not_json.status_code == 415 and broken.status_code == 400
    assert set(broken.json['error']) == {'code', 'message', 'fields'}


def test_a_resident_login_without_a_resident_record_gets_a_clear_error(app, setup, in_tenant, make_user):
    c = setup
    lonely = token(in_tenant, c.tenant, make_user(c.tenant, 'resident'))
    response = c.api.get(f'{ME}/notification-preferences', headers=lonely)
    assert response.status_code == 422
    assert response.json['error']['message'] == '你的账号还没有关联到住户信息，请联系物业服务中心'
    assert c.api.get(f'{ME}/messages', headers=lonely).json['total'] == 0


DOCUMENTED = {
    ('get', '/messages'): {401, 403, 422},
    ('get', '/messages/{message_id}'): {401, 404},
    ('post', '/messages/{message_id}/read'): {401, 404, 415},
    ('post', '/messages/read-all'): {401, 403, 415},
    ('get', '/unread-count'): {401, 403},
    ('get', '/announcements'): {401, 403, 422},
    ('get', '/announcements/{announcement_id}'): {401, 404},
    ('get', '/notification-preferences'): {401, 403, 422},
    ('put', '/notification-preferences'): {400, 401, 403, 415, 422},
}


def test_every_error_status_is_documented_with_the_error_body(app, setup):
    document = setup.api.get('/api/v1/openapi.json').json
    for (method, path), statuses in DOCUMENTED.items():
        responses = document['paths'][f'{ME}{path}'][method]['responses']
        for status in statuses:
            response = responses[str(status)]
            if '$ref' in response:
                response = document['components']['responses'][response['$ref'].rsplit('/', 1)[1]]
            assert response['content']['application/json']['schema'] == {'$ref': '#/components/schemas/Error'}, \
                (method, path, status)
