"""Repair statistics against hand-computed figures: a fixture of 14 orders in the first half of 2026 (and two just
outside it), every one built through the state machine with exact times; the page, the .xlsx export (read back),
the API, roles, bad filters, and the statement count (10 vs 60 orders).

The orders (local times, Asia/Shanghai; '+' times after submission):

    A  1 Jan 00:05  2-1-102  门窗   submitted (UTC: 31 Dec 16:05 — a January order by local month)
    B  5 Jan 10:00  1-1-102  电路   start +30m, complete +2h (completed)
    C 10 Jan 10:00  1-1-101  水暖   start +1h, complete +5h, confirmed ★5
    D  5 Feb 10:00  1-1-102  电路   cancelled
    E 20 Feb 10:00  1-1-101  水暖   start +2h, complete +10h, reopen +20h, start +30h, complete +48h, confirmed ★2
    F  1 Mar 10:00  1栋 电梯        start +40m, complete +3h, confirmed ★4, overdue
    G 15 Mar 10:00  1栋 电梯        start +20h, complete +30h (completed), overdue
    H 31 Mar 10:00  1栋 电梯        submitted
    I  2 Mar 10:00  1栋 大堂 公共设施 submitted
    J  3 Mar 10:00  1栋 大堂 公共设施 submitted
    K  4 Mar 10:00  2栋 大堂 公共设施 submitted
    L  6 Apr 10:00  1-1-102  电路   start +4h (in progress)
    M 10 Apr 10:00  1-1-101  水暖   submitted, overdue
    N 30 Jun 23:30  2-1-101  空调   start +1h, complete +2h, reopen +3h (assigned again)
    outside: 31 Dec 2025 23:50 (2-1-102 门窗) and 1 Jul 00:10 (2-1-101 空调)

Hand-computed: response (first start) 1800, 2400, 3600, 3600, 7200, 14400, 72000 s → median 3600, p90 at 5.4:
14400 + 0.4 × 57600 = 37440. Resolution (completed_at) 7200, 10800, 18000, 108000, 172800 → median 18000, p90 at
3.6: 108000 + 0.6 × 64800 = 146880. Overdue 3/14 = 21.4 %. Reopened E, N of completed-once B C E F G N: 2/6 = 33.3 %.
Ratings 5, 2, 4: 3.67. Hot spots: 1-1-101 水暖 (C..M exactly 90 days) and 1栋电梯 (F G H); not 1-1-102 电路 (B..L 91
days), not 大堂 (two in 1栋, one in 2栋).
"""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.auth import services as auth_services
from propsaas.auth.models import User
from propsaas.repairs import orders, stats
from propsaas.repairs.models import WorkOrder
from propsaas.tenancy.models import Tenant
from tests.helpers import count_queries
from tests.repairs.estate import build_estate

START, END = date(2026, 1, 1), date(2026, 6, 30)
LOCAL = timedelta(hours=8)


def local(y, m, d, hh=10, mm=0) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - LOCAL


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='统计小区': build_estate(make_tenant, make_user, in_tenant, name)


def _submit(session, e, at, category, *, room=None, area=None, building=None, description='需要维修'):
    admin = session.get(User, e.admin)
    return orders.submit(category_id=e.categories[category], description=description, by_user=admin,
                         room_id=e.rooms[room] if room else None, public_area=area,
                         building_id=e.buildings[building] if building else None, channel='phone', now=at)


def _work(session, e, order, at, *, start=None, complete=None, reopen=None, restart=None, recomplete=None,
          rating=None, confirm=None):
    admin = session.get(User, e.admin)
    orders.assign(order, e.tech, by_user=admin, now=at + timedelta(minutes=10))
    if start is not None:
        orders.start(order, by_user=admin, now=at + start)
    if complete is not None:
        orders.complete(order, by_user=admin, note='修好了', now=at + complete)
    if reopen is not None:
        orders.reopen(order, by_user=admin, reason='还坏着', now=at + reopen)
    if restart is not None:
        orders.start(order, by_user=admin, now=at + restart)
    if recomplete is not None:
        orders.complete(order, by_user=admin, note='再修', now=at + recomplete)
    if rating is not None:
        orders.confirm(order, by_user=admin, rating=rating, now=at + confirm)


