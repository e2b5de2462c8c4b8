"""API: surveys (问卷) for residents: the surveys they are invited to, their questions, and answering once.

A survey of another project, or one the resident was not invited to, is 404. Answers are given once: a second
submission is 409.
"""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import abort, g
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import validate

from ..errors import DomainError
from ..extensions import db
from ..models_base import MAX_ID, get_or_404
from ..notices import surveys as services
from ..notices.models import Survey
from .auth import BEARER, api_login_required
from .schemas import PageArgsSchema, errors, page_of

PREFIX = '/me/surveys'
blp = Blueprint('api_surveys', __name__, description="Surveys (问卷) the resident is invited to")

_ID = validate.Range(min=1, max=MAX_ID)


class SurveySummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={'description': "'general' or 'satisfaction' (年度满意度)"})
    state = ma.fields.String(required=True, metadata={'description': "'open' (taking answers) or 'closed'"})
    opened_at = ma.fields.DateTime(allow_none=True)
    closes_at = ma.fields.DateTime(allow_none=True)
    answered = ma.fields.Boolean(required=True, metadata={'description': 'the resident has submitted answers'})


class QuestionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    position = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={'description': "'single', 'multiple', 'rating' (1-5) or "
                                                                    "'text'"})
    text = ma.fields.String(required=True)
    options = ma.fields.List(ma.fields.String(), required=True,
                             metadata={'description': 'choice questions: answer with the indexes (from 0)'})
    required = ma.fields.Boolean(required=True)


class GivenAnswerSchema(ma.Schema):
    question_id = ma.fields.Integer(required=True)
    choices = ma.fields.List(ma.fields.Integer(), allow_none=True)
    rating = ma.fields.Integer(allow_none=True)
    text = ma.fields.String(allow_none=True)


class MyResponseSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    submitted_at = ma.fields.DateTime(required=True)
    answers = ma.fields.List(ma.fields.Nested(GivenAnswerSchema), required=True)


class SurveyDetailSchema(SurveySummarySchema):
    questions = ma.fields.List(ma.fields.Nested(QuestionSchema), required=True)
    my_response = ma.fields.Nested(MyResponseSchema, allow_none=True,
                                   metadata={'description': 'what the resident answered, once submitted'})


class AnswerInSchema(ma.Schema):
    question_id = ma.fields.Integer(required=True, validate=_ID)
    choices = ma.fields.List(ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=100)),
                             validate=validate.Length(max=20),
                             metadata={'description': 'single / multiple: the chosen option indexes (from 0)'})
    rating = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=5),
                               metadata={'description': 'rating: 1 (非常不满意) to 5 (非常满意)'})
    text = ma.fields.String(validate=validate.Length(max=services.ANSWER_TEXT_MAX),
                            metadata={'description': 'text: up to 2000 characters'})


class AnswersInSchema(ma.Schema):
    answers = ma.fields.List(ma.fields.Nested(AnswerInSchema), required=True,
                             validate=validate.Length(max=services.MAX_QUESTIONS))


def _resident_ids() -> list[int]:
    return services.resident_ids_of(g.api_user)


def _loads_survey(view):
    """Resolve the path's survey before the body is read: another project's, or one the user wasn't invited
    to (staff never are), is 404."""

    @wraps(view)
    def wrapper(*args, survey_id, **kwargs):
        survey = get_or_404(Survey, survey_id)
        ids = _resident_ids()
        resident_id = services.invited_resident_id(survey, ids)
        if resident_id is None or survey.status == 'draft':
            abort(404)
        return view(*args, survey=survey, resident_id=resident_id, resident_ids=ids, **kwargs)

    return wrapper


def _summary(survey: Survey, answered: bool) -> dict:
    return {'id': survey.id, 'title': survey.title, 'description': survey.description or '', 'kind': survey.kind,
            'state': services.state(survey), 'opened_at': survey.opened_at, 'closes_at': survey.closes_at,
            'answered': answered}


def _my_response(response) -> dict | None:
    if response is None:
        return None
    return {'id': response.id, 'submitted_at': response.submitted_at,
            'answers': [{'question_id': a.question_id, 'choices': a.choices, 'rating': a.rating, 'text': a.text}
                        for a in sorted(response.answers, key=lambda a: a.question_id)]}


def _detail(survey: Survey, response) -> dict:
    return {**_summary(survey, response is not None), 'questions': survey.questions,
            'my_response': _my_response(response)}


@blp.route('', methods=['GET'])
@blp.arguments(PageArgsSchema, location='query')
@blp.response(200, page_of(SurveySummarySchema))
@errors(blp, 401, 403, 422)
@blp.doc(security=BEARER)
@api_login_required('resident')
def list_my_surveys(args):
    """Surveys I am invited to, newest first, open or closed, with whether I have answered."""
    ids = _resident_ids()
    pagination = db.paginate(services.invited_query(ids), page=args['page'], per_page=args['per_page'],
                             error_out=False)
    answered = services.answered_ids([s.id for s in pagination.items], ids)
    return {'items': [_summary(s, s.id in answered) for s in pagination.items], 'page': pagination.page,
            'per_page': pagination.per_page, 'total': pagination.total, 'pages': pagination.pages}


@blp.route('/<int:survey_id>', methods=['GET'])
@api_login_required()
@_loads_survey
@blp.response(200, SurveyDetailSchema)
@errors(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def get_my_survey(survey, resident_id, resident_ids):
    """One survey with its questions, and my answers once I have submitted."""
    return _detail(survey, services.response_of(survey, resident_ids))


@blp.route('/<int:survey_id>/answers', methods=['POST'])
@api_login_required()
@_loads_survey
@blp.arguments(AnswersInSchema)
@blp.response(201, SurveyDetailSchema)
@errors(blp, 400, 401, 403, 404, 409, 415, 422)
@blp.doc(security=BEARER)
def answer_my_survey(body, survey, resident_id, resident_ids):
    """Submit my answers, once, while the survey is open. Each item names its question and gives ``choices``
    (single: one index; multiple: several), ``rating`` (1-5) or ``text``. Required questions must be answered
    (422 with the field ``q<question_id>``); a second submission, or a closed survey, is 409."""
    if services.response_of(survey, resident_ids) is not None:
        raise services.AlreadyAnswered(_l('你已经填写过这份问卷'))
    values: dict[int, object] = {}
    for item in body['answers']:
        question_id = item['question_id']
        if question_id in values:
            raise DomainError(_l('同一道题只能回答一次'), field=f'q{question_id}')
        given = [key for key in ('choices', 'rating', 'text') if item.get(key) is not None]
        if len(given) > 1:
            raise DomainError(_l('每道题只填 choices、rating 或 text 其中之一'), field=f'q{question_id}')
        values[question_id] = item.get(given[0]) if given else None
    services.answer(survey, resident_id, values)
    db.session.commit()
    survey = get_or_404(Survey, survey.id)
    return _detail(survey, services.response_of(survey, resident_ids))
