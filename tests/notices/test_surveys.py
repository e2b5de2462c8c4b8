"""Surveys (问卷): drafting, sending to an audience, answering once, the tally, the satisfaction score, the export,
provisioning from the delivery template."""
from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.errors import DomainError, NotAllowed
from propsaas.extensions import db
from propsaas.models_base import get_or_404
from propsaas.notices import surveys as services
from propsaas.notices.models import Message, Survey, SurveyAnswer, SurveyResponse
from propsaas.notices.survey_export import export_survey
from propsaas.notices.targeting import Audience
from propsaas.tenancy.delivery import TemplateError, load_template
from propsaas.tenancy.models import Tenant
from tests.helpers import count_queries

TEMPLATES = Path(__file__).resolve().parents[2] / 'tenants'


def soon(days=7):
    return datetime.now(UTC) + timedelta(days=days)


def make_survey(in_tenant, tenant, *, kind='general', year=None, title='停车管理意见征集', open_to=None) -> dict:
    """A survey with a single, a multiple, a rating and an optional text question; opened to ``open_to``
    (an Audience) when given. Returns its id and its question ids by kind."""
    with in_tenant(tenant):
        survey = services.save_survey(None, title=title, description='请填写', kind=kind, year=year)
        services.add_question(survey, kind='single', text='您有几辆车？', options=['没有', '一辆', '两辆及以上'])
        services.add_question(survey, kind='multiple', text='希望改进哪些方面？', options='保洁\n绿化\n安全')
        services.add_question(survey, kind='rating', text='总体满意度')
        services.add_question(survey, kind='text', text='意见和建议', required=False)
        db.session.flush()
        ids = {'survey': survey.id, **{q.kind: q.id for q in survey.questions}}
    if open_to is not None:
        with in_tenant(tenant):
            services.open_survey(get_or_404(Survey, ids['survey']), open_to, soon())
    return ids


def answers_of(ids, single=0, multiple=(0,), rating=5, text=''):
    return {ids['single']: single, ids['multiple']: list(multiple), ids['rating']: rating, ids['text']: text}


def submit(in_tenant, tenant, ids, resident_id, **kwargs):
    with in_tenant(tenant):
        services.answer(get_or_404(Survey, ids['survey']), resident_id, answers_of(ids, **kwargs))


def test_provisioning_creates_this_years_satisfaction_survey(make_tenant, in_tenant):
    for template, title in (('standard-residential', '业主满意度调查'), ('office-building', '客户满意度调查')):
        tenant = make_tenant(template=template)
        with in_tenant(tenant):
            survey = db.session.execute(sa.select(Survey)).scalar_one()
            year = services.current_year(db.session.get(Tenant, tenant.id))
            assert survey.kind == 'satisfaction' and survey.status == 'draft' and survey.year == year
            assert survey.title == f'{year}年度{title}'
            kinds = [q.kind for q in survey.questions]
            assert kinds.count('rating') == 8 and kinds[-2:] == ['multiple', 'text']
            assert [q.position for q in survey.questions] == list(range(1, 11))
            assert '总体满意度' in survey.questions[7].text
            assert len(survey.questions[8].options) >= 5 and not survey.questions[9].required


def test_surveys_toml_is_validated(tmp_path):
    folder = tmp_path / 'broken'
    shutil.copytree(TEMPLATES / 'standard-residential', folder)
    (folder / 'surveys.toml').write_text(
        '[[surveys]]\ncode = "s"\ntitle = "调查"\nkind = "yearly"\n'
        '[[surveys.questions]]\nkind = "single"\ntext = "只有一个选项"\noptions = ["是"]\n'
        '[[surveys.questions]]\nkind = "rating"\ntext = "评分"\noptions = ["1", "2"]\n'
        '[[surveys]]\ncode = "t"\ntitle = "没有题目"\n', encoding='utf-8')
    with pytest.raises(TemplateError) as caught:
        load_template('broken', tmp_path)
    problems = '\n'.join(caught.value.errors)
    assert 'surveys.toml: surveys[1].kind' in problems
    assert 'surveys[1].questions[1].options' in problems and 'surveys[1].questions[2].options' in problems
    assert 'surveys[2].questions' in problems
    (folder / 'surveys.toml').unlink()
    assert load_template('broken', tmp_path).sections['surveys'] == {'surveys': []}


def test_question_rules(compound, in_tenant):
    with in_tenant(compound.tenant):
        survey = services.save_survey(None, title='测试')
        for kind, options, field in (('single', ['只有一个'], 'options'), ('multiple', ['甲', '甲'], 'options'),
                                     ('multiple', [str(i) for i in range(21)], 'options'),
                                     ('rating', ['1', '2'], 'options'), ('text', [], 'text'), ('essay', [], 'kind')):
            with pytest.raises(DomainError) as caught:
                services.add_question(survey, kind=kind, text='' if field == 'text' else '题目', options=options)
            assert caught.value.field == field, (kind, options)
        with pytest.raises(DomainError):
            services.save_survey(None, title='长' * 121)
        first = services.add_question(survey, kind='rating', text='一')
        second = services.add_question(survey, kind='text', text='二')
        db.session.flush()
        services.move_question(second, 'up')
        assert [q.text for q in sorted(survey.questions, key=lambda q: q.position)] == ['二', '一']
        services.remove_question(first)
        assert [(q.text, q.position) for q in survey.questions] == [('二', 1)]


