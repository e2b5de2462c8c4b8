"""A survey's results as an .xlsx: sheet '汇总' (the tally) and sheet '明细' (one row per response).

Personal information is kept to the minimum: a response shows when it was submitted (the project's time) and the
respondent's room, never their name or mobile. Every text cell is neutralised against formula injection.
"""
from __future__ import annotations

import io
import re

import sqlalchemy as sa
from openpyxl import Workbook

from ..documents.spreadsheets import safe_cell
from ..extensions import db
from ..property.models import Room
from ..residents.models import Occupancy
from ..tenancy.clock import local_datetime
from . import surveys as services
from .models import QUESTION_KIND_NAMES, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse

XLSX_MIMETYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


def export_filename(survey: Survey) -> str:
    name = re.sub(r'[\\/:*?"<>|\s]+', '_', survey.title).strip('_') or 'survey'
    return f'{name}-问卷结果.xlsx'


def answer_text(question: SurveyQuestion, answer: SurveyAnswer | None) -> str:
    """How an answer reads in a cell: the chosen options' texts, the rating, or the text typed."""
    if answer is None:
        return ''
    if question.kind in services.CHOICE_KINDS:
        options = question.options or []
        return '、'.join(options[i] if 0 <= i < len(options) else str(i) for i in answer.choices or [])
    if question.kind == 'rating':
        return '' if answer.rating is None else str(answer.rating)
    return answer.text or ''


def _rooms(survey: Survey) -> dict[int, str]:
    """resident id -> the rooms they live in (or, moved out since, lived in), for this survey's respondents."""
    respondents = sa.select(SurveyResponse.resident_id).where(SurveyResponse.survey_id == survey.id)
    rows = db.session.execute(
        sa.select(Occupancy.resident_id, Room.code, Occupancy.moved_out_on)
        .join(Room, Room.id == Occupancy.room_id)
        .where(Occupancy.resident_id.in_(respondents)).order_by(Occupancy.resident_id, Room.code)).all()
    current: dict[int, list[str]] = {}
    former: dict[int, list[str]] = {}
    for resident_id, code, moved_out in rows:
        (former if moved_out is not None else current).setdefault(resident_id, []).append(code)
    return {rid: '、'.join(dict.fromkeys(current.get(rid) or former.get(rid) or []))
            for rid in {*current, *former}}


def export_survey(survey: Survey, tenant) -> bytes:
    """The workbook's bytes (write-only mode: rows are streamed, whatever the number of responses)."""
    result = services.tally(survey, text_limit=1)
    book = Workbook(write_only=True)

    summary = book.create_sheet('汇总')
    summary.append(['问卷', safe_cell(survey.title)])
    summary.append(['邀请人数', result.recipients])
    summary.append(['提交份数', result.responses])
    summary.append(['回收率(%)', float(result.rate) if result.rate is not None else ''])
    summary.append([])
    summary.append(['题号', '题目', '题型', '选项/分值', '人数', '占答卷比例(%)', '平均分'])
    for number, item in enumerate(result.questions, 1):
        q = item.question
        head = [number, safe_cell(q.text), str(QUESTION_KIND_NAMES[q.kind])]
        if q.kind in services.CHOICE_KINDS:
            for option, count, percent in item.options:
                summary.append([*head, safe_cell(option), count, float(percent), ''])
        elif q.kind == 'rating':
            average = float(item.average) if item.average is not None else ''
            summary.append([*head, '全部', item.answered, '', average])
            for rating, count in item.distribution.items():
                summary.append([*head, f'{rating}分', count, float(services._percent(count, result.responses)), ''])
        else:
            summary.append([*head, '文字回答', item.answered, '', ''])

    details = book.create_sheet('明细')
    questions = result.questions
    details.append(['提交时间', '房号', *(safe_cell(f'{n}. {item.question.text}')
                                         for n, item in enumerate(questions, 1))])
    responses = db.session.execute(sa.select(SurveyResponse.id, SurveyResponse.resident_id,
                                             SurveyResponse.submitted_at)
                                   .where(SurveyResponse.survey_id == survey.id)
                                   .order_by(SurveyResponse.submitted_at, SurveyResponse.id)).all()
    answers: dict[int, dict[int, SurveyAnswer]] = {}
    for answer in db.session.execute(sa.select(SurveyAnswer).join(SurveyResponse)
                                     .where(SurveyResponse.survey_id == survey.id)).scalars():
        answers.setdefault(answer.response_id, {})[answer.question_id] = answer
    rooms = _rooms(survey)
    for response_id, resident_id, submitted_at in responses:
        given = answers.get(response_id, {})
        details.append([local_datetime(submitted_at, tenant, '%Y-%m-%d %H:%M:%S'),
                        safe_cell(rooms.get(resident_id, '')),
                        *(safe_cell(answer_text(item.question, given.get(item.question.id))) for item in questions)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
