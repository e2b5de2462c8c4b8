"""Provisioning of a delivery template's surveys.toml: each survey becomes a draft of the new project, with its
questions. A satisfaction survey is this year's (in the project's timezone): '2026年度业主满意度调查'."""
from __future__ import annotations

from ..extensions import db
from ..tenancy.delivery import DeliveryTemplate
from ..tenancy.models import Tenant
from ..tenancy.provisioning import provisioner
from .models import Survey, SurveyQuestion
from .surveys import TITLE_MAX, current_year


@provisioner
def provision_surveys(tenant: Tenant, template: DeliveryTemplate) -> None:
    for spec in (template.sections.get('surveys') or {}).get('surveys', []):
        db.session.add(draft_from_template(tenant, spec))


def draft_from_template(tenant: Tenant, spec: dict) -> Survey:
    kind = spec.get('kind', 'general')
    year = current_year(tenant) if kind == 'satisfaction' else None
    title = f'{year}年度{spec["title"]}' if year is not None else spec['title']
    survey = Survey(title=title[:TITLE_MAX], description=spec.get('description', ''), kind=kind, year=year,
                    status='draft', audience={})
    for position, q in enumerate(spec.get('questions', []), 1):
        survey.questions.append(SurveyQuestion(kind=q['kind'], text=q['text'], options=list(q.get('options') or []),
                                               required=q.get('required', True), position=position))
    return survey