def test_open_invites_the_audience_once(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        empty = services.save_survey(None, title='空问卷')
        db.session.flush()
        with pytest.raises(DomainError, match='至少一道题'):
            services.open_survey(empty, Audience(), soon())
    ids = make_survey(in_tenant, c.tenant)
    with in_tenant(c.tenant):
        survey = get_or_404(Survey, ids['survey'])
        with pytest.raises(DomainError):
            services.open_survey(survey, Audience(), datetime.now(UTC) - timedelta(hours=1))
        assert services.open_survey(survey, Audience(scope='buildings', building_ids=[c.buildings['1栋']]),
                                    soon()) == 5
    with in_tenant(c.tenant):
        survey = get_or_404(Survey, ids['survey'])
        assert survey.status == 'open' and survey.recipient_count == 5 and survey.opened_at is not None
        messages = db.session.execute(sa.select(Message).where(Message.survey_id == survey.id)).scalars().all()
        assert {m.resident_id for m in messages} == {c.residents[k] for k in
                                                     ('owner_low', 'renter_high', 'family_high', 'owner_top',
                                                      'owner_u2')}
        assert {m.source_key for m in messages} == {f'survey:{survey.id}'}
        assert {m.link for m in messages} == {f'/my/surveys/{survey.id}'}
        assert all('停车管理意见征集' in m.title and m.template_code == 'survey_invitation' for m in messages)
        with pytest.raises(DomainError):
            services.open_survey(survey, Audience(), soon())  # not a draft any more


def test_answered_once_per_resident(compound, in_tenant, monkeypatch):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    submit(in_tenant, c.tenant, ids, c.residents['owner_low'])
    with pytest.raises(services.AlreadyAnswered, match='你已经填写过这份问卷'):
        submit(in_tenant, c.tenant, ids, c.residents['owner_low'], rating=1)
    # a response that got in first (another request) is found by the check ...
    with in_tenant(c.tenant):
        db.session.add(SurveyResponse(survey_id=ids['survey'], resident_id=c.residents['owner_top']))
    with pytest.raises(services.AlreadyAnswered):
        submit(in_tenant, c.tenant, ids, c.residents['owner_top'])
    # ... and one that got in between the check and the insert by the unique key
    monkeypatch.setattr(services, '_already_answered', lambda survey_id, resident_id: False)
    with pytest.raises(services.AlreadyAnswered):
        submit(in_tenant, c.tenant, ids, c.residents['owner_low'], rating=2)
    with in_tenant(c.tenant):
        ratings = db.session.execute(sa.select(SurveyAnswer.rating).join(SurveyResponse).where(
            SurveyResponse.resident_id == c.residents['owner_low'], SurveyAnswer.rating.is_not(None))).scalars()
        assert list(ratings) == [5]
        assert db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)).scalar_one() == 2


def test_only_invited_residents_answer_while_open(compound, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience(scope='buildings', building_ids=[c.buildings['2栋']]))
    with pytest.raises(NotAllowed):
        submit(in_tenant, c.tenant, ids, c.residents['owner_low'])
    with pytest.raises(NotAllowed):
        submit(in_tenant, c.tenant, ids, c.residents['gone'])
    with in_tenant(c.tenant):
        survey = get_or_404(Survey, ids['survey'])
        with pytest.raises(services.NotOpen):
            services.answer(survey, c.residents['owner_b2'], answers_of(ids), now=soon(8))  # past closes_at
        services.close_survey(survey)
    with pytest.raises(services.NotOpen):
        submit(in_tenant, c.tenant, ids, c.residents['owner_b2'])
    draft = make_survey(in_tenant, c.tenant, title='草稿')
    with pytest.raises(services.NotOpen):
        submit(in_tenant, c.tenant, draft, c.residents['owner_b2'])


@pytest.mark.parametrize('change, field', [
    ({'single': None}, 'single'), ({'single': [0, 1]}, 'single'), ({'single': 3}, 'single'),
    ({'multiple': []}, 'multiple'), ({'multiple': [0, 5]}, 'multiple'), ({'rating': 6}, 'rating'),
    ({'rating': 0}, 'rating'), ({'rating': 'abc'}, 'rating'), ({'rating': True}, 'rating'),
    ({'text': 'x' * 2001}, 'text'),
])
def test_invalid_answers_are_refused_whole(compound, in_tenant, change, field):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    answers = answers_of(ids)
    for kind, value in change.items():
        answers[ids[kind]] = value
    with in_tenant(c.tenant):
        with pytest.raises(DomainError) as caught:
            services.answer(get_or_404(Survey, ids['survey']), c.residents['owner_low'], answers)
        assert caught.value.field == f'q{ids[field]}'
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)).scalar_one() == 0