def build_orders(e, in_tenant) -> dict[str, int]:
    h, m = (lambda n: timedelta(hours=n)), (lambda n: timedelta(minutes=n))
    ids = {}
    with in_tenant(e.tenant) as session:
        def add(key, at, category, **where):
            order = _submit(session, e, at, category, **where)
            ids[key] = order.id
            return order

        add('X1', local(2025, 12, 31, 23, 50), 'doors_windows', room='2-1-102')
        add('A', local(2026, 1, 1, 0, 5), 'doors_windows', room='2-1-102')
        at = local(2026, 1, 5)
        _work(session, e, add('B', at, 'electrical', room='1-1-102'), at, start=m(30), complete=h(2))
        at = local(2026, 1, 10)
        _work(session, e, add('C', at, 'plumbing', room='1-1-101'), at, start=h(1), complete=h(5), rating=5,
              confirm=h(6))
        at = local(2026, 2, 5)
        orders.cancel(add('D', at, 'electrical', room='1-1-102'), by_user=session.get(User, e.admin),
                      reason='住户已自行修好', now=at + h(1))
        at = local(2026, 2, 20)
        _work(session, e, add('E', at, 'plumbing', room='1-1-101'), at, start=h(2), complete=h(10), reopen=h(20),
              restart=h(30), recomplete=h(48), rating=2, confirm=h(50))
        at = local(2026, 3, 1)
        f = add('F', at, 'lift', area='电梯', building='1')
        _work(session, e, f, at, start=m(40), complete=h(3), rating=4, confirm=h(4))
        at = local(2026, 3, 15)
        g = add('G', at, 'lift', area='电梯', building='1')
        _work(session, e, g, at, start=h(20), complete=h(30))
        add('H', local(2026, 3, 31), 'lift', area='电梯', building='1')
        add('I', local(2026, 3, 2), 'public_facilities', area='大堂', building='1')
        add('J', local(2026, 3, 3), 'public_facilities', area='大堂', building='1')
        add('K', local(2026, 3, 4), 'public_facilities', area='大堂', building='2')
        at = local(2026, 4, 6)
        _work(session, e, add('L', at, 'electrical', room='1-1-102'), at, start=h(4))
        mm = add('M', local(2026, 4, 10), 'plumbing', room='1-1-101')
        at = local(2026, 6, 30, 23, 30)
        _work(session, e, add('N', at, 'air_conditioning', room='2-1-101'), at, start=h(1), complete=h(2),
              reopen=h(3))
        add('X2', local(2026, 7, 1, 0, 10), 'air_conditioning', room='2-1-101')
        for order in (f, g, mm):
            order.overdue_at = order.created_at + timedelta(days=1)
    return ids


def figures(in_tenant, e, start=START, end=END, building=None) -> stats.Stats:
    with in_tenant(e.tenant) as session:
        tenant = session.get(Tenant, e.tenant.id)
        return stats.compute(tenant, start, end, e.buildings[building] if building else None)


def by_name(counts) -> dict[str, int]:
    return {count.name: count.orders for count in counts}


