"""Fan-out and dispatch: one record per recipient and channel, never twice; quiet hours, retries, resend."""
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.extensions import db
from propsaas.notices import delivery, targeting
from propsaas.notices.channels import SendFailed, provider
from propsaas.notices.delivery import Content, dispatch_due, fan_out, resend_failed
from propsaas.notices.models import ChannelSetting, Delivery, LoggedMessage, Message
from propsaas.notices.targeting import Audience
from propsaas.notices.templates import notify
from tests.notices.compound import no_quiet_hours

CONTENT = Content(title='停水通知', body='明天停水', short_text='【通知小区】明天停水')
# 2026-12-03 23:30 and 07:00 in Shanghai
LATE_EVENING = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
NOON = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)

FLAKY: dict[str, list] = {}  # address -> outcomes to play, one per attempt ('ok', 'transient', 'permanent', 'boom')


@provider('sms', 'flaky')
class FlakySms:
    def __init__(self, config):
        pass

    def send(self, outgoing):
        plays = FLAKY.get(outgoing.address) or ['ok']
        outcome = plays.pop(0) if len(plays) > 1 else plays[0]
        if outcome == 'transient':
            raise SendFailed('网关超时', transient=True)
        if outcome == 'permanent':
            raise SendFailed('号码无效 (isv.MOBILE_NUMBER_ILLEGAL)', transient=False)
        if outcome == 'boom':
            raise RuntimeError('provider exploded')
        return f'ref-{outgoing.address}'


def deliveries(channel=None) -> dict[int, Delivery]:
    query = sa.select(Delivery).join(Message)
    if channel:
        query = query.where(Delivery.channel == channel)
    return {d.message.resident_id: d for d in db.session.execute(query).scalars()}


def send_to_all(c, **kwargs):
    people = targeting.recipients(Audience())
    return fan_out('test:1', people, CONTENT, **kwargs)


def test_fan_out_writes_one_message_per_resident_and_one_delivery_per_channel(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        result = send_to_all(c, channels=['sms', 'email', 'wechat'])
        assert result.messages == 6
        by_channel = {ch: {rid: d.status for rid, d in deliveries(ch).items()}
                      for ch in ('inbox', 'sms', 'email', 'wechat')}
    assert len(by_channel['inbox']) == 6 and set(by_channel['inbox'].values()) == {'sent'}
    # owner_top opted out of SMS; owner_b2 has no mobile
    assert set(by_channel['sms']) == {c.residents[k] for k in ('owner_low', 'renter_high', 'family_high', 'owner_u2')}
    assert set(by_channel['sms'].values()) == {'queued'}
    # an e-mail address from the preferences (owner_low); the renter's portal login has none
    assert set(by_channel['email']) == {c.residents['owner_low']}
    assert set(by_channel['wechat']) == {c.residents['owner_low']}
    assert result.deliveries == 6 + 4 + 1 + 1


def test_running_a_send_again_messages_nobody_twice(compound, in_tenant):
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms'])
        again = send_to_all(compound, channels=['sms'])
        assert (again.messages, again.skipped) == (0, 6)
        assert db.session.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one() == 6


def test_urgent_goes_out_on_every_channel_despite_opt_outs(compound, in_tenant):
    with in_tenant(compound.tenant):
        fan_out('test:urgent', targeting.recipients(Audience()), CONTENT, channels=[], urgent=True)
        assert compound.residents['owner_top'] in deliveries('sms')


def test_channels_switched_off_for_the_tenant_get_no_deliveries(compound, in_tenant):
    with in_tenant(compound.tenant):
        db.session.execute(sa.update(ChannelSetting).values(enabled=False))
        send_to_all(compound, channels=['sms', 'email'], urgent=True)
        assert deliveries('sms') == {} and len(deliveries('inbox')) == 6


def test_log_provider_records_what_would_be_sent(compound, in_tenant):
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms', 'email', 'wechat'])
        report = dispatch_due(now=NOON)
        logged = db.session.execute(sa.select(LoggedMessage)).scalars().all()
        sms = deliveries('sms')
        assert report.sent == len(logged) > 0 and report.failed == 0
        assert {d.status for d in sms.values()} == {'sent'}
        assert {m.address for m in logged if m.channel == 'sms'} == {d.address for d in sms.values()}
        assert all(m.text == '【通知小区】明天停水' for m in logged if m.channel == 'sms')


def test_quiet_hours_postpone_sms_but_not_the_inbox_or_email(compound, in_tenant):
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms', 'email'])
        report = dispatch_due(now=LATE_EVENING)
        sms, email, inbox = deliveries('sms'), deliveries('email'), deliveries('inbox')
        assert {d.status for d in sms.values()} == {'postponed'}
        # 08:00 Shanghai the next morning
        assert {d.next_attempt_at for d in sms.values()} == {datetime(2026, 12, 4, 0, 0, tzinfo=UTC)}
        assert {d.status for d in email.values()} == {'sent'} and {d.status for d in inbox.values()} == {'sent'}
        assert report.postponed == len(sms)
        # nothing is due before 08:00; at 08:00 they go
        assert dispatch_due(now=datetime(2026, 12, 3, 23, 0, tzinfo=UTC)).sent == 0
        assert dispatch_due(now=datetime(2026, 12, 4, 0, 0, 1, tzinfo=UTC)).sent == len(sms)


def test_urgent_sms_ignores_quiet_hours(compound, in_tenant):
    with in_tenant(compound.tenant):
        fan_out('test:urgent', targeting.recipients(Audience()), CONTENT, urgent=True)
        dispatch_due(now=LATE_EVENING)
        assert {d.status for d in deliveries('sms').values()} == {'sent'}


@pytest.fixture
def flaky(compound, in_tenant):
    with in_tenant(compound.tenant):
        db.session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel == 'sms').values(provider='flaky'))
    FLAKY.clear()
    yield FLAKY
    FLAKY.clear()


