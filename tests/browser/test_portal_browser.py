"""The resident portal's main flows on a phone, in headless chromium: log in, read a notice, answer a survey.

Data is built with the services (as staff would through their pages); the residents use only the browser.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.notices import announcements, surveys
from propsaas.notices.targeting import Audience
from tests.conftest import PASSWORD
from tests.notices.compound import build_compound

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390


@pytest.fixture
def c(make_tenant, make_user, in_tenant):
    return build_compound(make_tenant, make_user, in_tenant, name='浏览器小区')


def publish(in_tenant, c, title: str, body: str, audience: dict) -> int:
    with in_tenant(c.tenant):
        announcement = announcements.save(None, title=title, body=body, category='停水', audience=audience)
        db.session.flush()
        announcements.publish_now(announcement, by_user_id=c.desk)  # jobs run inline in tests
        return announcement.id


def high_floors(c) -> dict:
    """Floors 10-20 of 1栋: renter_high (12) is in it, owner_low (2) is not."""
    return Audience(scope='floors', floor_building_id=c.buildings['1栋'], floor_min=10, floor_max=20).to_json()


def login_of(in_tenant, tenant, user_id: int) -> str:
    """What the person types in 手机号或邮箱: a resident's mobile, a staff member's e-mail."""
    with in_tenant(tenant) as session:
        user = session.get(User, user_id)
        return user.mobile or user.email


def log_in(page, expect, login: str):
    page.goto('/login')
    page.get_by_label('手机号或邮箱').fill(login)
    page.get_by_label('密码').fill(PASSWORD)
    page.get_by_role('button', name='登录').click()
    expect(page.get_by_role('button', name='退出')).to_be_visible()


def nav_link(page, label: str):
    return page.locator('nav.nav a', has_text=re.compile(f'^{label}'))


def scroll_width(page) -> int:
    return page.evaluate('document.documentElement.scrollWidth')


def test_a_resident_reads_a_notice_for_their_floors_and_staff_see_the_receipt(c, open_page, expect, in_tenant,
                                                                              client_for):
    announcement_id = publish(in_tenant, c, '1栋高区停水通知', '<p>明天 9:00-12:00 高区停水，请提前储水。</p>',
                              high_floors(c))

    page = open_page(c.tenant)
    log_in(page, expect, login_of(in_tenant, c.tenant, c.renter_high_user))
    expect(nav_link(page, '消息').locator('.badge')).to_have_text('1')

    nav_link(page, '公告').click()
    expect(page.get_by_role('heading', name='公告')).to_be_visible()
    notice = page.get_by_role('link', name=re.compile('1栋高区停水通知'))
    expect(notice.locator('.unread-dot')).to_have_count(1)
    notice.click()

    expect(page.get_by_role('heading', name='1栋高区停水通知')).to_be_visible()
    expect(page.locator('.notice-body')).to_contain_text('高区停水，请提前储水')
    expect(nav_link(page, '消息').locator('.badge')).to_have_count(0)  # the read receipt was recorded
    page.get_by_role('link', name='← 全部公告').click()
    expect(page.get_by_role('link', name=re.compile('1栋高区停水通知')).locator('.unread-dot')).to_have_count(0)

    staff_page = client_for(c.tenant, c.desk).get(f'/announcements/{announcement_id}')
    assert staff_page.status_code == 200
    assert '已读 1 人，未读 3 人' in staff_page.text  # renter_high read it; family_high, owner_top, owner_u2 not

    other = open_page(c.tenant)
    log_in(other, expect, login_of(in_tenant, c.tenant, c.owner_low_user))
    nav_link(other, '公告').click()
    expect(other.get_by_role('heading', name='公告')).to_be_visible()
    expect(other.locator('main')).not_to_contain_text('1栋高区停水通知')
    expect(other.locator('.empty')).to_be_visible()
    assert other.goto(f'/notices/{announcement_id}').status == 404


def test_script_in_a_notice_body_never_runs(c, open_page, expect, in_tenant):
    announcement_id = publish(
        in_tenant, c, '电梯维保通知',
        '<p>电梯维保，请走楼梯。</p><img src=x onerror=alert(1)><script>alert(2)</script>'
        '<p onclick="alert(3)"><a href="javascript:alert(4)">详情</a></p>',
        {'scope': 'all'})

    for user_id in (c.owner_low_user, c.desk):  # the resident reading it, and the service desk checking it
        page = open_page(c.tenant)
        dialogs = []
        page.on('dialog', lambda dialog, seen=dialogs: (seen.append(dialog.message), dialog.dismiss()))
        log_in(page, expect, login_of(in_tenant, c.tenant, user_id))
        page.goto(f'/notices/{announcement_id}', wait_until='load')  # staff are sent on to their own page
        expect(page.get_by_text('电梯维保，请走楼梯。')).to_be_visible()
        page.get_by_text('详情', exact=True).click()  # a javascript: link would run here (it lost its href)
        page.wait_for_load_state('load')
        assert page.locator('script:not([src]), [onerror], [onclick], a[href^="javascript"]').count() == 0
        assert dialogs == []
        # The listener does catch a dialog when there is one (so the empty list above means something).
        page.evaluate("() => alert('control')")
        assert dialogs == ['control']


def test_a_resident_answers_a_survey_once(c, open_page, expect, in_tenant):
    with in_tenant(c.tenant):
        survey = surveys.save_survey(None, title='2026年物业服务满意度调查', description='请花一分钟告诉我们您的看法。',
                                     by_user_id=c.desk)
        surveys.add_question(survey, kind='rating', text='您对小区保洁是否满意？')
        surveys.add_question(survey, kind='single', text='您最希望改进哪一项？', options=['保洁', '安保', '绿化'])
        db.session.flush()
        surveys.open_survey(survey, Audience(scope='all'), datetime.now(UTC) + timedelta(days=7), by_user_id=c.desk)

    page = open_page(c.tenant)
    log_in(page, expect, login_of(in_tenant, c.tenant, c.renter_high_user))
    nav_link(page, '问卷').click()
    tile = page.get_by_role('link', name=re.compile('2026年物业服务满意度调查'))
    expect(tile).to_contain_text('待填写')
    tile.click()
    stale = page.context.new_page()  # the same form left open in another tab of the phone
    stale.goto(page.url)

    page.get_by_label('4 满意').check()
    page.get_by_label('安保').check()
    page.get_by_role('button', name='提交').click()
    expect(page.locator('.flash').first).to_contain_text('已提交')
    expect(page.locator('.facts')).to_contain_text('安保')
    expect(page.locator('.facts')).to_contain_text('4 分')

    page.go_back()  # loaded again (Playwright's chromium keeps no back-forward cache): the answers, no form
    expect(page.locator('main')).to_contain_text('已提交')
    expect(page.get_by_role('button', name='提交')).to_have_count(0)

    stale.get_by_label('5 非常满意').check()  # the old form still sends: refused, with the reason
    stale.get_by_label('绿化').check()
    with stale.expect_response(re.compile(r'/my/surveys/\d+$')) as second:
        stale.get_by_role('button', name='提交').click()
    assert second.value.status == 409
    expect(stale.locator('.flash-error')).to_contain_text('你已经填写过这份问卷')
    expect(stale.locator('.facts')).to_contain_text('安保')  # the first answers stand
    expect(stale.locator('.facts')).not_to_contain_text('绿化')

    nav_link(page, '问卷').click()
    expect(page.get_by_role('link', name=re.compile('2026年物业服务满意度调查'))).to_contain_text('已提交')


def test_the_board_and_a_notice_fit_a_phone_without_sideways_scrolling(c, open_page, expect, in_tenant):
    """A real notice: a long title, a timetable and a long link, as the service desk pastes them."""
    title = '关于2026年第二季度二次供水水箱清洗消毒及1栋、2栋高低区分时段停水安排的通知'
    body = ('<p>尊敬的业主、住户：为保障饮用水卫生，物业将对二次供水水箱进行清洗消毒，具体安排如下：</p>'
            '<table><thead><tr><th>楼栋</th><th>区域</th><th>停水时间</th><th>恢复时间</th><th>联系人</th></tr></thead>'
            '<tbody><tr><td>1栋</td><td>高区（10-20层）</td><td>2026-05-12 09:00</td><td>2026-05-12 15:00</td>'
            '<td>客服中心 0755-88886666</td></tr>'
            '<tr><td>2栋</td><td>全部楼层</td><td>2026-05-13 09:00</td><td>2026-05-13 15:00</td>'
            '<td>客服中心 0755-88886666</td></tr></tbody></table>'
            '<p>水质检测报告：https://wuye.example.cn/reports/2026/q2/water-tank-cleaning-and-disinfection-report.pdf</p>'
            '<p><a href="https://wuye.example.cn/reports/2026/q2/water-tank-cleaning-and-disinfection-report.pdf">'
            'https://wuye.example.cn/reports/2026/q2/water-tank-cleaning-and-disinfection-report.pdf</a></p>')
    announcement_id = publish(in_tenant, c, title, body, {'scope': 'all'})

    page = open_page(c.tenant)
    log_in(page, expect, login_of(in_tenant, c.tenant, c.renter_high_user))
    page.goto('/notices')
    expect(page.get_by_role('link', name=re.compile('二次供水水箱清洗消毒'))).to_be_visible()
    assert scroll_width(page) <= PHONE_WIDTH, 'the notice board scrolls sideways on a phone'
    page.goto(f'/notices/{announcement_id}')
    expect(page.locator('.notice-body table')).to_be_visible()
    assert scroll_width(page) <= PHONE_WIDTH, 'the notice scrolls sideways on a phone'
