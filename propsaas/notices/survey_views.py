"""Survey (问卷) pages: staff draft, send, close, read the results and export them; residents answer in the portal.

Staff pages are for admins and staff on the service desk (客服). A survey of another project is 404; so is one a
resident was not invited to.
"""
from __future__ import annotations

import io
from datetime import datetime, time, timedelta

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.sessions import require_duty, require_role
from ..core.navigation import add_nav
from ..errors import DomainError
from ..extensions import db
from ..models_base import get_or_404
from ..tenancy.clock import local_datetime
from . import bp, targeting
from . import surveys as services
from .audience_form import audience_choices, audience_from_form, people_text
from .models import QUESTION_KIND_NAMES, SURVEY_STATUS_NAMES, Survey, SurveyQuestion
from .survey_export import XLSX_MIMETYPE, export_filename, export_survey
from .survey_forms import CsrfForm, OpenForm, QuestionForm, SurveyForm
from .targeting import Audience

PER_PAGE = 20
desk_only = require_duty('service_desk')


def _context(**extra) -> dict:
    return {'status_names': SURVEY_STATUS_NAMES, 'kind_names': QUESTION_KIND_NAMES,
            'local': lambda value: local_datetime(value, g.tenant), 'state': services.state,
            'csrf_form': CsrfForm(), **extra}


def _form_error(form, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is None or not hasattr(field, 'errors'):
        flash(error.message, 'error')
    else:
        field.errors = [*field.errors, error.message]


# --------------------------------------------------------------------------- staff: list and drafting


@bp.get('/surveys')
@desk_only
def surveys():
    status = request.args.get('status') or None
    status = status if status in SURVEY_STATUS_NAMES else None
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.list_query(status), page=page, per_page=PER_PAGE, error_out=False)
    counts = services.response_counts([s.id for s in pagination.items])
    return render_template('notices/surveys/list.html', **_context(
        pagination=pagination, counts=counts, rate=services.response_rate, filters={'status': status} if status
        else {}))


add_nav('notices.surveys', _l('问卷调查'), ('admin', 'staff'), duties=('service_desk',))


@bp.route('/surveys/new', methods=['GET', 'POST'])
@desk_only
def new_survey():
    form = SurveyForm()
    if form.validate_on_submit():
        try:
            survey = services.save_survey(None, title=form.title.data, description=form.description.data,
                                          by_user_id=current_user.id)
            db.session.flush()
        except DomainError as e:
            db.session.rollback()
            _form_error(form, e)
        else:
            db.session.commit()
            flash(_('问卷已创建，请添加题目'))
            return redirect(url_for('notices.survey_detail', survey_id=survey.id))
    status = 422 if request.method == 'POST' else 200
    return render_template('notices/surveys/new.html', form=form, **_context()), status


def _detail(survey: Survey, status: int = 200, survey_form=None, question_form=None, edit_forms=None):
    if survey_form is None:
        survey_form = SurveyForm(prefix='survey', obj=survey, formdata=None)
    question_form = question_form or QuestionForm(prefix='new', formdata=None)
    edit_forms = edit_forms or {}
    for q in survey.questions:
        if q.id not in edit_forms:
            edit_forms[q.id] = QuestionForm(prefix=f'q{q.id}', formdata=None, kind=q.kind, text=q.text,
                                            options='\n'.join(q.options or []), required=q.required)
    return render_template('notices/surveys/detail.html', survey=survey, survey_form=survey_form,
                           question_form=question_form, edit_forms=edit_forms, **_context()), status


@bp.get('/surveys/<int:survey_id>')
@desk_only
def survey_detail(survey_id):
    return _detail(get_or_404(Survey, survey_id))


@bp.post('/surveys/<int:survey_id>/edit')
@desk_only
def edit_survey(survey_id):
    survey = get_or_404(Survey, survey_id)
    form = SurveyForm(prefix='survey')
    if not form.validate_on_submit():
        return _detail(survey, 422, survey_form=form)
    try:
        services.save_survey(survey, title=form.title.data, description=form.description.data)
    except DomainError as e:
        db.session.rollback()
        _form_error(form, e)
        return _detail(get_or_404(Survey, survey_id), e.status_code, survey_form=form)
    db.session.commit()
    flash(_('已保存'))
    return redirect(url_for('notices.survey_detail', survey_id=survey_id))


