"""Surveys (问卷): drafted with their questions, opened to a targeted group, answered once per resident, closed.

The life of a survey::

    draft ──open(audience, closes_at)──> open ──close / closes_at passes──> closed

Opening invites the audience: one message per resident (inbox, plus the channels of the tenant's
'survey_invitation' template), so *invited* means "has a message for this survey". An invited resident answers
once while it is open and before ``closes_at``; the unique key on (survey, resident) keeps it once under races.

Services never commit, except ``open_survey`` (it starts sending, which commits). Errors are DomainError with the
reason in Chinese.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models_base import utcnow
from ..residents.models import Resident
from ..tenancy.clock import local_datetime, tenant_zone
from ..tenancy.context import current_tenant_id
from ..tenancy.models import Tenant
from . import targeting
from .delivery import Content, fan_out, start_dispatch
from .models import QUESTION_KINDS, Message, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from .targeting import Audience
from .templates import get_template, render

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
QUESTION_TEXT_MAX = 300
ANSWER_TEXT_MAX = 2000
OPTION_MAX = 60
MIN_OPTIONS, MAX_OPTIONS = 2, 20
MAX_QUESTIONS = 100
CHOICE_KINDS = ('single', 'multiple')
RATINGS = (1, 2, 3, 4, 5)
KINDS = ('general', 'satisfaction')
INVITATION_TEMPLATE = 'survey_invitation'
TEXT_LIMIT = 20


class AlreadyAnswered(DomainError):
    """The resident has answered this survey already (shown as 409 by the API)."""

    status_code = 409


class NotOpen(DomainError):
    """The survey is not taking answers (not sent yet, closed, or past its closing time): 409 in the API."""

    status_code = 409


# --------------------------------------------------------------------------- small helpers


def current_year(tenant, now: datetime | None = None) -> int:
    return (now or datetime.now(UTC)).astimezone(tenant_zone(tenant)).year


def state(survey: Survey, now: datetime | None = None) -> str:
    """draft / open / closed as residents see it: an open survey past ``closes_at`` is closed."""
    now = now or datetime.now(UTC)
    if survey.status == 'open' and survey.closes_at is not None and survey.closes_at <= now:
        return 'closed'
    return survey.status


def response_rate(responses: int, recipients: int) -> Decimal | None:
    """Responses per recipient as a percentage with one decimal (None before anyone was invited)."""
    if not recipients:
        return None
    return (Decimal(responses) * 100 / Decimal(recipients)).quantize(Decimal('0.1'), ROUND_HALF_UP)


def _text(value, *, limit: int, field: str, message) -> str:
    value = (value or '').strip()
    if not value:
        raise DomainError(message, field=field)
    if len(value) > limit:
        raise DomainError(_l('最多 %(n)s 个字', n=limit), field=field)
    return value


def _require_draft(survey: Survey) -> None:
    if survey.status != 'draft':
        raise DomainError(_l('问卷已经发出，不能再修改；如需调整，请“复制为新问卷”后修改'))


# --------------------------------------------------------------------------- drafting


def save_survey(survey: Survey | None, *, title: str, description: str = '', kind: str = 'general',
                year: int | None = None, by_user_id: int | None = None) -> Survey:
    """Create a draft, or edit a draft's title and description. Does not commit."""
    if survey is not None:
        _require_draft(survey)
    title = _text(title, limit=TITLE_MAX, field='title', message=_l('请填写问卷标题（最多 120 字）'))
    description = (description or '').strip()
    if len(description) > DESCRIPTION_MAX:
        raise DomainError(_l('说明最多 %(n)s 字', n=DESCRIPTION_MAX), field='description')
    if survey is None:
        if kind not in KINDS:
            raise DomainError(_l('不认识的问卷类型'), field='kind')
        survey = Survey(kind=kind, year=year, status='draft', created_by_id=by_user_id, audience={})
        db.session.add(survey)
    survey.title, survey.description = title, description
    return survey


def _clean_question(kind: str, text: str, options) -> tuple[str, list[str]]:
    if kind not in QUESTION_KINDS:
        raise DomainError(_l('请选择题型'), field='kind')
    text = _text(text, limit=QUESTION_TEXT_MAX, field='text', message=_l('请填写题目（最多 300 字）'))
    if isinstance(options, str):
        options = options.splitlines()
    options = [str(o).strip() for o in (options or []) if str(o).strip()]
    if kind in CHOICE_KINDS:
        if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise DomainError(_l('选择题需要 2 到 20 个选项，每行一个'), field='options')
        if len(set(options)) != len(options):
            raise DomainError(_l('选项不能重复'), field='options')
        if any(len(o) > OPTION_MAX for o in options):
            raise DomainError(_l('每个选项最多 %(n)s 字', n=OPTION_MAX), field='options')
    elif options:
        raise DomainError(_l('只有单选题和多选题有选项'), field='options')
    return text, options