def test_a_provider_that_raises_is_recorded_and_retried_with_backoff(app, compound, in_tenant, flaky):
    flaky['13800000001'] = ['boom', 'transient', 'ok']
    flaky['13800000002'] = ['permanent']
    with in_tenant(compound.tenant):
        no_quiet_hours(compound.tenant.id)  # the retries are timed by the wall clock
        send_to_all(compound, channels=['sms'])
        first = dispatch_due(now=NOON)
        sms = deliveries('sms')
        low, high = sms[compound.residents['owner_low']], sms[compound.residents['renter_high']]
        assert (low.status, low.attempts) == ('postponed', 1) and 'provider exploded' in low.last_error
        assert (high.status, high.last_error) == ('failed', '号码无效 (isv.MOBILE_NUMBER_ILLEGAL)')
        assert first.retrying == 1 and first.failed == 1
        retry_at = low.next_attempt_at
        assert retry_at > datetime.now(UTC) + timedelta(seconds=app.config['NOTIFY_RETRY_SECONDS'] - 5)
        dispatch_due(now=retry_at + timedelta(seconds=1))
        db.session.refresh(low)
        assert (low.status, low.attempts) == ('postponed', 2) and '网关超时' in low.last_error
        dispatch_due(now=low.next_attempt_at + timedelta(seconds=1))
        db.session.refresh(low)
        assert (low.status, low.attempts, low.provider_ref) == ('sent', 3, 'ref-13800000001')


def test_transient_failures_give_up_after_the_last_attempt(app, compound, in_tenant, flaky):
    flaky['13800000001'] = ['transient']
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms'])
        moment = NOON
        for _ in range(app.config['NOTIFY_MAX_ATTEMPTS']):
            dispatch_due(now=moment)
            moment += timedelta(days=1)
        low = deliveries('sms')[compound.residents['owner_low']]
        assert (low.status, low.attempts) == ('failed', app.config['NOTIFY_MAX_ATTEMPTS'])
        assert low.last_error == '网关超时'


def test_resend_after_a_partial_failure_reaches_only_the_failed(compound, in_tenant, flaky):
    flaky['13800000002'] = ['permanent', 'ok']
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms'])
        dispatch_due(now=NOON)
        sent_before = {rid: d.attempts for rid, d in deliveries('sms').items() if d.status == 'sent'}
        assert len(sent_before) == 3
        assert resend_failed('test:1') == 1
        db.session.commit()
        report = dispatch_due(now=NOON)
        after = deliveries('sms')
        assert report.sent == 1
        assert after[compound.residents['renter_high']].status == 'sent'
        assert {rid: after[rid].attempts for rid in sent_before} == sent_before


def test_a_claimed_delivery_is_never_sent_again(compound, in_tenant):
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms'])
        one = next(iter(deliveries('sms').values()))
        one.status = 'sending'  # another worker claimed it (and maybe died mid-send)
        db.session.commit()
        dispatch_due(now=NOON)
        db.session.refresh(one)
        assert one.status == 'sending'
        assert db.session.execute(sa.select(sa.func.count()).select_from(LoggedMessage)
                                  .where(LoggedMessage.delivery_id == one.id)).scalar_one() == 0


def test_the_sweep_fails_interrupted_sends_with_their_reason(app, compound, in_tenant):
    with in_tenant(compound.tenant):
        send_to_all(compound, channels=['sms'])
        one = next(iter(deliveries('sms').values())).id
        db.session.execute(sa.update(Delivery).where(Delivery.id == one)
                           .values(status='sending', updated_at=datetime.now(UTC) - timedelta(hours=1)))
    with app.app_context():
        assert delivery.sweep()['interrupted'] == 1
    with in_tenant(compound.tenant):
        again = db.session.get(Delivery, one)
        assert again.status == 'failed' and '中断' in again.last_error


def test_rate_limit_postpones_the_rest_to_the_next_minute(compound, in_tenant):
    with in_tenant(compound.tenant):
        db.session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel == 'sms').values(rate_per_minute=2))
        send_to_all(compound, channels=['sms'])
        report = dispatch_due(now=NOON)
        statuses = sorted(d.status for d in deliveries('sms').values())
    assert report.sent == 2 and statuses == ['postponed', 'postponed', 'sent', 'sent']


def test_notify_renders_the_tenants_template_per_resident(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        no_quiet_hours(c.tenant.id)  # notify() sends at once, by the wall clock
        result = notify([c.residents['owner_low'], c.residents['owner_b2']], 'repair_completed',
                        {'order_no': 'BX-0042', 'room': '1栋1单元201'}, source_key='workorder:42:completed',
                        link='/repairs/42')
        again = notify([c.residents['owner_low']], 'repair_completed', {'order_no': 'BX-0042', 'room': 'x'},
                       source_key='workorder:42:completed')
        message = db.session.execute(sa.select(Message).where(Message.resident_id == c.residents['owner_low'])
                                     ).scalar_one()
        sms = deliveries('sms')
        logged = db.session.execute(sa.select(LoggedMessage).where(LoggedMessage.channel == 'sms')).scalars().all()
        assert (result.messages, again.messages) == (2, 0)
        assert message.title == '维修已完成（BX-0042）' and message.body.startswith('王低层您好，1栋1单元201')
        assert message.link == '/repairs/42'
        # inline jobs: the SMS went out at once (the template's default channel), to the one with a mobile
        assert set(sms) == {c.residents['owner_low']} and sms[c.residents['owner_low']].status == 'sent'
        assert [m.text for m in logged] == ['【通知小区】报修BX-0042已完成，请在住户服务中评价。']