def test_tally_matches_the_answers(app, compound, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())  # 6 recipients
    given = [('owner_low', 0, (0, 1), 5, '很好'), ('renter_high', 1, (1,), 4, ''),
             ('owner_top', 1, (1, 2), 2, '=HYPERLINK("http://evil.example","点我")')]
    for key, single, multiple, rating, text in given:
        submit(in_tenant, c.tenant, ids, c.residents[key], single=single, multiple=multiple, rating=rating,
               text=text)
    with in_tenant(c.tenant):
        survey = get_or_404(Survey, ids['survey'])
        with count_queries(app) as statements:
            result = services.tally(survey)
        assert len(statements) <= 4
        assert result.responses == 3 and result.recipients == 6 and result.rate == Decimal('50.0')
        single, multiple, rating, text = result.questions
        assert [(o, n) for o, n, _ in single.options] == [('没有', 1), ('一辆', 2), ('两辆及以上', 0)]
        assert [p for _, _, p in single.options] == [Decimal('33.3'), Decimal('66.7'), Decimal('0.0')]
        assert [(o, n) for o, n, _ in multiple.options] == [('保洁', 1), ('绿化', 3), ('安全', 1)]
        assert multiple.options[1][2] == Decimal('100.0')
        assert rating.average == Decimal('3.67') and rating.distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
        assert text.answered == 2 and set(text.texts) == {'很好', '=HYPERLINK("http://evil.example","点我")'}
        paged = services.tally(survey, text_limit=1, text_page=2)
        assert len(paged.questions[3].texts) == 1 and paged.text_pages == 2


def test_export_matches_and_neutralises_formulas(compound, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    submit(in_tenant, c.tenant, ids, c.residents['owner_low'], single=2, multiple=(0, 2), rating=4,
           text='=HYPERLINK("http://evil.example","点我")')
    submit(in_tenant, c.tenant, ids, c.residents['renter_high'], single=0, multiple=(1,), rating=2)
    with in_tenant(c.tenant):
        content = export_survey(get_or_404(Survey, ids['survey']), db.session.get(Tenant, c.tenant.id))
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert book.sheetnames == ['汇总', '明细']
    summary = [list(row) for row in book['汇总'].iter_rows(values_only=True)]
    assert ['提交份数', 2] == summary[2][:2] and summary[3][1] == pytest.approx(33.3)
    assert [1, '您有几辆车？', '单选', '两辆及以上', 1, 50.0, None] in summary
    assert [3, '总体满意度', '评分（1-5）', '全部', 2, None, 3.0] in summary
    details = [list(row) for row in book['明细'].iter_rows(values_only=True)]
    assert details[0][:3] == ['提交时间', '房号', '1. 您有几辆车？']
    rows = {row[1]: row for row in details[1:]}
    assert set(rows) == {'1-1-201', '1-1-1201'}
    assert rows['1-1-201'][2:] == ['两辆及以上', '保洁、安全', '4', '\'=HYPERLINK("http://evil.example","点我")']
    assert rows['1-1-1201'][2:5] == ['没有', '绿化', '2'] and rows['1-1-1201'][5] in (None, '')
    flat = ' '.join(str(v) for row in details for v in row)
    assert '王低层' not in flat and '13800000001' not in flat
    assert len(details[1][0]) == 19  # '2026-05-01 09:30:00', the project's time


def test_satisfaction_score_and_copy_for_next_year(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        assert services.satisfaction_score(2031) is None
    ids = make_survey(in_tenant, c.tenant, kind='satisfaction', year=2031, title='2031年度业主满意度调查',
                      open_to=Audience())
    with in_tenant(c.tenant):
        empty = services.satisfaction_score(2031)
        assert empty['average'] is None and empty['responses'] == 0 and empty['recipients'] == 6
    submit(in_tenant, c.tenant, ids, c.residents['owner_low'], rating=5)
    submit(in_tenant, c.tenant, ids, c.residents['owner_top'], rating=4)
    submit(in_tenant, c.tenant, ids, c.residents['owner_u2'], rating=4)
    make_survey(in_tenant, c.tenant, title='普通问卷', open_to=Audience())  # general: not counted
    with in_tenant(c.tenant):
        score = services.satisfaction_score(2031)
        assert score['average'] == Decimal('4.33') and score['score'] == Decimal('86.6')
        assert score['responses'] == 3 and score['recipients'] == 6 and score['rate'] == Decimal('50.0')
        assert services.satisfaction_score(2030) is None
        copy = services.copy_survey(get_or_404(Survey, ids['survey']))
        db.session.flush()
        assert copy.title == '2032年度业主满意度调查' and copy.year == 2032 and copy.status == 'draft'
        assert [q.text for q in copy.questions] == ['您有几辆车？', '希望改进哪些方面？', '总体满意度', '意见和建议']
        general = services.copy_survey(db.session.execute(sa.select(Survey).where(Survey.title == '普通问卷'))
                                       .scalar_one())
        assert general.title == '普通问卷（副本）' and general.kind == 'general'


def test_another_tenants_survey_is_invisible(compound, make_tenant, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    other = make_tenant(name='别的小区')
    with in_tenant(other):
        assert db.session.execute(sa.select(Survey).where(Survey.id == ids['survey'])).scalar_one_or_none() is None