def add_question(survey: Survey, *, kind: str, text: str, options=(), required: bool = True) -> SurveyQuestion:
    """Append a question to a draft. Choice questions take 2-20 distinct options; others none. Does not commit."""
    _require_draft(survey)
    text, options = _clean_question(kind, text, options)
    if len(survey.questions) >= MAX_QUESTIONS:
        raise DomainError(_l('一份问卷最多 %(n)s 题', n=MAX_QUESTIONS))
    position = max((q.position for q in survey.questions), default=0) + 1
    question = SurveyQuestion(kind=kind, text=text, options=options, required=bool(required), position=position)
    survey.questions.append(question)
    return question


def edit_question(question: SurveyQuestion, *, kind: str, text: str, options=(), required: bool = True) -> None:
    _require_draft(question.survey)
    text, options = _clean_question(kind, text, options)
    question.kind, question.text, question.options, question.required = kind, text, options, bool(required)


def remove_question(question: SurveyQuestion) -> None:
    survey = question.survey
    _require_draft(survey)
    survey.questions.remove(question)
    _renumber(survey)


def move_question(question: SurveyQuestion, direction: str) -> None:
    """Swap with the neighbour above ('up') or below ('down'); at the edge nothing changes."""
    survey = question.survey
    _require_draft(survey)
    if direction not in ('up', 'down'):
        raise DomainError(_l('只能上移或下移'))
    ordered = sorted(survey.questions, key=lambda q: (q.position, q.id or 0))
    index = ordered.index(question)
    other = index - 1 if direction == 'up' else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, q in enumerate(ordered, 1):
        q.position = position


def _renumber(survey: Survey) -> None:
    for position, q in enumerate(sorted(survey.questions, key=lambda q: (q.position, q.id or 0)), 1):
        q.position = position


def copy_survey(survey: Survey, *, by_user_id: int | None = None) -> Survey:
    """复制为新问卷: a new draft with the same questions. A satisfaction survey becomes next year's
    ('2026年度…' -> '2027年度…'). Does not commit."""
    title, year = survey.title, survey.year
    if survey.kind == 'satisfaction' and year is not None:
        year += 1
        prefix = f'{survey.year}年'
        title = f'{year}年{title[len(prefix):]}' if title.startswith(prefix) else f'{year}年度{title}'
    else:
        title = f'{title}（副本）'
    copy = Survey(title=title[:TITLE_MAX], description=survey.description, kind=survey.kind, year=year,
                  status='draft', audience={}, created_by_id=by_user_id)
    for q in sorted(survey.questions, key=lambda q: q.position):
        copy.questions.append(SurveyQuestion(kind=q.kind, text=q.text, options=list(q.options or []),
                                             required=q.required, position=q.position))
    db.session.add(copy)
    return copy


# --------------------------------------------------------------------------- opening and closing


def open_survey(survey: Survey, audience: Audience | dict, closes_at: datetime, *,
                by_user_id: int | None = None) -> int:
    """Invite the audience and open the survey until ``closes_at`` (aware datetime). Returns the recipient count.

    Only a draft with at least one question opens. Each recipient gets one message (inbox and the channels of
    the 'survey_invitation' template) linking to /my/surveys/<id>. Commits (sending starts right away).
    """
    if survey.status != 'draft':
        raise DomainError(_l('只有草稿状态的问卷可以发出'))
    if not survey.questions:
        raise DomainError(_l('请先添加至少一道题目'))
    if closes_at is None:
        raise DomainError(_l('请填写截止时间'), field='closes_at')
    if closes_at.tzinfo is None:
        closes_at = closes_at.replace(tzinfo=UTC)
    if closes_at <= datetime.now(UTC):
        raise DomainError(_l('截止时间必须晚于现在'), field='closes_at')
    if not isinstance(audience, Audience):
        audience = Audience.from_json(audience)
    audience.validate()
    template = get_template(INVITATION_TEMPLATE)
    people = targeting.recipients(audience)
    if not people:
        raise DomainError(_l('发送范围内没有住户，请调整发送范围'), field='audience')
    tenant = db.session.get(Tenant, current_tenant_id())
    base = {'project_name': tenant.name, 'survey_title': survey.title,
            'closes_on': local_datetime(closes_at, tenant, '%Y-%m-%d')}
    link = f'/my/surveys/{survey.id}'
    contents = {}
    for person in people:
        context = {**base, 'name': person.name}
        contents[person.resident_id] = Content(
            title=render(template.title, context), body=render(template.body, context),
            short_text=render(template.sms_text or template.title, context),
            params={k: str(v) for k, v in context.items()}, template_code=template.code, link=link)
    fan_out(survey.source_key, people, contents, channels=template.channels or [], survey_id=survey.id)
    survey.status, survey.audience, survey.closes_at = 'open', audience.to_json(), closes_at
    survey.opened_at = utcnow()
    survey.recipient_count = db.session.execute(
        sa.select(sa.func.count()).select_from(Message).where(Message.survey_id == survey.id)).scalar_one()
    count = survey.recipient_count
    db.session.commit()
    start_dispatch()
    return count


