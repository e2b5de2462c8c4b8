"""/api/v1/me/surveys: a resident's surveys, their questions, and answering once (409 the second time)."""
from __future__ import annotations

import sqlalchemy as sa

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.extensions import db
from propsaas.notices.models import SurveyResponse
from propsaas.notices.targeting import Audience
from tests.notices.test_surveys import make_survey

API = '/api/v1/me/surveys'


def token(in_tenant, tenant, user_id) -> dict:
    with in_tenant(tenant) as session:
        raw, _ = auth_services.issue_api_token(session.get(User, user_id))
    return {'Authorization': f'Bearer {raw}'}


def api_client(app, tenant):
    client = app.test_client()
    client.base = f'http://{tenant.slug}.localhost'
    return client


def body(ids, **overrides):
    items = {'single': {'question_id': ids['single'], 'choices': [2]},
             'multiple': {'question_id': ids['multiple'], 'choices': [0, 1]},
             'rating': {'question_id': ids['rating'], 'rating': 4},
             'text': {'question_id': ids['text'], 'text': '=HYPERLINK("x")'}}
    items.update(overrides)
    return {'answers': [v for v in items.values() if v is not None]}


def test_list_detail_and_answer_once(app, compound, in_tenant):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    api = api_client(app, c.tenant)
    owner = token(in_tenant, c.tenant, c.owner_low_user)
    listing = api.get(API, headers=owner)
    assert listing.status_code == 200 and listing.json['total'] == 1
    item = listing.json['items'][0]
    assert item['id'] == ids['survey'] and item['answered'] is False and item['state'] == 'open'
    detail = api.get(f'{API}/{ids["survey"]}', headers=owner)
    assert detail.status_code == 200 and detail.json['my_response'] is None
    assert [q['kind'] for q in detail.json['questions']] == ['single', 'multiple', 'rating', 'text']
    assert detail.json['questions'][0]['options'] == ['没有', '一辆', '两辆及以上']

    missing = api.post(f'{API}/{ids["survey"]}/answers', json=body(ids, rating=None), headers=owner)
    assert missing.status_code == 422 and f'q{ids["rating"]}' in missing.json['error']['fields']
    bad = api.post(f'{API}/{ids["survey"]}/answers', json=body(ids, rating={'question_id': ids['rating'],
                                                                           'rating': 9}), headers=owner)
    assert bad.status_code == 422
    created = api.post(f'{API}/{ids["survey"]}/answers', json=body(ids), headers=owner)
    assert created.status_code == 201, created.json
    mine = created.json['my_response']
    assert mine is not None and created.json['answered'] is True
    assert {a['question_id']: a['rating'] for a in mine['answers']}[ids['rating']] == 4
    again = api.post(f'{API}/{ids["survey"]}/answers', json=body(ids), headers=owner)
    assert again.status_code == 409 and again.json['error']['code'] == 'conflict'
    assert '已经填写过' in again.json['error']['message']
    assert api.get(API, headers=owner).json['items'][0]['answered'] is True
    with in_tenant(c.tenant):
        assert db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)).scalar_one() == 1


def test_not_invited_other_tenant_and_staff(app, compound, in_tenant, make_tenant, make_user):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience(scope='buildings', building_ids=[c.buildings['2栋']]))
    api = api_client(app, c.tenant)
    owner = token(in_tenant, c.tenant, c.owner_low_user)  # 1栋: not invited
    assert api.get(API, headers=owner).json['total'] == 0
    assert api.get(f'{API}/{ids["survey"]}', headers=owner).status_code == 404
    assert api.post(f'{API}/{ids["survey"]}/answers', json=body(ids), headers=owner).status_code == 404
    assert api.get(API).status_code == 401
    desk = token(in_tenant, c.tenant, c.desk)
    assert api.get(API, headers=desk).status_code == 403
    assert api.get(f'{API}/{ids["survey"]}', headers=desk).status_code == 404  # staff are never invited
    other = make_tenant(name='丙小区')
    resident_b = make_user(other, 'resident')
    api_b = api_client(app, other)
    headers_b = token(in_tenant, other, resident_b)
    assert api_b.get(f'{API}/{ids["survey"]}', headers=headers_b).status_code == 404
    assert api_b.post(f'{API}/{ids["survey"]}/answers', json=body(ids), headers=headers_b).status_code == 404


def test_closed_survey_is_409(app, compound, in_tenant, client_for):
    c = compound
    ids = make_survey(in_tenant, c.tenant, open_to=Audience())
    assert client_for(c.tenant, c.desk).post(f'/surveys/{ids["survey"]}/close').status_code == 302
    api = api_client(app, c.tenant)
    owner = token(in_tenant, c.tenant, c.owner_low_user)
    assert api.get(API, headers=owner).json['items'][0]['state'] == 'closed'
    response = api.post(f'{API}/{ids["survey"]}/answers', json=body(ids), headers=owner)
    assert response.status_code == 409 and response.json['error']['message']


def test_spec_documents_every_error(app):
    spec = app.test_client().get('/api/v1/openapi.json', base_url='http://localhost').json
    if spec is None:
        return
    post = spec['paths']['/api/v1/me/surveys/{survey_id}/answers']['post']
    assert {'201', '400', '401', '403', '404', '409', '415', '422'} <= set(post['responses'])
