"""The resident portal's notice board (公告) and inbox (消息) as a resident uses them on a phone."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from propsaas.extensions import db
from propsaas.notices import announcements, inbox
from propsaas.notices.delivery import Content, fan_out
from propsaas.notices.models import Delivery, Message
from propsaas.notices.targeting import Audience, recipients
from tests.helpers import count_queries


def publish(in_tenant, c, title='停水通知', audience=None, **kwargs) -> int:
    with in_tenant(c.tenant):
        a = announcements.save(None, title=title, body=kwargs.pop('body', '明天停水'), category='停水',
                               audience=audience or {'scope': 'all'}, **kwargs)
        db.session.flush()
        announcements.publish_now(a)
        return a.id


def message_to(in_tenant, c, key, title='账单提醒', link=None, source='test:1') -> int:
    with in_tenant(c.tenant) as session:
        people = recipients(Audience(scope='residents', resident_ids=[c.residents[key]]))
        fan_out(source, people, Content(title=title, body='第一行\n第二行', short_text=title, link=link))
        return session.execute(sa.select(Message.id).where(Message.source_key == source)).scalar_one()


def test_the_board_shows_pinned_first_with_an_unread_dot_and_reading_marks_it_read(compound, client_for, in_tenant):
    c = compound
    older = publish(in_tenant, c, title='置顶的停电通知', pinned=True)
    newer = publish(in_tenant, c, title='普通的停水通知')
    resident = client_for(c.tenant, c.owner_low_user)
    board = resident.get('/notices')
    assert board.status_code == 200 and 'class="portal"' in board.text
    assert board.text.index('置顶的停电通知') < board.text.index('普通的停水通知')
    assert board.text.count('unread-dot') == 2
    assert '<span class="tag">停水</span>' in board.text

    page = resident.get(f'/notices/{newer}')
    assert page.status_code == 200 and '明天停水' in page.text
    assert resident.get('/notices').text.count('unread-dot') == 1
    with in_tenant(c.tenant) as session:
        read = session.execute(sa.select(Message.read_at, Delivery.status)
                               .join(Delivery, Delivery.message_id == Message.id)
                               .where(Message.announcement_id == newer, Message.resident_id == c.residents['owner_low'],
                                      Delivery.channel == 'inbox')).one()
        assert read[0] is not None and read[1] == 'read'
        still = session.execute(sa.select(Message.read_at).where(
            Message.announcement_id == older, Message.resident_id == c.residents['owner_low'])).scalar_one()
        assert still is None


def test_staff_and_strangers_cannot_use_the_portal_pages(compound, client_for, make_tenant, make_user, in_tenant):
    c = compound
    announcement_id = publish(in_tenant, c)
    desk = client_for(c.tenant, c.desk)
    assert desk.get('/notices').status_code == 403
    opened = desk.get(f'/notices/{announcement_id}')  # a link from a message: staff land on the staff page
    assert opened.status_code == 302 and opened.headers['Location'].endswith(f'/announcements/{announcement_id}')
    assert client_for(c.tenant).get('/notices').status_code in (302, 401)
    other = make_tenant(name='别的小区')
    stranger = client_for(other, make_user(other, 'resident'))
    assert stranger.get(f'/notices/{announcement_id}').status_code == 404
    with in_tenant(c.tenant) as session:
        message_id = session.execute(sa.select(Message.id).where(Message.announcement_id == announcement_id)
                                     ).scalars().first()
    assert stranger.get(f'/inbox/{message_id}').status_code == 404
    assert desk.get(f'/inbox/{message_id}').status_code == 404  # staff have no messages


def test_withdrawn_and_expired_announcements_leave_the_board(compound, client_for, in_tenant):
    c = compound
    announcement_id = publish(in_tenant, c, title='将撤回的通知')
    resident = client_for(c.tenant, c.owner_low_user)
    assert '将撤回的通知' in resident.get('/notices').text
    with in_tenant(c.tenant) as session:
        from propsaas.notices.models import Announcement
        announcements.withdraw(session.get(Announcement, announcement_id))
    assert '将撤回的通知' not in resident.get('/notices').text
    assert resident.get(f'/notices/{announcement_id}').status_code == 404


def test_the_inbox_lists_newest_first_opens_marks_read_and_reads_all(compound, client_for, in_tenant):
    c = compound
    first = message_to(in_tenant, c, 'owner_low', title='第一条消息', link='/notices', source='test:a')
    second = message_to(in_tenant, c, 'owner_low', title='第二条消息', link='https://evil.example/x', source='test:b')
    third = message_to(in_tenant, c, 'owner_low', title='第三条消息', link='//evil.example/x', source='test:c')
    with in_tenant(c.tenant) as session:  # make the order certain
        for i, mid in enumerate((first, second, third)):
            session.execute(sa.update(Message).where(Message.id == mid)
                            .values(created_at=datetime(2026, 1, 1, i, tzinfo=UTC)))
    resident = client_for(c.tenant, c.owner_low_user)
    page = resident.get('/inbox')
    assert page.status_code == 200
    assert page.text.index('第三条消息') < page.text.index('第二条消息') < page.text.index('第一条消息')
    assert page.text.count('unread-dot') == 3
    assert '消息 <span class="badge">3</span>' in page.text  # the resident's menu carries the count
    with in_tenant(c.tenant):
        from propsaas.auth.models import User
        user = db.session.get(User, c.owner_low_user)
        assert inbox.unread_badge(user) == 3
        assert inbox.unread_badge(db.session.get(User, c.desk)) == 0

    opened = resident.get(f'/inbox/{first}')
    assert opened.status_code == 200 and '第一行' in opened.text and '第二行' in opened.text
    assert 'href="/notices"' in opened.text
    assert 'evil.example' not in resident.get(f'/inbox/{second}').text
    assert 'evil.example' not in resident.get(f'/inbox/{third}').text
    assert resident.get('/inbox').text.count('unread-dot') == 0

    fourth = message_to(in_tenant, c, 'owner_low', title='第四条消息', source='test:d')
    assert resident.get('/inbox').text.count('unread-dot') == 1
    assert resident.post('/inbox/read-all').status_code == 302
    assert resident.get('/inbox').text.count('unread-dot') == 0
    with in_tenant(c.tenant) as session:
        assert session.execute(sa.select(Message.read_at).where(Message.id == fourth)).scalar_one() is not None

    other = client_for(c.tenant, c.renter_high_user)
    assert other.get(f'/inbox/{first}').status_code == 404  # someone else's message
    assert '第一条消息' not in other.get('/inbox').text


def test_the_inbox_pages(compound, client_for, in_tenant):
    c = compound
    for i in range(23):
        message_to(in_tenant, c, 'owner_low', title=f'消息{i:02d}', source=f'test:{i}')
    resident = client_for(c.tenant, c.owner_low_user)
    first = resident.get('/inbox').text
    assert '第 1 / 2 页' in first and first.count('unread-dot') == 20
    assert resident.get('/inbox?page=2').text.count('unread-dot') == 3


def test_board_and_inbox_issue_a_constant_number_of_statements(app, compound, client_for, in_tenant):
    c = compound
    resident = client_for(c.tenant, c.owner_low_user)
    publish(in_tenant, c, title='一条')
    resident.get('/notices')
    with count_queries(app) as few_board:
        resident.get('/notices')
    with count_queries(app) as few_inbox:
        resident.get('/inbox')
    for i in range(5):
        publish(in_tenant, c, title=f'又一条{i}', pinned=i % 2 == 0)
    with count_queries(app) as many_board:
        assert '又一条4' in resident.get('/notices').text
    with count_queries(app) as many_inbox:
        assert '又一条4' in resident.get('/inbox').text
    assert len(many_board) == len(few_board)
    assert len(many_inbox) == len(few_inbox)