def close_survey(survey: Survey) -> None:
    """Stop taking answers (also before ``closes_at``). Does not commit."""
    if survey.status != 'open':
        raise DomainError(_l('只有进行中的问卷可以结束'))
    survey.status, survey.closed_at = 'closed', utcnow()


# --------------------------------------------------------------------------- residents


def resident_ids_of(user) -> list[int]:
    """The resident records linked to a portal user."""
    return list(db.session.execute(sa.select(Resident.id).where(Resident.user_id == user.id)
                                   .order_by(Resident.id)).scalars())


def invited_resident_id(survey: Survey, resident_ids: list[int]) -> int | None:
    """Which of these residents was invited to the survey (the first), or None."""
    if not resident_ids:
        return None
    return db.session.execute(
        sa.select(sa.func.min(Message.resident_id)).where(Message.survey_id == survey.id,
                                                          Message.resident_id.in_(resident_ids))).scalar_one()


def invited_query(resident_ids: list[int]) -> sa.Select:
    """Surveys opened to any of these residents, newest first (open ones, and closed ones they were invited to)."""
    invited = sa.select(Message.survey_id).where(Message.resident_id.in_(resident_ids or [0]),
                                                 Message.survey_id.is_not(None))
    return (sa.select(Survey).where(Survey.id.in_(invited), Survey.status.in_(('open', 'closed')))
            .order_by(Survey.opened_at.desc(), Survey.id.desc()))


def answered_ids(survey_ids: list[int], resident_ids: list[int]) -> set[int]:
    """Which of the surveys these residents have answered (one statement)."""
    if not survey_ids or not resident_ids:
        return set()
    return set(db.session.execute(sa.select(SurveyResponse.survey_id).where(
        SurveyResponse.survey_id.in_(survey_ids), SurveyResponse.resident_id.in_(resident_ids))).scalars())


def response_of(survey: Survey, resident_ids: list[int]) -> SurveyResponse | None:
    if not resident_ids:
        return None
    return db.session.execute(
        sa.select(SurveyResponse).where(SurveyResponse.survey_id == survey.id,
                                        SurveyResponse.resident_id.in_(resident_ids))
        .options(sa.orm.selectinload(SurveyResponse.answers)).limit(1)).scalar_one_or_none()


def _already_answered(survey_id: int, resident_id: int) -> bool:
    return db.session.execute(sa.select(sa.exists().where(SurveyResponse.survey_id == survey_id,
                                                          SurveyResponse.resident_id == resident_id))).scalar()


def _as_int(value, field: str) -> int:
    if isinstance(value, bool):
        raise DomainError(_l('请选择有效的选项'), field=field)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError(_l('请选择有效的选项'), field=field) from None


def _blank(value) -> bool:
    return value is None or value == '' or value == [] or value == ()


def clean_answer(question: SurveyQuestion, value) -> dict | None:
    """One answer as the columns it is stored in ({'choices': [...]}, {'rating': 4}, {'text': '...'}), or None
    when left blank. Raises DomainError(field='q<id>') with what to fix."""
    field = f'q{question.id}'
    if isinstance(value, str) and question.kind != 'text':
        value = value.strip()
    if _blank(value):
        if question.required:
            raise DomainError(_l('请回答第 %(n)s 题', n=question.position), field=field)
        return None
    if question.kind in CHOICE_KINDS:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        choices = sorted({_as_int(v, field) for v in values})
        if any(not 0 <= c < len(question.options or []) for c in choices):
            raise DomainError(_l('请选择有效的选项'), field=field)
        if question.kind == 'single' and len(choices) != 1:
            raise DomainError(_l('第 %(n)s 题只能选一项', n=question.position), field=field)
        return {'choices': choices}
    if question.kind == 'rating':
        rating = _as_int(value, field) if not isinstance(value, float) or value.is_integer() else None
        if rating not in RATINGS:
            raise DomainError(_l('评分请选择 1 到 5 分'), field=field)
        return {'rating': rating}
    if not isinstance(value, str):
        raise DomainError(_l('请填写文字'), field=field)
    text = value.strip()
    if not text:
        if question.required:
            raise DomainError(_l('请回答第 %(n)s 题', n=question.position), field=field)
        return None
    if len(text) > ANSWER_TEXT_MAX:
        raise DomainError(_l('最多 %(n)s 个字', n=ANSWER_TEXT_MAX), field=field)
    return {'text': text}