def _question(survey_id: int, question_id: int) -> SurveyQuestion:
    question = get_or_404(SurveyQuestion, question_id)
    if question.survey_id != get_or_404(Survey, survey_id).id:
        abort(404)
    return question


@bp.post('/surveys/<int:survey_id>/questions')
@desk_only
def add_survey_question(survey_id):
    survey = get_or_404(Survey, survey_id)
    form = QuestionForm(prefix='new')
    if not form.validate_on_submit():
        return _detail(survey, 422, question_form=form)
    try:
        services.add_question(survey, kind=form.kind.data, text=form.text.data, options=form.options.data,
                              required=form.required.data)
    except DomainError as e:
        db.session.rollback()
        _form_error(form, e)
        return _detail(get_or_404(Survey, survey_id), e.status_code, question_form=form)
    db.session.commit()
    flash(_('已添加题目'))
    return redirect(url_for('notices.survey_detail', survey_id=survey_id) + '#questions')


@bp.post('/surveys/<int:survey_id>/questions/<int:question_id>/edit')
@desk_only
def edit_survey_question(survey_id, question_id):
    question = _question(survey_id, question_id)
    form = QuestionForm(prefix=f'q{question_id}')
    if not form.validate_on_submit():
        return _detail(question.survey, 422, edit_forms={question_id: form})
    try:
        services.edit_question(question, kind=form.kind.data, text=form.text.data, options=form.options.data,
                               required=form.required.data)
    except DomainError as e:
        db.session.rollback()
        _form_error(form, e)
        return _detail(get_or_404(Survey, survey_id), e.status_code, edit_forms={question_id: form})
    db.session.commit()
    flash(_('已保存题目'))
    return redirect(url_for('notices.survey_detail', survey_id=survey_id) + f'#q{question_id}')