def test_every_figure_against_hand_computed_values(estate, in_tenant):
    e = estate()
    build_orders(e, in_tenant)
    s = figures(in_tenant, e)
    assert s.total == 14
    assert {k: v for k, v in by_name(s.by_category).items() if v} == {
        '门窗': 1, '电路': 3, '水暖': 3, '电梯': 3, '公共设施': 3, '空调': 1}
    assert len(s.by_category) == 10  # every active category, empty ones with 0
    assert by_name(s.by_building) == {'1栋': 11, '2栋': 3}
    assert s.by_month == [('2026-01', 3), ('2026-02', 2), ('2026-03', 6), ('2026-04', 2), ('2026-05', 0),
                          ('2026-06', 1)]
    assert (s.response.orders, s.response.median, s.response.p90) == (7, 3600, 37440)
    assert (s.resolution.orders, s.resolution.median, s.resolution.p90) == (5, 18000, 146880)
    assert (s.overdue.count, s.overdue.of, str(s.overdue.percent)) == (3, 14, '21.4')
    assert (s.reopened.count, s.reopened.of, str(s.reopened.percent)) == (2, 6, '33.3')
    assert (s.rated, s.rating_sum, str(s.average_rating)) == (3, 11, '3.67')


def test_hot_spots_slide_over_90_days_and_stop_at_91(estate, in_tenant):
    e = estate()
    ids = build_orders(e, in_tenant)
    spots = figures(in_tenant, e).hot_spots
    found = {(spot.place, spot.category): spot for spot in spots}
    assert set(found) == {('1-1-101', '水暖'), ('1栋 电梯', '电梯')}
    plumbing = found[('1-1-101', '水暖')]
    assert [o.id for o in plumbing.orders] == [ids['C'], ids['E'], ids['M']]
    assert (plumbing.count, plumbing.peak) == (3, 3)
    assert (plumbing.first_at, plumbing.last_at) == (local(2026, 1, 10), local(2026, 4, 10))
    assert plumbing.last_at - plumbing.first_at == timedelta(days=90)
    lift = found[('1栋 电梯', '电梯')]
    assert lift.room_id is None and lift.building_id == e.buildings['1'] and lift.public_area == '电梯'
    assert [o.id for o in lift.orders] == [ids['F'], ids['G'], ids['H']]
    # a range that cuts off the first plumbing order leaves two: no longer hot
    later = figures(in_tenant, e, start=date(2026, 1, 11))
    assert {(spot.place, spot.category) for spot in later.hot_spots} == {('1栋 电梯', '电梯')}


