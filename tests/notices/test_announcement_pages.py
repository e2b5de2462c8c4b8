"""公告管理 as the service desk uses it: write, preview the recipients, publish or schedule, follow the deliveries
and read receipts, resend what failed."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from propsaas.extensions import db
from propsaas.notices import announcements, delivery
from propsaas.notices.channels import SendFailed, provider
from propsaas.notices.models import Announcement, ChannelSetting, Delivery, Message, MessageTemplate
from propsaas.tenancy.models import Tenant
from tests.helpers import count_queries

SHANGHAI = ZoneInfo('Asia/Shanghai')
HIGH = ('renter_high', 'family_high', 'owner_top', 'owner_u2')


def form(c, **overrides) -> dict:
    data = {'title': '停水通知', 'category': '停水', 'body': '明天 9:00-12:00 停水，请提前储水。',
            'audience-scope': 'all'}
    data.update(overrides)
    return data


def floors(c, low=12) -> dict:
    return {'audience-scope': 'floors', 'audience-floor_building_id': str(c.buildings['1栋']),
            'audience-floor_min': str(low)}


def create(client, c, **overrides) -> int:
    response = client.post('/announcements/new', data=form(c, **overrides))
    assert response.status_code == 302, response.text
    return int(response.headers['Location'].rsplit('/', 1)[1])


def messages_of(in_tenant, c, announcement_id) -> set[int]:
    with in_tenant(c.tenant) as session:
        return set(session.execute(sa.select(Message.resident_id)
                                   .where(Message.announcement_id == announcement_id)).scalars())


def row(in_tenant, c, announcement_id) -> dict:
    with in_tenant(c.tenant) as session:
        a = session.get(Announcement, announcement_id)
        return {col.name: getattr(a, col.name) for col in Announcement.__table__.columns}


def test_write_preview_publish_and_the_audience_reads_it(compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    page = desk.get('/announcements/new')
    assert page.status_code == 200 and '预览收件人' in page.text
    assert '不受免打扰时段和住户退订的限制' in page.text  # the urgent hint
    assert '短信' in page.text and '微信' in page.text  # the enabled channels

    preview = desk.post('/announcements/new', data=form(c, action='preview', **floors(c)))
    assert preview.status_code == 200
    assert '共 4 位住户' in preview.text
    assert all(name in preview.text for name in ('李高层', '李家属', '赵顶层', '钱二单元'))
    assert '王低层' not in preview.text
    with in_tenant(c.tenant) as session:  # the preview saved nothing
        assert session.execute(sa.select(sa.func.count()).select_from(Announcement)).scalar_one() == 0

    announcement_id = create(desk, c, channels=['sms'], **floors(c))
    detail = desk.get(f'/announcements/{announcement_id}')
    assert detail.status_code == 200 and '草稿' in detail.text and '12-…层' in detail.text
    published = desk.post(f'/announcements/{announcement_id}/publish')
    assert published.status_code == 302
    assert row(in_tenant, c, announcement_id)['status'] == 'published'
    # the floor range reaches exactly the high floors
    assert messages_of(in_tenant, c, announcement_id) == {c.residents[k] for k in HIGH}

    high = client_for(c.tenant, c.renter_high_user)
    low = client_for(c.tenant, c.owner_low_user)
    assert '停水通知' in high.get('/notices').text
    assert '停水通知' in high.get('/inbox').text
    assert '停水通知' not in low.get('/notices').text
    assert '停水通知' not in low.get('/inbox').text
    assert low.get(f'/notices/{announcement_id}').status_code == 404

    before = desk.get(f'/announcements/{announcement_id}').text
    assert '已读 0 人，未读 4 人' in before
    assert high.get(f'/notices/{announcement_id}').status_code == 200
    after = desk.get(f'/announcements/{announcement_id}').text
    assert '已读 1 人，未读 3 人' in after
    assert '138****0002' in after and '13800000002' not in after  # masked for staff who are not admins
    assert '13800000002' in client_for(c.tenant, c.admin).get(f'/announcements/{announcement_id}').text


def test_only_admins_and_the_service_desk_manage_announcements(compound, client_for, make_tenant, make_user):
    c = compound
    assert client_for(c.tenant, c.tech).get('/announcements').status_code == 403
    assert client_for(c.tenant, c.renter_high_user).get('/announcements').status_code == 403
    assert client_for(c.tenant, c.admin).get('/announcements').status_code == 200
    announcement_id = create(client_for(c.tenant, c.desk), c)
    other = make_tenant(name='别的小区')
    stranger = client_for(other, make_user(other, 'admin'))
    assert stranger.get(f'/announcements/{announcement_id}').status_code == 404
    assert stranger.post(f'/announcements/{announcement_id}/publish').status_code == 404
    assert stranger.get(f'/announcements/{announcement_id}/edit').status_code == 404


def test_expiry_is_entered_in_local_time_and_stored_utc(compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    local = (datetime.now(SHANGHAI) + timedelta(days=3)).replace(second=0, microsecond=0, tzinfo=None)
    announcement_id = create(desk, c, expires_at=local.strftime('%Y-%m-%dT%H:%M'))
    stored = row(in_tenant, c, announcement_id)['expires_at']
    assert stored == local.replace(tzinfo=SHANGHAI).astimezone(UTC)
    edit = desk.get(f'/announcements/{announcement_id}/edit')
    assert local.strftime('%Y-%m-%dT%H:%M') in edit.text  # shown back in local time


def test_bad_input_is_refused_with_a_chinese_message(compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    missing = desk.post('/announcements/new', data=form(c, title=''))
    assert missing.status_code == 422 and '请填写标题' in missing.text
    bad_floor = desk.post('/announcements/new', data=form(c, **{**floors(c), 'audience-floor_min': ''}))
    assert bad_floor.status_code == 422 and '请填写起始楼层或结束楼层' in bad_floor.text
    assert 'value="floors" checked' in bad_floor.text and '停水通知' in bad_floor.text  # what was typed stays
    with in_tenant(c.tenant) as session:
        session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel == 'wechat').values(enabled=False))
    off = desk.post('/announcements/new', data=form(c, channels=['wechat']))
    assert off.status_code == 422 and '还没有开通' in off.text
    new_page = desk.get('/announcements/new').text
    assert 'value="wechat"' not in new_page and 'value="sms"' in new_page


def test_a_template_prefills_and_placeholders_block_publishing(compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    with in_tenant(c.tenant) as session:
        template = session.execute(sa.select(MessageTemplate).where(MessageTemplate.code == 'water_outage')
                                   ).scalar_one()
        template_id = template.id
    page = desk.get(f'/announcements/new?template_id={template_id}')
    assert page.status_code == 200
    today = datetime.now(SHANGHAI).date()
    assert '通知小区停水通知' in page.text  # {project_name} filled
    assert f'{today.year}年{today.month}月{today.day}日' in page.text  # {notice_date} filled
    assert '{reason}' in page.text and '{date}' in page.text  # left for staff to replace

    body = '因{reason}，{scope}将于{date}停水。'
    announcement_id = create(desk, c, title='通知小区停水通知', body=body)
    refused = desk.post(f'/announcements/{announcement_id}/publish')
    assert refused.status_code == 422
    assert '还有占位符没有替换' in refused.text and '{reason}' in refused.text
    assert row(in_tenant, c, announcement_id)['status'] == 'draft'
    later = (datetime.now(SHANGHAI) + timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M')
    assert desk.post(f'/announcements/{announcement_id}/schedule',
                     data={'schedule-publish_at': later}).status_code == 422
    fixed = desk.post(f'/announcements/{announcement_id}/edit',
                      data=form(c, title='通知小区停水通知', body='因管道检修，1栋将于明天停水。'))
    assert fixed.status_code == 302
    assert desk.post(f'/announcements/{announcement_id}/publish').status_code == 302
    assert row(in_tenant, c, announcement_id)['status'] == 'published'


def test_scripts_never_reach_the_portal(compound, client_for):
    c = compound
    desk = client_for(c.tenant, c.desk)
    body = ('<p>正文<script>alert(1)</script></p><img src=x onerror="alert(2)">'
            '<a href="javascript:alert(3)">点我</a><a href="https://example.cn/a" onclick="x()">链接</a>')
    announcement_id = create(desk, c, body=body)
    assert desk.post(f'/announcements/{announcement_id}/publish').status_code == 302
    page = client_for(c.tenant, c.owner_low_user).get(f'/notices/{announcement_id}')
    assert page.status_code == 200 and '正文' in page.text
    article = page.text.split('<article', 1)[1]
    for bad in ('<script', 'alert(', 'onerror', 'onclick', 'javascript:'):
        assert bad not in article
    assert 'href="https://example.cn/a"' in article


def test_withdraw_and_scheduled_states_in_the_list(compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    draft = create(desk, c, title='草稿一条')
    shown = create(desk, c, title='已发一条', pinned='y')
    desk.post(f'/announcements/{shown}/publish')
    gone = create(desk, c, title='撤回一条')
    desk.post(f'/announcements/{gone}/publish')
    assert desk.post(f'/announcements/{gone}/withdraw').status_code == 302
    later = (datetime.now(SHANGHAI) + timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M')
    timed = create(desk, c, title='定时一条')
    assert desk.post(f'/announcements/{timed}/schedule', data={'schedule-publish_at': later}).status_code == 302
    listing = desk.get('/announcements').text
    assert listing.index('已发一条') < listing.index('草稿一条')  # pinned first
    assert '撤回一条' in desk.get('/announcements?state=withdrawn').text
    assert '撤回一条' not in desk.get('/announcements?state=published').text
    assert '定时一条' in desk.get('/announcements?state=scheduled').text
    assert '草稿一条' in desk.get('/announcements?state=draft').text
    assert '撤回一条' not in client_for(c.tenant, c.owner_low_user).get('/notices').text
    assert desk.post(f'/announcements/{timed}/unschedule').status_code == 302
    assert row(in_tenant, c, timed)['status'] == 'draft'
    assert row(in_tenant, c, draft)['status'] == 'draft'


def test_a_scheduled_announcement_is_published_by_the_sweep_once_due(app, compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    announcement_id = create(desk, c, title='定时停电通知', category='停电')
    local = (datetime.now(SHANGHAI) + timedelta(hours=2)).replace(second=0, microsecond=0, tzinfo=None)
    scheduled = desk.post(f'/announcements/{announcement_id}/schedule',
                          data={'schedule-publish_at': local.strftime('%Y-%m-%dT%H:%M')})
    assert scheduled.status_code == 302
    stored = row(in_tenant, c, announcement_id)
    assert stored['status'] == 'scheduled'
    assert stored['publish_at'] == local.replace(tzinfo=SHANGHAI).astimezone(UTC)

    with app.app_context():
        delivery.sweep(now=datetime.now(UTC))
    assert row(in_tenant, c, announcement_id)['status'] == 'scheduled'  # not before its time
    assert messages_of(in_tenant, c, announcement_id) == set()

    with in_tenant(c.tenant) as session:  # two hours pass
        session.execute(sa.update(Announcement).where(Announcement.id == announcement_id)
                        .values(publish_at=datetime.now(UTC) - timedelta(minutes=1)))
    with app.app_context():
        assert delivery.sweep(now=datetime.now(UTC))['announcements'] >= 1
    assert row(in_tenant, c, announcement_id)['status'] == 'published'
    assert len(messages_of(in_tenant, c, announcement_id)) == 6
    assert '定时停电通知' in client_for(c.tenant, c.owner_low_user).get('/notices').text


FAILING: set[str] = set()


@provider('sms', 'pages-flaky')
class FailingSms:
    """Fails (permanently) for the mobiles in FAILING, sends to the others."""

    def __init__(self, config):
        pass

    def send(self, outgoing):
        if outgoing.address in FAILING:
            raise SendFailed('号码已停机', transient=False)
        return f'ok-{outgoing.address}'


@pytest.fixture
def failing_sms(compound, in_tenant):
    with in_tenant(compound.tenant) as session:
        session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel == 'sms')
                        .values(provider='pages-flaky'))
        tenant = session.get(Tenant, compound.tenant.id)
        settings = dict(tenant.settings or {})
        settings['notifications'] = {'quiet_hours': ['00:00', '00:00']}  # no quiet hours: runs at any time of day
        tenant.settings = settings
    FAILING.clear()
    yield FAILING
    FAILING.clear()


def sms_by_resident(in_tenant, c, announcement_id) -> dict[int, tuple[str, int, str | None]]:
    with in_tenant(c.tenant) as session:
        rows = session.execute(sa.select(Message.resident_id, Delivery.status, Delivery.attempts, Delivery.last_error)
                               .join(Delivery, Delivery.message_id == Message.id)
                               .where(Message.announcement_id == announcement_id, Delivery.channel == 'sms')).all()
        return {rid: (status, attempts, error) for rid, status, attempts, error in rows}


def test_resending_reaches_only_the_failed(compound, client_for, in_tenant, failing_sms):
    c = compound
    failing_sms.add('13800000002')
    desk = client_for(c.tenant, c.desk)
    announcement_id = create(desk, c, channels=['sms'])
    desk.post(f'/announcements/{announcement_id}/publish')
    sms = sms_by_resident(in_tenant, c, announcement_id)
    assert sms[c.residents['renter_high']][0] == 'failed'
    sent_before = {rid: v for rid, v in sms.items() if v[0] == 'sent'}
    assert len(sent_before) == 3
    detail = desk.get(f'/announcements/{announcement_id}').text
    assert '号码已停机' in detail and '李高层' in detail and '重发失败的' in detail

    failing_sms.clear()
    resent = desk.post(f'/announcements/{announcement_id}/resend')
    assert resent.status_code == 302
    after = sms_by_resident(in_tenant, c, announcement_id)
    assert after[c.residents['renter_high']][:2] == ('sent', 1)
    assert {rid: after[rid] for rid in sent_before} == sent_before  # the sent ones were left alone


def _publish_directly(in_tenant, c, n: int) -> None:
    with in_tenant(c.tenant):
        for i in range(n):
            a = announcements.save(None, title=f'公告{i}', body='正文', category='停水', audience={'scope': 'all'},
                                   pinned=i % 2 == 0)
            db.session.flush()
            announcements.publish_now(a)


def test_the_list_issues_a_constant_number_of_statements(app, compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    _publish_directly(in_tenant, c, 1)
    desk.get('/announcements')
    with count_queries(app) as few:
        assert desk.get('/announcements').status_code == 200
    _publish_directly(in_tenant, c, 6)
    with count_queries(app) as many:
        page = desk.get('/announcements')
    assert page.status_code == 200 and '公告5' in page.text
    assert len(many) == len(few)


def test_the_detail_issues_a_constant_number_of_statements(app, compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    one = create(desk, c, **{'audience-scope': 'residents', 'audience-people': '13800000001'})
    desk.post(f'/announcements/{one}/publish')
    everyone = create(desk, c)
    desk.post(f'/announcements/{everyone}/publish')
    desk.get(f'/announcements/{one}')
    with count_queries(app) as few:
        assert desk.get(f'/announcements/{one}').status_code == 200
    with count_queries(app) as many:
        assert '李家属' in desk.get(f'/announcements/{everyone}').text
    assert len(many) == len(few)