def answer(survey: Survey, resident_id: int, answers: dict, *, now: datetime | None = None) -> SurveyResponse:
    """Record one invited resident's answers (question id -> value), exactly once, all or nothing.

    Values: single = an option index (or a one-item list); multiple = a list of option indexes; rating = 1-5;
    text = a string up to 2000 characters. Raises NotAllowed for a resident who was not invited, NotOpen (409)
    when the survey is not taking answers, DomainError when an answer is invalid, AlreadyAnswered (409) on a
    second submission, also when two arrive at once (the unique key catches the race). Does not commit; on a
    refusal after writing, the session has been rolled back.
    """
    now = now or datetime.now(UTC)
    if state(survey, now) != 'open':
        raise NotOpen(_l('这份问卷已经结束，不能再填写') if survey.status != 'draft' else _l('这份问卷还没有开始'))
    if invited_resident_id(survey, [resident_id]) is None:
        raise NotAllowed(_l('你不在这份问卷的邀请范围内'))
    if _already_answered(survey.id, resident_id):
        raise AlreadyAnswered(_l('你已经填写过这份问卷'))
    questions = {q.id: q for q in survey.questions}
    answers = {int(k) if str(k).isdigit() else k: v for k, v in dict(answers or {}).items()}
    unknown = [k for k in answers if k not in questions]
    if unknown:
        raise DomainError(_l('问卷中没有这道题'), field=f'q{unknown[0]}')
    cleaned = []
    for question in sorted(questions.values(), key=lambda q: q.position):
        value = clean_answer(question, answers.get(question.id))
        if value is not None:
            cleaned.append((question.id, value))
    if not cleaned:
        raise DomainError(_l('请至少回答一道题'))
    response = SurveyResponse(survey_id=survey.id, resident_id=resident_id, submitted_at=now)
    response.answers = [SurveyAnswer(question_id=qid, **value) for qid, value in cleaned]
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyAnswered(_l('你已经填写过这份问卷')) from None
    return response


# --------------------------------------------------------------------------- results


@dataclass
class QuestionTally:
    question: SurveyQuestion
    #: residents who answered this question
    answered: int = 0
    #: choice questions: (option, count, percent of respondents)
    options: list[tuple[str, int, Decimal]] = field(default_factory=list)
    #: rating questions
    average: Decimal | None = None
    distribution: dict[int, int] = field(default_factory=dict)
    #: text questions: the newest answers of the page asked for, and how many there are in all
    texts: list[str] = field(default_factory=list)


@dataclass
class Tally:
    survey: Survey
    responses: int
    recipients: int
    rate: Decimal | None
    questions: list[QuestionTally]
    text_page: int = 1
    text_pages: int = 1


def _percent(count: int, total: int) -> Decimal:
    if not total:
        return Decimal('0.0')
    return (Decimal(count) * 100 / Decimal(total)).quantize(Decimal('0.1'), ROUND_HALF_UP)


