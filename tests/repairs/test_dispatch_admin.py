"""派单设置 as an admin uses it: categories, duty groups and rules; validation messages; others refused."""
from __future__ import annotations

import sqlalchemy as sa

from propsaas.repairs.models import DispatchGroup, DispatchRule, RepairCategory


def _estate(make_tenant, make_user, in_tenant):
    from tests.repairs.estate import build_estate

    return build_estate(make_tenant, make_user, in_tenant)


def test_categories_groups_and_rules(make_tenant, make_user, in_tenant, client_for):
    e = _estate(make_tenant, make_user, in_tenant)
    admin = client_for(e.tenant, e.admin)
    page = admin.get('/repairs/settings')
    assert page.status_code == 200 and '李师傅' in page.text
    assert admin.post('/repairs/categories', data={'code': 'heater', 'name': '热水器', 'area': 'home'}) \
        .status_code == 303
    dup = admin.post('/repairs/categories', data={'code': 'heater', 'name': '另一个', 'area': 'home'})
    assert dup.status_code == 422 and '已被使用' in dup.text
    bad = admin.post('/repairs/categories', data={'code': 'Bad Code', 'name': 'x', 'area': 'home'})
    assert bad.status_code == 422 and '小写字母开头' in bad.text
    with in_tenant(e.tenant) as session:
        heater = session.execute(sa.select(RepairCategory).where(RepairCategory.code == 'heater')).scalar_one().id
    assert admin.post(f'/repairs/categories/{heater}', data={'name': '燃气热水器'}).status_code == 303
    with in_tenant(e.tenant) as session:
        category = session.get(RepairCategory, heater)
        assert (category.name, category.active) == ('燃气热水器', False)

    none = admin.post('/repairs/groups', data={'name': '水电组', 'members': ['']})
    assert none.status_code == 422 and '至少要有一位维修人员' in none.text
    desk = admin.post('/repairs/groups', data={'name': '水电组', 'members': [str(e.desk)]})
    assert desk.status_code == 422 and '在职的维修人员' in desk.text
    assert admin.post('/repairs/groups', data={'name': '水电组', 'members': [str(e.tech2), str(e.tech)],
                                               'active': 'y'}).status_code == 303
    with in_tenant(e.tenant) as session:
        group = session.execute(sa.select(DispatchGroup)).scalar_one()
        assert group.member_ids == [e.tech2, e.tech]
        group_id = group.id
    assert admin.post('/repairs/rules', data={'category_id': heater, 'target': f'g:{group_id}'}).status_code == 303
    same = admin.post('/repairs/rules', data={'category_id': heater, 'target': f'u:{e.tech}'})
    assert same.status_code == 422 and '已有派单规则' in same.text
    assert admin.post('/repairs/rules', data={'category_id': heater, 'building_id': e.buildings['1'],
                                              'target': f'u:{e.tech}'}).status_code == 303
    wrong = admin.post('/repairs/rules', data={'category_id': heater, 'target': f'u:{e.desk}'})
    assert wrong.status_code == 422 and '请选择一位维修人员或班组' in wrong.text
    assert admin.post('/repairs/rules', data={'category_id': 'x', 'target': 'u:1'}).status_code == 422
    with in_tenant(e.tenant) as session:
        rule_id = session.execute(sa.select(DispatchRule.id).where(DispatchRule.assignee_id == e.tech)).scalar_one()
    assert admin.post(f'/repairs/rules/{rule_id}/delete').status_code == 303
    assert admin.post(f'/repairs/groups/{group_id}/delete').status_code == 303
    with in_tenant(e.tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(DispatchRule)).scalar() == 0
        assert session.execute(sa.select(sa.func.count()).select_from(DispatchGroup)).scalar() == 0


def test_settings_are_for_admins_and_this_project(make_tenant, make_user, in_tenant, client_for):
    e = _estate(make_tenant, make_user, in_tenant)
    assert client_for(e.tenant, e.desk).get('/repairs/settings').status_code == 403
    assert client_for(e.tenant, e.tech).post('/repairs/categories', data={'code': 'x', 'name': 'x'}).status_code == 403
    other = make_tenant(name='别的小区')
    admin_b = make_user(other, 'admin')
    with in_tenant(e.tenant) as session:
        category_id = session.execute(sa.select(RepairCategory.id)).scalars().first()
    response = client_for(other, admin_b).post(f'/repairs/categories/{category_id}', data={'name': '改名'})
    assert response.status_code == 404
