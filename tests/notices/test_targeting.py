"""Targeting picks exactly the right residents, in a constant number of statements, never another tenant's."""
import pytest

from propsaas.errors import DomainError
from propsaas.notices import targeting
from propsaas.notices.targeting import Audience
from tests.helpers import count_queries
from tests.notices.compound import build_compound


def names(c, audience) -> set[str]:
    ids = {r.resident_id for r in targeting.recipients(audience)}
    return {key for key, rid in c.residents.items() if rid in ids}


def test_whole_project_reaches_everyone_living_here_not_who_moved_out(compound, in_tenant):
    with in_tenant(compound.tenant):
        assert names(compound, Audience()) == {'owner_low', 'renter_high', 'family_high', 'owner_top', 'owner_u2',
                                               'owner_b2'}


def test_floor_range_of_one_building(compound, in_tenant):
    with in_tenant(compound.tenant):
        high = Audience(scope='floors', floor_building_id=compound.buildings['1栋'], floor_min=10, floor_max=18)
        assert names(compound, high) == {'renter_high', 'family_high', 'owner_top', 'owner_u2'}
        top = Audience(scope='floors', floor_building_id=compound.buildings['1栋'], floor_min=15)
        assert names(compound, top) == {'owner_top'}
        low = Audience(scope='floors', floor_building_id=compound.buildings['1栋'], floor_max=5)
        assert names(compound, low) == {'owner_low'}


def test_buildings_units_tags_and_roles(compound, in_tenant):
    c = compound
    with in_tenant(c.tenant):
        assert names(c, Audience(scope='buildings', building_ids=[c.buildings['2栋']])) == {'owner_b2'}
        assert names(c, Audience(scope='units', unit_ids=[c.units[('1栋', '2单元')]])) == {'owner_u2'}
        assert names(c, Audience(tags=['临街'])) == {'owner_b2'}
        assert names(c, Audience(tags=['高层'], roles=['owner'])) == {'owner_top', 'owner_u2'}
        assert names(c, Audience(roles=['renter'])) == {'renter_high'}
        assert names(c, Audience(roles=['renter', 'family'])) == {'renter_high', 'family_high'}
        picked = Audience(scope='residents', resident_ids=[c.residents['owner_b2'], c.residents['owner_top']])
        assert names(c, picked) == {'owner_b2', 'owner_top'}


def test_another_tenants_ids_reach_nobody(compound, make_tenant, make_user, in_tenant):
    other = build_compound(make_tenant, make_user, in_tenant, name='别的小区')
    with in_tenant(compound.tenant):
        theirs = Audience(scope='residents', resident_ids=list(other.residents.values()))
        assert targeting.recipients(theirs) == []
        with pytest.raises(DomainError):
            theirs.validate()
        with pytest.raises(DomainError):
            Audience(scope='buildings', building_ids=[other.buildings['1栋']]).validate()
        assert names(compound, Audience(scope='buildings', building_ids=[other.buildings['1栋']])) == set()


def test_addresses_and_opt_outs_come_with_the_recipients(compound, in_tenant):
    with in_tenant(compound.tenant):
        by_id = {r.resident_id: r for r in targeting.recipients(Audience())}
    low = by_id[compound.residents['owner_low']]
    assert (low.mobile, low.email, low.wechat_openid) == ('13800000001', 'owner.low@example.cn', 'o-owner-low-openid')
    assert by_id[compound.residents['owner_top']].opted_out == ('sms',)
    assert by_id[compound.residents['owner_b2']].address('sms') is None


def test_preview_counts_and_samples_in_constant_statements(app, compound, in_tenant):
    with in_tenant(compound.tenant):
        with count_queries(app) as queries:
            count, sample = targeting.preview(Audience(), sample=3)
            targeting.recipients(Audience(tags=['高层'], roles=['owner']))
    assert count == 6 and len(sample) == 3
    assert len([q for q in queries if q.lstrip().upper().startswith('SELECT')]) <= 3


@pytest.mark.parametrize('data, message', [
    ({'scope': 'planet'}, '发送范围'),
    ({'scope': 'buildings'}, '楼栋'),
    ({'scope': 'floors', 'floor_building_id': 1}, '楼层'),
    ({'scope': 'floors', 'floor_building_id': 1, 'floor_min': 9, 'floor_max': 3}, '起始楼层'),
    ({'roles': ['landlord']}, '身份'),
    ({'building_ids': ['x']}, '格式'),
    ({'surprise': 1}, '不认识'),
])
def test_malformed_audiences_are_refused_with_a_reason(app, data, message):
    with app.test_request_context():
        with pytest.raises(DomainError) as caught:
            Audience.from_json(data)
        assert message in str(caught.value.message)


def test_arrears_only_reaches_the_rooms_with_overdue_bills(compound, in_tenant):
    """A bill unpaid after its due date puts its room in arrears; paid, voided or not yet due ones don't."""
    from datetime import date, timedelta

    from propsaas.billing.models import Bill

    c = compound
    today = date.today()
    with in_tenant(c.tenant) as session:
        for number, (code, status, due) in enumerate((
                ('1-1-1201', 'partial', today - timedelta(days=40)),   # in arrears
                ('1-1-201', 'paid', today - timedelta(days=40)),
                ('1-2-1202', 'unpaid', today + timedelta(days=5)),     # not due yet
                ('2-1-301', 'void', today - timedelta(days=40))), start=1):
            session.add(Bill(number=f'ZD-{number}', room_id=c.rooms[code], period='2026-10', issued_on=due,
                             due_on=due, status=status, total_fen=10000))
    with in_tenant(c.tenant):
        assert names(c, Audience(arrears_only=True)) == {'renter_high', 'family_high'}
        assert names(c, Audience(arrears_only=True, roles=['renter'])) == {'renter_high'}
        picked = Audience(scope='residents', resident_ids=[c.residents['owner_low'], c.residents['renter_high']],
                          arrears_only=True)
        assert names(c, picked) == {'renter_high'}
        assert '欠费' in Audience(arrears_only=True).describe()


def test_a_floor_range_names_its_building_by_any_id(app):
    """Building ids grow past any floor number: the floor bounds are not applied to the building id."""
    with app.test_request_context():
        audience = Audience.from_json({'scope': 'floors', 'floor_building_id': 336, 'floor_min': 12})
    assert (audience.floor_building_id, audience.floor_min) == (336, 12)
