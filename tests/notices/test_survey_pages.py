"""Survey pages: staff draft, send, close, read and export; residents answer once in the portal."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.extensions import db
from propsaas.notices.models import Message, Survey, SurveyQuestion, SurveyResponse
from propsaas.notices.targeting import Audience
from tests.helpers import count_queries
from tests.notices.test_surveys import make_survey, submit


def survey_id_from(response) -> int:
    return int(re.search(r'/surveys/(\d+)', response.headers['Location']).group(1))


def test_staff_draft_and_send_a_survey(compound, client_for, in_tenant):
    c = compound
    desk = client_for(c.tenant, c.desk)
    assert '问卷调查' in desk.get('/surveys').text
    created = desk.post('/surveys/new', data={'title': '电梯加装意见', 'description': '请发表意见'})
    assert created.status_code == 302
    sid = survey_id_from(created)
    assert desk.post('/surveys/new', data={'title': ''}).status_code == 422
    page = f'/surveys/{sid}'
    bad = desk.post(f'{page}/questions', data={'new-kind': 'single', 'new-text': '是否同意', 'new-options': '同意'})
    assert bad.status_code == 422 and '2 到 20 个选项' in bad.text
    for data in ({'new-kind': 'single', 'new-text': '是否同意加装电梯', 'new-options': '同意\n不同意\n无所谓',
                  'new-required': 'y'},
                 {'new-kind': 'rating', 'new-text': '对目前电梯的满意度', 'new-required': 'y'},
                 {'new-kind': 'text', 'new-text': '其他意见'}):
        assert desk.post(f'{page}/questions', data=data).status_code == 302
    with in_tenant(c.tenant):
        questions = db.session.execute(sa.select(SurveyQuestion).where(SurveyQuestion.survey_id == sid)
                                       .order_by(SurveyQuestion.position)).scalars().all()
        q1, q2, q3 = (q.id for q in questions)
        assert questions[2].required is False and questions[0].options == ['同意', '不同意', '无所谓']
    assert desk.post(f'{page}/questions/{q3}/move', data={'direction': 'up'}).status_code == 302
    edited = desk.post(f'{page}/questions/{q2}/edit', data={f'q{q2}-kind': 'rating', f'q{q2}-text': '电梯满意度',
                                                            f'q{q2}-required': 'y'})
    assert edited.status_code == 302
    assert desk.post(f'{page}/questions/{q1}/delete').status_code == 302
    with in_tenant(c.tenant):
        survey = db.session.get(Survey, sid)
        assert [(q.text, q.position) for q in survey.questions] == [('其他意见', 1), ('电梯满意度', 2)]
    detail = desk.get(page)
    assert detail.status_code == 200 and '电梯满意度' in detail.text and '选择范围并发出' in detail.text

    form = desk.get(f'{page}/open')
    assert form.status_code == 200 and 'audience-scope' in form.text
    closes = (date.today() + timedelta(days=10)).isoformat()
    preview = desk.post(f'{page}/open', data={'audience-scope': 'buildings',
                                              'audience-building_ids': str(c.buildings['2栋']),
                                              'closes_on': closes, 'action': 'preview'})
    assert preview.status_code == 200 and '将邀请 1 位住户' in preview.text and '孙二栋' in preview.text
    no_date = desk.post(f'{page}/open', data={'audience-scope': 'all', 'closes_on': '', 'action': 'open'})
    assert no_date.status_code == 422 and '请填写截止日期' in no_date.text
    opened = desk.post(f'{page}/open', data={'audience-scope': 'all', 'closes_on': closes, 'action': 'open'})
    assert opened.status_code == 302
    with in_tenant(c.tenant):
        survey = db.session.get(Survey, sid)
        assert survey.status == 'open' and survey.recipient_count == 6
        assert db.session.execute(sa.select(sa.func.count()).select_from(Message)
                                  .where(Message.survey_id == sid)).scalar_one() == 6
    # sent: the questions can't change any more
    late = desk.post(f'{page}/questions', data={'new-kind': 'text', 'new-text': '再加一题'})
    assert late.status_code == 422 and '不能再修改' in late.text
    assert desk.post(f'{page}/close').status_code == 302
    with in_tenant(c.tenant):
        assert db.session.get(Survey, sid).status == 'closed'


def test_only_admin_and_service_desk(compound, client_for):
    c = compound
    assert client_for(c.tenant, c.tech).get('/surveys').status_code == 403
    assert client_for(c.tenant, c.owner_low_user).get('/surveys').status_code == 403
    assert client_for(c.tenant, c.admin).get('/surveys').status_code == 200


def test_resident_answers_once(compound, client_for, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    owner = client_for(c.tenant, c.owner_low_user)
    listing = owner.get('/my/surveys')
    assert listing.status_code == 200 and '停车管理意见征集' in listing.text and '待填写' in listing.text
    path = f'/my/surveys/{ids["survey"]}'
    form = owner.get(path)
    assert form.status_code == 200 and f'name="q{ids["rating"]}"' in form.text
    missing = owner.post(path, data={f'q{ids["single"]}': '1', f'q{ids["multiple"]}': ['0', '2']})
    assert missing.status_code == 422 and '请回答第 3 题' in missing.text
    data = {f'q{ids["single"]}': '1', f'q{ids["multiple"]}': ['0', '2'], f'q{ids["rating"]}': '4',
            f'q{ids["text"]}': '希望增加车位'}
    done = owner.post(path, data=data)
    assert done.status_code == 302
    shown = owner.get(path)
    assert '已提交' in shown.text and '希望增加车位' in shown.text and '保洁、安全' in shown.text
    again = owner.post(path, data=data)
    assert again.status_code == 409 and '只能提交一次' in again.text
    assert '已提交' in owner.get('/my/surveys').text
    with in_tenant(c.tenant):
        assert db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)).scalar_one() == 1


def test_uninvited_and_other_tenants_surveys_are_not_found(compound, client_for, in_tenant, make_tenant,
                                                           make_user):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience(scope='buildings', building_ids=[c.buildings['2栋']]))
    owner = client_for(c.tenant, c.owner_low_user)  # lives in 1栋: not invited
    assert owner.get(f'/my/surveys/{ids["survey"]}').status_code == 404
    assert owner.post(f'/my/surveys/{ids["survey"]}', data={}).status_code == 404
    assert '停车管理意见征集' not in owner.get('/my/surveys').text
    draft = make_survey(in_tenant, c.tenant, title='草稿问卷')
    assert owner.get(f'/my/surveys/{draft["survey"]}').status_code == 404
    other = make_tenant(name='乙小区')
    admin_b = client_for(other, make_user(other, 'admin'))
    for path in (f'/surveys/{ids["survey"]}', f'/surveys/{ids["survey"]}/results',
                 f'/surveys/{ids["survey"]}/export', f'/my/surveys/{ids["survey"]}'):
        assert admin_b.get(path).status_code == 404, path
    for path in (f'/surveys/{ids["survey"]}', f'/surveys/{ids["survey"]}/results', f'/surveys/{ids["survey"]}/export',
                 f'/surveys/{ids["survey"]}/open'):
        assert admin_b.get(path).status_code == 404, path
    for path in ('close', 'copy', 'questions', f'questions/{ids["rating"]}/delete',
                 f'questions/{ids["rating"]}/move', f'questions/{ids["rating"]}/edit'):
        assert admin_b.post(f'/surveys/{ids["survey"]}/{path}', data={}).status_code == 404, path
    # a question of another survey under this one's URL
    mine = make_survey(in_tenant, c.tenant, title='另一份')
    desk = client_for(c.tenant, c.desk)
    assert desk.post(f'/surveys/{mine["survey"]}/questions/{ids["rating"]}/delete').status_code == 404


def test_results_page_and_export(app, compound, client_for, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    desk = client_for(c.tenant, c.desk)
    path = f'/surveys/{ids["survey"]}/results'
    counts = []
    for key in ('owner_low', 'renter_high', 'family_high'):
        submit(in_tenant, c.tenant, ids, c.residents[key], single=1, multiple=(0, 1), rating=4,
               text=f'{key}的意见')
        desk.get(path)  # warm up
        with count_queries(app) as statements:
            response = desk.get(path)
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] == counts[2], counts
    page = desk.get(path).text
    assert '50.0%' in page and '<meter' in page and 'family_high的意见' in page and '4.00' in page
    assert '合计可超过 100%，' not in page and '合计可超过 100%<' in page
    listing = desk.get('/surveys').text
    assert '50.0%' in listing
    export = desk.get(f'/surveys/{ids["survey"]}/export')
    assert export.status_code == 200 and export.mimetype.endswith('spreadsheetml.sheet')
    book = load_workbook(io.BytesIO(export.data), read_only=True)
    assert len(list(book['明细'].iter_rows(values_only=True))) == 4


def test_copy_as_new_survey(compound, client_for, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, kind='satisfaction', year=2030, title='2030年度业主满意度调查',
                      open_to=Audience())
    desk = client_for(c.tenant, c.desk)
    copied = desk.post(f'/surveys/{ids["survey"]}/copy')
    assert copied.status_code == 302
    new_id = survey_id_from(copied)
    page = desk.get(f'/surveys/{new_id}')
    assert '2031年度业主满意度调查' in page.text and '总体满意度' in page.text