def _average(total: int, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(Decimal('0.01'), ROUND_HALF_UP)


def tally(survey: Survey, *, text_limit: int = TEXT_LIMIT, text_page: int = 1) -> Tally:
    """Counts per option (and % of respondents), rating averages and distributions, text answers (``text_limit``
    per question, page ``text_page``, newest first), and the response rate. Four statements, whatever the number
    of questions and answers."""
    questions = db.session.execute(sa.select(SurveyQuestion).where(SurveyQuestion.survey_id == survey.id)
                                   .order_by(SurveyQuestion.position, SurveyQuestion.id)).scalars().all()
    responses = db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)
                                   .where(SurveyResponse.survey_id == survey.id)).scalar_one()
    rows = db.session.execute(
        sa.select(SurveyAnswer.question_id, SurveyAnswer.choices, SurveyAnswer.rating)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey.id, SurveyAnswer.text.is_(None))).all()
    text_page = max(int(text_page or 1), 1)
    numbered = (sa.select(SurveyAnswer.question_id, SurveyAnswer.text,
                          sa.func.row_number().over(partition_by=SurveyAnswer.question_id,
                                                    order_by=(SurveyResponse.submitted_at.desc(),
                                                              SurveyAnswer.id.desc())).label('n'),
                          sa.func.count().over(partition_by=SurveyAnswer.question_id).label('total'))
                .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                .where(SurveyResponse.survey_id == survey.id, SurveyAnswer.text.is_not(None))).subquery()
    low = (text_page - 1) * text_limit
    texts = db.session.execute(sa.select(numbered.c.question_id, numbered.c.text, numbered.c.total)
                               .where(numbered.c.n > low, numbered.c.n <= low + text_limit)
                               .order_by(numbered.c.question_id, numbered.c.n)).all()

    result = {q.id: QuestionTally(q) for q in questions}
    counts: dict[int, dict[int, int]] = {q.id: {} for q in questions}
    for q in questions:
        if q.kind == 'rating':
            result[q.id].distribution = dict.fromkeys(RATINGS, 0)
    for question_id, choices, rating in rows:
        item = result.get(question_id)
        if item is None:
            continue
        item.answered += 1
        if rating is not None and rating in item.distribution:
            item.distribution[rating] += 1
        for choice in choices or []:
            counts[question_id][choice] = counts[question_id].get(choice, 0) + 1
    text_totals: dict[int, int] = {}
    for question_id, text, total in texts:
        if question_id in result:
            result[question_id].texts.append(text)
            text_totals[question_id] = total
    most_texts = 0
    for q in questions:
        item = result[q.id]
        if q.kind in CHOICE_KINDS:
            item.options = [(option, counts[q.id].get(i, 0), _percent(counts[q.id].get(i, 0), responses))
                            for i, option in enumerate(q.options or [])]
        elif q.kind == 'rating':
            item.average = _average(sum(r * n for r, n in item.distribution.items()), item.answered)
        else:
            item.answered = text_totals.get(q.id, 0)
            most_texts = max(most_texts, item.answered)
    if low and not texts:  # a page past the end: how many there are is still worth knowing
        most_texts = low
    pages = max((most_texts + text_limit - 1) // text_limit, 1)
    return Tally(survey=survey, responses=responses, recipients=survey.recipient_count,
                 rate=response_rate(responses, survey.recipient_count),
                 questions=[result[q.id] for q in questions], text_page=text_page, text_pages=pages)


def satisfaction_score(year: int) -> dict | None:
    """The year's 业主满意度 for the dashboard: the average of every rating answer of the tenant's satisfaction
    survey(s) of ``year`` that were sent out.

    Returns ``{'average': Decimal('4.23') (1-5) or None, 'score': Decimal('84.6') (average × 20, 5 = 100 分) or
    None, 'responses': int, 'recipients': int, 'rate': Decimal percent or None, 'survey_ids': [...]}``, or None
    when no satisfaction survey of that year has been sent. Two statements.
    """
    surveys = db.session.execute(
        sa.select(Survey.id, Survey.recipient_count).where(Survey.kind == 'satisfaction', Survey.year == year,
                                                            Survey.status.in_(('open', 'closed')))).all()
    if not surveys:
        return None
    ids = [sid for sid, _ in surveys]
    recipients = sum(count for _, count in surveys)
    total, count, responses = db.session.execute(
        sa.select(sa.func.sum(SurveyAnswer.rating), sa.func.count(SurveyAnswer.rating),
                  sa.func.count(sa.distinct(SurveyResponse.id)))
        .select_from(SurveyResponse)
        .outerjoin(SurveyAnswer, sa.and_(SurveyAnswer.response_id == SurveyResponse.id,
                                         SurveyAnswer.rating.is_not(None)))
        .where(SurveyResponse.survey_id.in_(ids))).one()
    average = _average(int(total or 0), int(count or 0))
    score = (average * 20).quantize(Decimal('0.1'), ROUND_HALF_UP) if average is not None else None
    return {'average': average, 'score': score, 'responses': int(responses or 0), 'recipients': recipients,
            'rate': response_rate(int(responses or 0), recipients), 'survey_ids': ids}


def list_query(status: str | None = None) -> sa.Select:
    """Staff list: newest first."""
    query = sa.select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())
    if status in ('draft', 'open', 'closed'):
        query = query.where(Survey.status == status)
    return query


def response_counts(survey_ids: list[int]) -> dict[int, int]:
    """survey id -> responses, for a page of the list (one statement)."""
    if not survey_ids:
        return {}
    rows = db.session.execute(sa.select(SurveyResponse.survey_id, sa.func.count())
                              .where(SurveyResponse.survey_id.in_(survey_ids)).group_by(SurveyResponse.survey_id))
    return {sid: n for sid, n in rows}