def test_the_peak_slides_and_the_worst_come_first(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        # 1-1-101 水暖 on days 0, 50, 95, 100, 140: 0..90 holds 2, 50..140 holds 4 (50, 95, 100, 140)
        for day in (0, 50, 95, 100, 140):
            _submit(session, e, local(2026, 1, 1) + timedelta(days=day), 'plumbing', room='1-1-101')
        # 1-1-102 电路 three times in a week: peak 3, fewer orders
        for day in (10, 12, 14):
            _submit(session, e, local(2026, 1, 1) + timedelta(days=day), 'electrical', room='1-1-102')
        # 2-1-101 空调 twice: not hot
        for day in (10, 12):
            _submit(session, e, local(2026, 1, 1) + timedelta(days=day), 'air_conditioning', room='2-1-101')
    s = figures(in_tenant, e)
    assert [(spot.place, spot.count, spot.peak) for spot in s.hot_spots] == [('1-1-101', 5, 4), ('1-1-102', 3, 3)]
    assert [len(spot.orders) for spot in s.hot_spots] == [5, 3]
    # asked for the orders of the worst one only (the page): the others still counted, without their orders
    with in_tenant(e.tenant) as session:
        tenant = session.get(Tenant, e.tenant.id)
        first = stats.compute(tenant, START, END, hot_spot_orders=1)
    assert [(spot.count, len(spot.orders)) for spot in first.hot_spots] == [(5, 5), (3, 0)]
    assert [o.created_at for o in first.hot_spots[0].orders] == sorted(o.created_at for o in first.hot_spots[0].orders)
    # the dashboard's: the worst one only, no orders, and how many there are in all
    with in_tenant(e.tenant) as session:
        tenant = session.get(Tenant, e.tenant.id)
        worst, count = stats.hot_spots(stats.Orders.of(tenant, START, END), limit=1, with_orders=0)
    assert [(spot.place, spot.count, spot.peak, spot.orders) for spot in worst] == [('1-1-101', 5, 4, [])]
    assert count == 2


def test_one_building_and_an_empty_range(estate, in_tenant):
    e = estate()
    build_orders(e, in_tenant)
    s = figures(in_tenant, e, building='2')
    assert s.total == 3
    assert {k: v for k, v in by_name(s.by_category).items() if v} == {'门窗': 1, '公共设施': 1, '空调': 1}
    assert by_name(s.by_building) == {'2栋': 3}
    assert (s.response.orders, s.response.median, s.response.p90) == (1, 3600, 3600)
    assert (s.resolution.orders, s.resolution.median) == (0, None)
    assert (s.reopened.count, s.reopened.of) == (1, 1) and s.hot_spots == []
    empty = figures(in_tenant, e, start=date(2025, 6, 1), end=date(2025, 8, 31))
    assert empty.total == 0 and empty.by_month == [('2025-06', 0), ('2025-07', 0), ('2025-08', 0)]
    assert empty.overdue.percent is None and empty.average_rating is None and empty.response.median is None
    one_day = figures(in_tenant, e, start=date(2026, 1, 1), end=date(2026, 1, 1))
    assert one_day.total == 1 and one_day.by_month == [('2026-01', 1)]


def test_default_range_and_refused_filters(estate, in_tenant):
    from propsaas.errors import DomainError

    assert stats.default_range(date(2026, 11, 25)) == (date(2025, 12, 1), date(2026, 11, 25))
    assert stats.default_range(date(2026, 1, 31)) == (date(2025, 2, 1), date(2026, 1, 31))
    e = estate()
    with in_tenant(e.tenant) as session:
        tenant = session.get(Tenant, e.tenant.id)
        assert stats.check_range(tenant, '2026-01-01', '2026-03-31', str(e.buildings['1'])) == (
            date(2026, 1, 1), date(2026, 3, 31), e.buildings['1'])
        for bad in (('2026-13-01', None, None), ('2026-03-01', '2026-02-01', None), ('2020-01-01', '2026-01-31', None),
                    (None, None, 'x'), (None, None, '999999'), (None, None, str(10**30))):
            with pytest.raises(DomainError):
                stats.check_range(tenant, *bad)


def test_format_duration():
    assert stats.format_duration(None) == '—'
    assert stats.format_duration(30) == '不到1分'
    assert stats.format_duration(3600 + 5 * 60) == '1小时5分'
    assert stats.format_duration(2 * 86400 + 3 * 3600) == '2天3小时'
    assert str(stats.hours(37440)) == '10.40'


def _bulk(e, in_tenant, n: int) -> None:
    """n orders over the rooms and categories, some worked, some hot spots."""
    with in_tenant(e.tenant) as session:
        admin = session.get(User, e.admin)
        codes = sorted(e.rooms)
        for i in range(n):
            at = local(2026, 1, 1) + timedelta(days=i % 150, hours=i % 7)
            order = orders.submit(category_id=e.categories[('plumbing', 'electrical')[i % 2]], description='x',
                                  by_user=admin, room_id=e.rooms[codes[i % 4]], channel='phone', now=at)
            if i % 3:
                orders.assign(order, e.tech, by_user=admin, now=at + timedelta(minutes=5))
                orders.start(order, by_user=admin, now=at + timedelta(hours=1 + i % 5))
            if i % 3 == 2:
                orders.complete(order, by_user=admin, note='ok', now=at + timedelta(hours=8))
                orders.confirm(order, by_user=admin, rating=1 + i % 5, now=at + timedelta(hours=9))


def test_statements_do_not_grow_with_the_orders(app, estate, in_tenant):
    counts = []
    for n in (10, 60):
        e = estate(f'统计{n}')
        _bulk(e, in_tenant, n)
        with in_tenant(e.tenant) as session:
            tenant = session.get(Tenant, e.tenant.id)
            with count_queries(app) as statements:
                s = stats.compute(tenant, START, END)
            assert s.total == n and s.hot_spots
            counts.append(len(statements))
            with count_queries(app) as statements:
                s = stats.compute(tenant, date(2025, 1, 1), date(2025, 6, 30))
            assert s.total == 0 and not s.hot_spots
            counts.append(len(statements))
    assert len(set(counts)) == 1 and counts[0] <= stats.STATEMENTS + 1, counts


# --- the page, the export, the API ------------------------------------------------------------------------------

def test_page_shows_the_figures_to_admins_and_the_desk(estate, in_tenant, client_for):
    e = estate()
    ids = build_orders(e, in_tenant)
    for user_id in (e.admin, e.desk):
        page = client_for(e.tenant, user_id).get('/repairs/stats?start=2026-01-01&end=2026-06-30')
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        for text in ('电梯', '1-1-101', '1栋 电梯', '21.4%', '33.3%', '3.67', '1小时0分', '10小时24分',
                     '2026-05', 'BX-20260110-0001'):
            assert text in html, text
        assert 'hot' in html
    with in_tenant(e.tenant) as session:
        assert session.get(WorkOrder, ids['C']).number == 'BX-20260110-0001'
    for user_id in (e.tech, e.owner_user):
        assert client_for(e.tenant, user_id).get('/repairs/stats').status_code == 403
    assert client_for(e.tenant).get('/repairs/stats').status_code in (302, 401)



def test_page_lists_the_worst_hot_spots_and_says_the_export_has_them_all(estate, in_tenant, client_for,
                                                                         monkeypatch):
    from propsaas.repairs import stats_views

    e = estate()
    ids = build_orders(e, in_tenant)
    monkeypatch.setattr(stats_views, 'SHOWN_HOT_SPOTS', 1)
    html = client_for(e.tenant, e.admin).get('/repairs/stats?start=2026-01-01&end=2026-06-30').text
    assert '共 2 处热点，这里列出最突出的 1 处' in html
    with in_tenant(e.tenant) as session:
        shown = session.get(WorkOrder, ids['C']).number, session.get(WorkOrder, ids['M']).number
        hidden = session.get(WorkOrder, ids['F']).number
    # both have a peak of 3 and 3 orders: 1-1-101 水暖 reported first (10 Jan) is the worse
    assert all(number in html for number in shown) and hidden not in html.split('报修热点')[1].split('按月份')[0]
    exported = load_workbook(io.BytesIO(client_for(e.tenant, e.admin).get(
        '/repairs/stats/export?start=2026-01-01&end=2026-06-30').data))
    assert hidden in ' '.join(str(cell.value) for row in exported['热点'].iter_rows() for cell in row)


def test_page_refuses_bad_filters_with_a_message(estate, client_for):
    e = estate()
    client = client_for(e.tenant, e.admin)
    for query, message in (('start=2026-02-30', '日期格式应为'), ('start=2026-03-01&end=2026-01-01', '不能晚于'),
                           ('building=abc', '没有这个楼栋'), ('building=99999999999999999999', '没有这个楼栋'),
                           ('start=2000-01-01&end=2026-01-01', '最长')):
        page = client.get(f'/repairs/stats?{query}')
        assert page.status_code == 422, query
        assert message in page.get_data(as_text=True), query
    assert client.get('/repairs/stats/export?end=nonsense').status_code == 422


def test_export_reads_back(estate, in_tenant, client_for):
    e = estate()
    build_orders(e, in_tenant)
    with in_tenant(e.tenant) as session:
        session.execute(sa.update(WorkOrder).where(WorkOrder.number == 'BX-20260101-0001')
                        .values(description='=HYPERLINK("http://evil")'))
    reply = client_for(e.tenant, e.desk).get('/repairs/stats/export?start=2026-01-01&end=2026-06-30')
    assert reply.status_code == 200
    assert reply.mimetype == 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
    book = load_workbook(io.BytesIO(reply.data), read_only=True)
    assert book.sheetnames == ['按分类', '按楼栋', '按月份', '时效与比率', '热点', '工单明细']
    rows = lambda name: [tuple(row) for row in book[name].iter_rows(values_only=True)]  # noqa: E731
    assert ('电梯', 3) in rows('按分类') and rows('按分类')[-1] == ('合计', 14)
    assert rows('按楼栋')[2:] == [('1栋', 11), ('2栋', 3), ('合计', 14)]
    assert rows('按月份')[2:8] == [('2026-01', 3), ('2026-02', 2), ('2026-03', 6), ('2026-04', 2), ('2026-05', 0),
                                  ('2026-06', 1)]
    times = rows('时效与比率')
    assert times[2][1:] == (7, 1, 10.4) and times[3][1:] == (5, 5, 40.8)
    assert ('超时率', 3, 14, 21.4) in times and ('平均评分', 3, None, 3.67) in times
    spots = rows('热点')[2:]
    assert {(row[0], row[1], row[2]) for row in spots} == {('1-1-101', '水暖', 3), ('1栋 电梯', '电梯', 3)}
    plumbing = next(row for row in spots if row[0] == '1-1-101')
    assert plumbing[4:6] == ('2026-01-10 10:00', '2026-04-10 10:00')
    detail = rows('工单明细')
    assert len(detail) == 15 and detail[1][0] == 'BX-20260101-0001' and detail[1][1] == '2026-01-01 00:05'
    assert detail[1][-1] == '\'=HYPERLINK("http://evil")'


def test_api_gives_the_same_figures(app, estate, in_tenant):
    e = estate()
    build_orders(e, in_tenant)
    client = app.test_client()
    base = f'http://{e.tenant.slug}.localhost'

    def token(user_id):
        with in_tenant(e.tenant) as session:
            raw, _ = auth_services.issue_api_token(session.get(User, user_id))
        return {'Authorization': f'Bearer {raw}'}

    reply = client.get('/api/v1/repairs/stats?start=2026-01-01&end=2026-06-30', base_url=base,
                       headers=token(e.desk))
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert body['total'] == 14 and (body['start'], body['end']) == ('2026-01-01', '2026-06-30')
    assert body['response'] == {'orders': 7, 'median_seconds': 3600, 'p90_seconds': 37440}
    assert body['resolution'] == {'orders': 5, 'median_seconds': 18000, 'p90_seconds': 146880}
    assert body['overdue'] == {'count': 3, 'of': 14, 'percent': '21.4'}
    assert body['reopened'] == {'count': 2, 'of': 6, 'percent': '33.3'}
    assert body['rating'] == {'rated': 3, 'average': '3.67'}
    assert body['by_month'][4] == {'month': '2026-05', 'orders': 0}
    assert {row['name']: row['orders'] for row in body['by_building']} == {'1栋': 11, '2栋': 3}
    assert sorted((spot['place'], spot['orders_count']) for spot in body['hot_spots']) == [
        ('1-1-101', 3), ('1栋 电梯', 3)]
    assert all(len(spot['orders']) == 3 for spot in body['hot_spots'])
    one = client.get(f'/api/v1/repairs/stats?start=2026-01-01&end=2026-06-30&building_id={e.buildings["2"]}',
                     base_url=base, headers=token(e.admin)).get_json()
    assert one['total'] == 3
    for query in ('start=2026-02-31', 'start=2026-03-01&end=2026-01-01', 'building_id=0', 'building_id=abc',
                  f'building_id={10**12}', 'start=1990-01-01&end=2026-01-01'):
        bad = client.get(f'/api/v1/repairs/stats?{query}', base_url=base, headers=token(e.admin))
        assert bad.status_code == 422, query
        assert bad.get_json()['error']['message'], query
    assert client.get('/api/v1/repairs/stats', base_url=base, headers=token(e.tech)).status_code == 403
    assert client.get('/api/v1/repairs/stats', base_url=base, headers=token(e.owner_user)).status_code == 403
    assert client.get('/api/v1/repairs/stats', base_url=base).status_code == 401