def _simple_question_action(survey_id, question_id, action, message):
    question = _question(survey_id, question_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    try:
        action(question)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return _detail(get_or_404(Survey, survey_id), e.status_code)
    db.session.commit()
    if message:
        flash(message)
    return redirect(url_for('notices.survey_detail', survey_id=survey_id) + '#questions')


@bp.post('/surveys/<int:survey_id>/questions/<int:question_id>/delete')
@desk_only
def delete_survey_question(survey_id, question_id):
    return _simple_question_action(survey_id, question_id, services.remove_question, _('已删除题目'))


@bp.post('/surveys/<int:survey_id>/questions/<int:question_id>/move')
@desk_only
def move_survey_question(survey_id, question_id):
    direction = request.form.get('direction', '')
    return _simple_question_action(survey_id, question_id,
                                   lambda q: services.move_question(q, direction), None)


@bp.post('/surveys/<int:survey_id>/copy')
@desk_only
def copy_survey(survey_id):
    survey = get_or_404(Survey, survey_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    copy = services.copy_survey(survey, by_user_id=current_user.id)
    db.session.commit()
    flash(_('已复制为新问卷“%(title)s”，可修改后发出', title=copy.title))
    return redirect(url_for('notices.survey_detail', survey_id=copy.id))


# --------------------------------------------------------------------------- staff: sending and closing


def _closes_at(day):
    """The end of ``day`` in the project's timezone (answers are taken until 24:00)."""
    zone = services.tenant_zone(g.tenant)
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)


@bp.route('/surveys/<int:survey_id>/open', methods=['GET', 'POST'])
@desk_only
def open_survey(survey_id):
    """Choose who receives it and until when; 'preview' counts the recipients, 'open' sends the invitations."""
    survey = get_or_404(Survey, survey_id)
    if survey.status != 'draft':
        flash(_('这份问卷已经发出'), 'error')
        return redirect(url_for('notices.survey_detail', survey_id=survey_id))
    form = OpenForm()
    audience, preview, status = Audience(), None, 200
    if request.method == 'GET':
        form.closes_on.data = datetime.now(services.tenant_zone(g.tenant)).date() + timedelta(days=14)
    else:
        status = 422
        try:
            audience = Audience()
            audience = audience_from_form(request.form)
            if not form.validate_on_submit():
                raise DomainError(_l('请检查截止日期'), field='closes_on')
            if request.form.get('action') == 'preview':
                preview = targeting.preview(audience)
                status = 200
            else:
                count = services.open_survey(survey, audience, _closes_at(form.closes_on.data),
                                             by_user_id=current_user.id)
                flash(_('问卷已发出，共邀请 %(n)s 位住户', n=count))
                return redirect(url_for('notices.survey_detail', survey_id=survey_id))
        except DomainError as e:
            db.session.rollback()
            survey = get_or_404(Survey, survey_id)
            if e.field != 'closes_on':
                flash(e.message, 'error')
            elif not form.closes_on.errors:
                form.closes_on.errors = [e.message]
    return render_template('notices/surveys/open.html', survey=survey, form=form, audience=audience,
                           choices=audience_choices(g.tenant), people=people_text(audience), preview=preview,
                           **_context()), status


@bp.post('/surveys/<int:survey_id>/close')
@desk_only
def close_survey(survey_id):
    survey = get_or_404(Survey, survey_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    try:
        services.close_survey(survey)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, 'error')
        return redirect(url_for('notices.survey_detail', survey_id=survey_id))
    db.session.commit()
    flash(_('问卷已结束，不再接受填写'))
    return redirect(url_for('notices.survey_results', survey_id=survey_id))


# --------------------------------------------------------------------------- staff: results


@bp.get('/surveys/<int:survey_id>/results')
@desk_only
def survey_results(survey_id):
    survey = get_or_404(Survey, survey_id)
    page = max(request.args.get('text_page', 1, type=int), 1)
    result = services.tally(survey, text_page=page)
    return render_template('notices/surveys/results.html', survey=survey, tally=result, **_context())


@bp.get('/surveys/<int:survey_id>/export')
@desk_only
def export_survey_results(survey_id):
    survey = get_or_404(Survey, survey_id)
    content = export_survey(survey, g.tenant)
    return send_file(io.BytesIO(content), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=export_filename(survey))


# --------------------------------------------------------------------------- residents


def _my_ids() -> list[int]:
    return services.resident_ids_of(current_user)


@bp.get('/my/surveys')
@require_role('resident')
def my_surveys():
    ids = _my_ids()
    page = max(request.args.get('page', 1, type=int), 1)
    pagination = db.paginate(services.invited_query(ids), page=page, per_page=PER_PAGE, error_out=False)
    answered = services.answered_ids([s.id for s in pagination.items], ids)
    return render_template('notices/surveys/mine.html', pagination=pagination, answered=answered,
                           filters={}, **_context())


add_nav('notices.my_surveys', _l('问卷'), ('resident',))


def _answer_page(survey, response, status=200, errors=None, values=None):
    answers = {a.question_id: a for a in response.answers} if response else {}
    return render_template('notices/surveys/answer.html', survey=survey, response=response, answers=answers,
                           errors=errors or {}, values=values or {}, **_context()), status


def _submitted(survey: Survey) -> dict:
    """The answer form's fields (q<id>) as question id -> value."""
    values = {}
    for q in survey.questions:
        key = f'q{q.id}'
        if q.kind == 'multiple':
            values[q.id] = request.form.getlist(key)
        else:
            values[q.id] = request.form.get(key, '')
    return values


@bp.route('/my/surveys/<int:survey_id>', methods=['GET', 'POST'])
@require_role('resident', 'admin', 'staff')  # staff are never invited: 404, like another project's
def my_survey(survey_id):
    survey = get_or_404(Survey, survey_id)
    ids = _my_ids()
    resident_id = services.invited_resident_id(survey, ids)
    if resident_id is None or survey.status == 'draft':
        abort(404)  # not invited: as if it didn't exist
    response = services.response_of(survey, ids)
    if request.method == 'GET':
        return _answer_page(survey, response)
    if response is not None:
        flash(_('你已经填写过这份问卷，每人只能提交一次'), 'error')
        return _answer_page(survey, response, 409)
    if not CsrfForm().validate_on_submit():
        abort(400)
    values = _submitted(survey)
    try:
        services.answer(survey, resident_id, values)
    except services.AlreadyAnswered as e:
        db.session.rollback()
        flash(e.message, 'error')
        survey = get_or_404(Survey, survey_id)
        return _answer_page(survey, services.response_of(survey, ids), 409)
    except DomainError as e:
        db.session.rollback()
        survey = get_or_404(Survey, survey_id)
        errors = {e.field: e.message} if e.field else {}
        if not e.field:
            flash(e.message, 'error')
        return _answer_page(survey, None, e.status_code, errors=errors, values=values)
    db.session.commit()
    flash(_('已提交，感谢你的参与！'))
    return redirect(url_for('notices.my_survey', survey_id=survey_id))
