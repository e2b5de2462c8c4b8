"""Staff told through the notification center: the technician an order is assigned to (新工单), the admins when the
sweep escalates an overdue order (超时提醒); their inbox, their SMS; a project without the templates, and
``flask notices add-templates``."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.notices.delivery import dispatch_due
from propsaas.notices.models import ChannelSetting, Delivery, LoggedMessage, Message, MessageTemplate
from propsaas.repairs import sweeps
from propsaas.repairs.models import WorkOrder
from propsaas.tenancy import clock
from tests.repairs.test_board import NOON, new_order


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    from tests.repairs.estate import build_estate

    def build(name='派工小区'):
        e = build_estate(make_tenant, make_user, in_tenant, name)
        with in_tenant(e.tenant) as session:
            session.get(User, e.tech).mobile = '13700000001'
            session.get(User, e.tech2).mobile = '13700000002'
            session.get(User, e.admin).mobile = '13700000009'
            session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel == 'sms').values(enabled=True))
            session.commit()
        return e

    return build


def staff_messages(in_tenant, tenant):
    with in_tenant(tenant) as session:
        return session.execute(sa.select(Message.user_id, Message.template_code, Message.title, Message.body,
                                         Message.link).where(Message.user_id.is_not(None))
                               .order_by(Message.id)).all()


def sms_to(in_tenant, tenant):
    """What the log provider sent by SMS: (mobile, text)."""
    with in_tenant(tenant) as session:
        dispatch_due(now=NOON.replace(hour=3))  # 11:00 in Shanghai: outside the quiet hours
        return session.execute(sa.select(LoggedMessage.address, LoggedMessage.text)
                               .where(LoggedMessage.channel == 'sms').order_by(LoggedMessage.id)).all()


def test_the_assigned_technician_gets_a_message_in_the_inbox_and_by_sms(estate, in_tenant, client_for):
    e = estate()
    order_id = new_order(in_tenant, e, urgency='urgent', description='卫生间水管爆裂')
    desk = client_for(e.tenant, e.desk)
    assert desk.post(f'/repairs/{order_id}/assign', data={'assignee_id': str(e.tech)}).status_code == 303
    with in_tenant(e.tenant) as session:
        number = session.get(WorkOrder, order_id).number
        # an urgent order: the technician is reached at any hour (quiet hours don't hold the SMS)
        assert session.execute(sa.select(Message.urgent).where(Message.user_id == e.tech)).scalar_one() is True
    [(user_id, template, title, body, link)] = staff_messages(in_tenant, e.tenant)
    assert (user_id, template, link) == (e.tech, 'repair_dispatched', f'/repairs/{order_id}')
    assert number in title and '1栋1单元101' in title and '加急' in body and '卫生间水管爆裂' in body
    assert '李师傅您好' in body
    texts = dict(sms_to(in_tenant, e.tenant))  # the technician's, and the resident's own 'repair_assigned'
    assert number in texts['13700000001'] and '加急' in texts['13700000001']

    # In the technician's inbox, with a badge; opening it marks it read and leads to the order.
    tech = client_for(e.tenant, e.tech)
    inbox = tech.get('/inbox')
    assert inbox.status_code == 200 and title in inbox.text and '消息 <span class="badge">1</span>' in inbox.text
    with in_tenant(e.tenant) as session:
        message_id = session.execute(sa.select(Message.id).where(Message.user_id == e.tech)).scalar_one()
    opened = tech.get(f'/inbox/{message_id}')
    assert opened.status_code == 200 and f'href="/repairs/{order_id}"' in opened.text
    assert '消息 <span class="badge">' not in tech.get('/inbox').text
    # Nobody else's: another technician, the resident, the desk.
    for other in (e.tech2, e.owner_user, e.desk):
        assert client_for(e.tenant, other).get(f'/inbox/{message_id}').status_code == 404
    assert title not in client_for(e.tenant, e.tech2).get('/inbox').text

    # 改派: the new assignee is told; the first one is not told again.
    assert desk.post(f'/repairs/{order_id}/assign', data={'assignee_id': str(e.tech2)}).status_code == 303
    assert [(m[0], m[1]) for m in staff_messages(in_tenant, e.tenant)] == [
        (e.tech, 'repair_dispatched'), (e.tech2, 'repair_dispatched')]


def test_escalation_messages_every_active_admin_once(estate, in_tenant, make_user, monkeypatch):
    e = estate()
    second_admin = make_user(e.tenant, 'admin', mobile='13700000008')
    gone = make_user(e.tenant, 'admin', mobile='13700000007', active=False)
    urgent = new_order(in_tenant, e, urgency='urgent', now=NOON)
    monkeypatch.setattr(clock, 'now_utc', lambda: NOON + timedelta(hours=5))
    with in_tenant(e.tenant):
        assert sweeps.run_sweep().overdue == 1
        assert sweeps.run_sweep().overdue == 0
    sent = staff_messages(in_tenant, e.tenant)
    with in_tenant(e.tenant) as session:
        admins = session.execute(sa.select(User.id).where(User.role == 'admin', User.active.is_(True))
                                 .order_by(User.id)).scalars().all()
    assert {e.admin, second_admin} <= set(admins) and gone not in admins
    assert [(m[0], m[1]) for m in sent] == [(admin, 'repair_escalated') for admin in admins]
    assert all('超过响应时限仍未派单' in m[3] and '未派单' in m[3] and m[4] == f'/repairs/{urgent}' for m in sent)
    # An urgent order's escalation is urgent: SMS at any hour, quiet hours or not.
    with in_tenant(e.tenant) as session:
        assert set(session.execute(sa.select(Message.urgent).where(Message.user_id.is_not(None))).scalars()) == {True}
        dispatch_due(now=NOON.replace(hour=16))  # midnight in Shanghai
        sms = session.execute(sa.select(Delivery.status, Delivery.address).where(Delivery.channel == 'sms')).all()
        assert {('sent', '13700000009'), ('sent', '13700000008')} <= set(sms)


def test_a_project_without_the_staff_templates_still_assigns_and_the_cli_adds_them(estate, in_tenant, client_for,
                                                                                   runner):
    e = estate()
    with in_tenant(e.tenant) as session:
        edited = session.execute(sa.select(MessageTemplate).where(MessageTemplate.code == 'repair_assigned')
                                 ).scalar_one()
        edited.title = '已派工（改过的标题）'
        session.execute(sa.delete(MessageTemplate).where(
            MessageTemplate.code.in_(('repair_dispatched', 'repair_escalated'))))
        session.commit()
    order_id = new_order(in_tenant, e)
    desk = client_for(e.tenant, e.desk)
    assert desk.post(f'/repairs/{order_id}/assign', data={'assignee_id': str(e.tech)}).status_code == 303
    assert staff_messages(in_tenant, e.tenant) == []
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(Message.title).where(Message.resident_id.is_not(None))).scalars().all() \
            == ['已派工（改过的标题）']

    result = runner.invoke(args=['notices', 'add-templates', '--tenant', e.tenant.slug])
    assert result.exit_code == 0 and 'added repair_dispatched, repair_escalated' in result.output
    again = runner.invoke(args=['notices', 'add-templates', '--tenant', e.tenant.slug])
    assert again.exit_code == 0 and 'nothing to add' in again.output
    with in_tenant(e.tenant) as session:
        titles = dict(session.execute(sa.select(MessageTemplate.code, MessageTemplate.title)).all())
        assert titles['repair_assigned'] == '已派工（改过的标题）'  # an edited template is kept
    assert runner.invoke(args=['notices', 'add-templates', '--tenant', 'no-such']).exit_code == 1
    assert desk.post(f'/repairs/{order_id}/assign', data={'assignee_id': str(e.tech2)}).status_code == 303
    assert [m[:2] for m in staff_messages(in_tenant, e.tenant)] == [(e.tech2, 'repair_dispatched')]
