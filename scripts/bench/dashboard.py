"""The project dashboard (数据看板): its statements with one month and with two years of data, and its render time
against hand-written aggregate SQL for the same figures.

    .venv/bin/python scripts/bench/dashboard.py [--tiny] [--households N] [--rounds N] [--db URL] [--no-postgres]

In one run, on SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, as a superuser: a throwaway
database owned by ``propsaas_owner`` and used by ``propsaas_app``; dropped at the end), each in its own subprocess:

- two tenants of N households (default 500; --tiny 60), bulk-inserted with Core: one with one month of data, one
  with two years (24 monthly bills per room, most paid — a few refunds and reversals —, some in arrears; about two
  work orders per household a year, started, completed and rated in part; a daily inspection plan over 10 devices;
  an announcement a month to every household with read receipts);
- statements: ``GET /dashboard`` as the admin through the test client, for both tenants (target: equal);
- time: the page on the two-year tenant (request, statements, template) against hand-written SQL for the same
  figures on the same connection (collection, arrears buckets, revenue per month, open and overdue orders, average
  and median response and resolution times, orders and ratings per month, hot spots, inspection completion,
  failures and device days, announcement reads), best of --rounds (default 7), the page and the SQL alternating;
  target <= 2.0x.

Never asserts a time; exits 0 whenever it could measure. Progress goes to stderr, the figures to stdout.
"""
# scripts/bench/ holds http.py: with this folder first on sys.path, ``import http.client`` would find that
# script instead of the standard library. Drop the folder before importing anything.
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
ROOT = os.path.dirname(os.path.dirname(_HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from scripts.bench import throwaway  # noqa: E402
from scripts.bench.throwaway import PostgresDatabase, normalize, reachable  # noqa: E402

DEFAULT_DB = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
RATIO_TARGET = 2.0
DEVICES = 10


def log(message: str) -> None:
    print(f'[bench-dashboard] {message}', file=sys.stderr, flush=True)


def _months_back(now, n: int):
    """The first day (UTC, naive date) of the month n months before now's."""
    from datetime import date

    index = now.year * 12 + now.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _build_tenant(slug: str, households: int, months: int) -> tuple[int, int]:
    """A tenant of ``households`` rooms with ``months`` months of data, inserted by Core; (tenant id, admin id)."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.billing.models import Bill, Payment, PaymentAllocation
    from propsaas.extensions import db
    from propsaas.inspections.models import Device, InspectionPlan, InspectionTask
    from propsaas.notices.models import Announcement, Message
    from propsaas.property.models import Building, Room
    from propsaas.repairs.models import RepairCategory, WorkOrder, WorkOrderEvent
    from propsaas.residents.models import Resident
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    done = provisioning.create_tenant(slug, name=f'看板基准 {slug}', template='standard-residential',
                                      admin_email=f'admin@{slug}.cn', admin_password=None)
    db.session.commit()
    t = done.tenant.id
    now = datetime.now(UTC).replace(microsecond=0)
    with tenant_scope(t):
        admin = db.session.execute(sa.select(User.id).where(User.role == 'admin')).scalars().first()
        buildings = []
        for b in range(10):
            building = Building(name=f'{b + 1}栋', floors=20)
            db.session.add(building)
            db.session.flush()
            buildings.append(building.id)
        per = -(-households // 10)
        db.session.execute(sa.insert(Room), [
            {'tenant_id': t, 'building_id': buildings[i % 10], 'number': f'{i // 10 + 101}',
             'code': f'{i % 10 + 1}-1-{i // 10 + 101}', 'floor': 1 + i // 40, 'status': 'occupied', 'tags': [],
             'type': 'residence', 'active': True} for i in range(households)])
        rooms = db.session.execute(sa.select(Room.id, Room.building_id).order_by(Room.id)).all()
        db.session.execute(sa.insert(Resident), [{'tenant_id': t, 'name': f'住户{i}', 'mobile': f'139{i:08d}'}
                                                 for i in range(households)])
        residents = db.session.execute(sa.select(Resident.id).order_by(Resident.id)).scalars().all()
        assert per

        # bills: one a month per room; 9 in 10 paid a few days after issue, the rest (and this month's) open
        bills, payments = [], []
        for back in range(months):
            first = _months_back(now, back)
            period = first.strftime('%Y-%m')
            for r, (room_id, _b) in enumerate(rooms):
                bills.append({'tenant_id': t, 'number': f'ZD{period}-{r:06d}', 'room_id': room_id, 'period': period,
                              'issued_on': first, 'due_on': first + timedelta(days=27),
                              'status': 'paid' if back and (r + back) % 10 else 'unpaid', 'total_fen': 25000 + r % 7})
        db.session.execute(sa.insert(Bill), bills)
        rows = db.session.execute(sa.select(Bill.id, Bill.room_id, Bill.issued_on, Bill.total_fen, Bill.status)).all()
        seq = 0
        for bill_id, room_id, issued, total, status in rows:
            if status != 'paid':
                continue
            seq += 1
            at = datetime.combine(issued, datetime.min.time(), tzinfo=UTC) + timedelta(days=3, hours=seq % 12)
            payments.append({'tenant_id': t, 'number': f'SJ-{seq:08d}', 'kind': 'payment', 'method': 'cash',
                             'amount_fen': total, 'room_id': room_id, 'paid_at': at, 'created_at': at,
                             'reference': str(bill_id)})
        if not payments:  # one month: this month's bills are all open; still, one payment to count
            bill_id, room_id, issued, total, _status = rows[0]
            at = datetime.combine(issued, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
            payments.append({'tenant_id': t, 'number': 'SJ-00000000', 'kind': 'payment', 'method': 'cash',
                             'amount_fen': total, 'room_id': room_id, 'paid_at': at, 'created_at': at,
                             'reference': str(bill_id)})
        db.session.execute(sa.insert(Payment), payments)
        paid = db.session.execute(sa.select(Payment.id, Payment.reference, Payment.amount_fen, Payment.paid_at,
                                            Payment.room_id)).all()
        db.session.execute(sa.insert(PaymentAllocation), [
            {'tenant_id': t, 'payment_id': pid, 'bill_id': int(ref), 'amount_fen': fen, 'created_at': at}
            for pid, ref, fen, at, _room in paid])
        # one payment in 50 reversed (its bill owes again), one in 70 over-paid by 10 yuan and refunded
        undo = []
        for n, (pid, ref, fen, at, room_id) in enumerate(paid):
            if n % 50 == 0:
                undo.append({'tenant_id': t, 'number': f'CZ-{n:08d}', 'kind': 'reversal', 'method': 'cash',
                             'amount_fen': fen, 'room_id': room_id, 'reverses_id': pid, 'reason': '录错',
                             'paid_at': at + timedelta(days=1), 'created_at': at, 'reference': ref})
            elif n % 70 == 0:
                undo.append({'tenant_id': t, 'number': f'TK-{n:08d}', 'kind': 'refund', 'method': 'cash',
                             'amount_fen': 1000, 'room_id': room_id, 'reverses_id': pid, 'reason': '退多收',
                             'paid_at': at + timedelta(days=2), 'created_at': at})
        if undo:
            db.session.execute(sa.insert(Payment), undo)
            reversals = db.session.execute(sa.select(Payment.id, Payment.reference, Payment.amount_fen, Payment.paid_at)
                                           .where(Payment.kind == 'reversal')).all()
            if reversals:
                db.session.execute(sa.insert(PaymentAllocation), [
                    {'tenant_id': t, 'payment_id': pid, 'bill_id': int(ref), 'amount_fen': -fen, 'created_at': at}
                    for pid, ref, fen, at in reversals])
                db.session.execute(sa.update(Bill).where(Bill.id.in_([int(r[1]) for r in reversals]))
                                   .values(status='unpaid'))

        # work orders: about two per household a year
        categories = db.session.execute(sa.select(RepairCategory.id, RepairCategory.area)).all()
        home = [cid for cid, area in categories if area != 'public']
        orders = []
        count = max(households * 2 * months // 12, 5)
        span = months * 30
        for i in range(count):
            at = now - timedelta(days=(i * 7919) % span, minutes=(i * 37) % 1440 + 60)
            room_id, building_id = rooms[(i * 13) % len(rooms)]
            row = {'tenant_id': t, 'number': f'BX-{i:08d}', 'description': '漏水', 'urgency': 'normal',
                   'channel': 'portal', 'status': 'submitted', 'parts': [], 'reopen_count': 0, 'auto_confirmed': False,
                   'created_at': at, 'updated_at': at, 'category_id': home[i % len(home)], 'room_id': room_id,
                   'building_id': building_id, 'respond_by': at + timedelta(hours=2),
                   'resolve_by': at + timedelta(hours=48)}
            if i % 3:
                row.update(status='in_progress', assignee_id=admin, assigned_at=at + timedelta(minutes=10),
                           started_at=at + timedelta(minutes=30 + i % 600))
            if i % 3 == 2:
                row.update(status='confirmed', completed_at=at + timedelta(hours=2 + i % 90), rating=1 + i % 5,
                           confirmed_at=at + timedelta(hours=100), reopen_count=1 if i % 17 == 0 else 0)
            orders.append(row)
        db.session.execute(sa.insert(WorkOrder), orders)
        started = db.session.execute(sa.select(WorkOrder.id, WorkOrder.started_at)
                                     .where(WorkOrder.started_at.is_not(None))).all()
        if started:
            db.session.execute(sa.insert(WorkOrderEvent), [
                {'tenant_id': t, 'order_id': oid, 'action': 'started', 'from_status': 'assigned',
                 'to_status': 'in_progress', 'by_user_id': admin, 'data': {}, 'at': at} for oid, at in started])

        # inspections: a daily plan over DEVICES devices
        db.session.execute(sa.insert(Device), [
            {'tenant_id': t, 'code': f'P{d}', 'name': f'{d}号泵', 'category': 'water_pump', 'status': 'in_service',
             'created_at': now - timedelta(days=span + 30)} for d in range(DEVICES)])
        devices = db.session.execute(sa.select(Device.id)).scalars().all()
        plan = InspectionPlan(code='pump', name='水泵巡检', target='pump_room', starts_on=(now - timedelta(days=span))
                              .date(), frequency={'kind': 'daily'}, checklist=[{'label': '正常', 'kind': 'check'}],
                              points=[], duty='technician')
        db.session.add(plan)
        db.session.flush()
        tasks = []
        for day in range(span):
            start = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0)
            for n, device_id in enumerate(devices):
                ok = (day + n) % 9
                tasks.append({'tenant_id': t, 'plan_id': plan.id, 'device_id': device_id, 'target_key': device_id,
                              'period_start': start, 'due_at': start + timedelta(days=1),
                              'status': 'done' if ok and day else 'missed' if day else 'open', 'results': [],
                              'completed_at': start + timedelta(hours=3) if ok and day else None})
        db.session.execute(sa.insert(InspectionTask), tasks)
        db.session.execute(sa.update(WorkOrder).where(WorkOrder.id % 40 == 0)
                           .values(device_id=devices[0]))

        # an announcement a month to every household, most read
        for back in range(months):
            at = now - timedelta(days=30 * back + 1)
            notice = Announcement(title=f'通知{back}', category='通知', status='published', published_at=at,
                                  body_html='<p>通知</p>', audience={}, channels=[])
            db.session.add(notice)
            db.session.flush()
            db.session.execute(sa.insert(Message), [
                {'tenant_id': t, 'resident_id': rid, 'source_key': f'announcement:{notice.id}',
                 'announcement_id': notice.id, 'title': notice.title, 'body': '', 'short_text': '', 'params': {},
                 'urgent': False, 'created_at': at, 'read_at': at + timedelta(hours=5) if rid % 4 else None}
                for rid in residents])
        db.session.commit()
    return t, admin


def _hand_written(tenant_id: int) -> float:
    """The dashboard's figures by hand-written SQL on one connection; seconds."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.tenancy.clock import tenant_zone
    from propsaas.tenancy.context import tenant_scope
    from propsaas.tenancy.models import Tenant

    with tenant_scope(tenant_id):
        db.session.rollback()
        tenant = db.session.get(Tenant, tenant_id)
        zone = tenant_zone(tenant)
        now = datetime.now(UTC)
        today = now.astimezone(zone).date()
        month = today.replace(day=1)
        starts = [_months_back(month, n) for n in range(11, -1, -1)]
        utc = [datetime.combine(d, datetime.min.time(), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
               for d in starts]
        tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone) \
            .astimezone(UTC).replace(tzinfo=None)
        conn = db.session.connection()
        pg = conn.dialect.name == 'postgresql'
        p = {'t': tenant_id, 'period': month.strftime('%Y-%m'), 'today': today, 'low': utc[0], 'high': tomorrow,
             'month_low': utc[-1], 'now': now.replace(tzinfo=None), 'since': now.replace(tzinfo=None) -
             timedelta(days=30), **{f'm{i}': value for i, value in enumerate(utc)}}
        q = lambda sql: conn.execute(sa.text(sql), p).all()  # noqa: E731
        bucket = lambda col: 'CASE ' + ' '.join(f'WHEN {col} < :m{i} THEN {i - 1}' for i in range(1, 12)) + \
            ' ELSE 11 END'  # noqa: E731
        secs = (lambda a, b: f'extract(epoch from {a} - {b})') if pg else \
            (lambda a, b: f'(julianday({a}) - julianday({b})) * 86400')
        days = (lambda d: f"CAST(:today AS date) - {d}") if pg else (lambda d: f'julianday(:today) - julianday({d})')
        started = time.perf_counter()
        # collection
        q("SELECT count(*), sum(total_fen), (SELECT sum(a.amount_fen) FROM payment_allocations a JOIN bills b ON "
          "b.id = a.bill_id WHERE b.tenant_id = :t AND b.period = :period AND b.status <> 'void') FROM bills "
          "WHERE tenant_id = :t AND period = :period AND status <> 'void'")
        # arrears by bucket
        q(f"SELECT sum(CASE WHEN {days('due_on')} <= 30 THEN bal ELSE 0 END), "
          f"sum(CASE WHEN {days('due_on')} BETWEEN 31 AND 90 THEN bal ELSE 0 END), "
          f"sum(CASE WHEN {days('due_on')} BETWEEN 91 AND 180 THEN bal ELSE 0 END), "
          f"sum(CASE WHEN {days('due_on')} > 180 THEN bal ELSE 0 END), sum(bal), count(*), count(DISTINCT room_id) "
          "FROM (SELECT b.due_on, b.room_id, b.total_fen - coalesce((SELECT sum(a.amount_fen) FROM "
          "payment_allocations a WHERE a.bill_id = b.id), 0) AS bal FROM bills b WHERE b.tenant_id = :t AND "
          "b.status IN ('unpaid', 'partial') AND b.due_on < :today) x WHERE bal > 0")
        # revenue per month, a reversal in its payment's month
        at = "CASE WHEN p.kind = 'reversal' THEN o.paid_at ELSE p.paid_at END"
        q(f"SELECT {bucket(at)}, sum(CASE WHEN p.kind = 'payment' THEN p.amount_fen ELSE -p.amount_fen END) "
          f"FROM payments p LEFT JOIN payments o ON o.id = p.reverses_id WHERE p.tenant_id = :t AND {at} >= :low "
          f"AND {at} < :high GROUP BY 1")
        # open and overdue orders
        q("SELECT status, count(*), sum(CASE WHEN (status = 'submitted' AND respond_by < :now) OR (status IN "
          "('submitted', 'assigned', 'in_progress') AND resolve_by < :now) THEN 1 ELSE 0 END) FROM work_orders "
          "WHERE tenant_id = :t AND status IN ('submitted', 'assigned', 'in_progress', 'completed') GROUP BY status")
        # response and resolution: averages and medians, orders per month, ratings per month
        first = ("SELECT order_id, min(at) AS at FROM work_order_events WHERE tenant_id = :t AND action = 'started' "
                 'GROUP BY order_id')
        scope = 'o.tenant_id = :t AND o.created_at >= :low AND o.created_at < :high'
        q(f'SELECT count(f.at), avg({secs("f.at", "o.created_at")}), count(o.completed_at), '
          f'avg({secs("o.completed_at", "o.created_at")}) FROM work_orders o LEFT JOIN ({first}) f '
          f'ON f.order_id = o.id WHERE {scope}')
        for sql in (f'SELECT {secs("f.at", "o.created_at")} AS d FROM work_orders o JOIN ({first}) f '
                    f'ON f.order_id = o.id WHERE {scope}',
                    f'SELECT {secs("o.completed_at", "o.created_at")} AS d FROM work_orders o WHERE {scope} '
                    'AND o.completed_at IS NOT NULL'):
            if pg:
                q(f'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FROM ({sql}) x')
            else:
                values = [row[0] for row in q(f'SELECT d FROM ({sql}) x ORDER BY d')]
                if values:
                    values[int(0.5 * (len(values) - 1))]  # noqa: B018
        q(f'SELECT {bucket("o.created_at")}, count(*) FROM work_orders o WHERE {scope} GROUP BY 1')
        q(f'SELECT {bucket("confirmed_at")}, count(*), sum(rating) FROM work_orders WHERE tenant_id = :t AND rating '
          'IS NOT NULL AND confirmed_at >= :low AND confirmed_at < :high GROUP BY 1')
        # hot spots: each order counts its place's orders of the 90 days before it
        epoch = 'floor(extract(epoch from o.created_at))::bigint' if pg else \
            "CAST(strftime('%s', o.created_at) AS INTEGER)"
        place = 'room_id, building_id, public_area, category_id'
        q(f'SELECT {place}, max(w), count(*) FROM (SELECT o.room_id, o.building_id, o.public_area, o.category_id, '
          f'count(*) OVER (PARTITION BY o.room_id, o.building_id, o.public_area, o.category_id ORDER BY {epoch} '
          f'RANGE BETWEEN 7776000 PRECEDING AND CURRENT ROW) AS w FROM work_orders o WHERE {scope}) x '
          f'GROUP BY {place} HAVING max(w) >= 3 ORDER BY max(w) DESC, count(*) DESC LIMIT 5')
        # inspections this month: completion, failures, device days
        q("SELECT count(*), sum(CASE WHEN status = 'done' THEN 1 ELSE 0 END) FROM inspection_tasks WHERE "
          'tenant_id = :t AND period_start >= :month_low AND period_start < :high AND due_at <= :now')
        q("SELECT count(*) FROM work_orders WHERE tenant_id = :t AND device_id IS NOT NULL AND status <> 'cancelled' "
          'AND created_at >= :month_low AND created_at < :high')
        q("SELECT count(*), min(created_at) FROM devices WHERE tenant_id = :t AND status <> 'retired'")
        # announcements of the last 30 days
        q("SELECT count(DISTINCT m.announcement_id), count(*), count(m.read_at) FROM messages m JOIN announcements a "
          "ON a.id = m.announcement_id WHERE m.tenant_id = :t AND a.status = 'published' AND a.published_at >= :since "
          'AND m.resident_id IS NOT NULL')
        seconds = time.perf_counter() - started
        db.session.rollback()
    return seconds


def phase_run(app_url: str, owner_url: str | None, instance: str, households: str, rounds: str) -> dict:
    from flask_migrate import upgrade

    from propsaas.extensions import db

    app = throwaway.make_app('dashboard', app_url, owner_url, instance)
    with app.app_context():
        upgrade(revision='heads')  # several heads until the lead chains the migrations
    out = {'households': int(households), 'statements': {}}
    with app.app_context():
        log(f'building a project of {households} households with one month of data')
        small = _build_tenant('bench-dash-month', int(households), 1)
        log(f'building a project of {households} households with two years of data')
        big = _build_tenant('bench-dash-years', int(households), 24)
    # planner statistics, as a maintained database has them (on SQLite without them, arrears' correlated balance
    # subquery searches payment_allocations by its tenant_id index, i.e. every row of the project, once per bill)
    import sqlalchemy as sa

    engine = sa.create_engine(normalize(owner_url or app_url), isolation_level='AUTOCOMMIT',
                              poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text('ANALYZE'))
    engine.dispose()
    gc.collect()  # the build's garbage, not the page's: measure the steady state of a serving process
    for label, (tenant_id, admin_id), slug in (('month', small, 'bench-dash-month'),
                                               ('years', big, 'bench-dash-years')):
        cookie = throwaway.session_cookie(app, tenant_id, admin_id)
        throwaway.timed_get(app, slug, cookie, '/dashboard')  # warm: templates compiled, caches filled
        out['statements'][label] = throwaway.timed_get(app, slug, cookie, '/dashboard')[0]
        if label == 'years':
            with app.app_context():
                _hand_written(tenant_id)
            # page and SQL alternate, so that both meet the same moments of a busy machine
            pages, sqls = [], []
            for _ in range(int(rounds)):
                pages.append(throwaway.timed_get(app, slug, cookie, '/dashboard')[1])
                with app.app_context():
                    sqls.append(_hand_written(tenant_id))
            out['page'], out['sql'] = min(pages), min(sqls)
    with app.app_context():
        out['dialect'] = db.engine.dialect.name
        db.engine.dispose()
    return out


def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, out: dict) -> None:
    month, years = out['statements']['month'], out['statements']['years']
    print(f'statements dashboard {label:<10} one month: {month}, two years: {years}   (GET /dashboard; target equal: '
          f'{verdict(month == years)})')
    ratio = out['page'] / out['sql']
    print(f'dashboard page {label:<11} {out["page"] * 1000:>9.1f} ms   ({out["households"]} households, two years: '
          f'request, {years} statements, template)')
    print(f'dashboard sql {label:<12} {out["sql"] * 1000:>9.1f} ms   (hand-written aggregate SQL for the same '
          'figures)')
    print(f'dashboard ratio {label:<10} {ratio:>9.2f}      (page / SQL; target <= {RATIO_TARGET:.1f}: '
          f'{verdict(ratio <= RATIO_TARGET)})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true', help='60 households, 1 round (tests/test_bench_dashboard.py)')
    parser.add_argument('--households', type=int)
    parser.add_argument('--rounds', type=int)
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        print(json.dumps({'run': phase_run}[kind](*rest)))
        return 0
    households = args.households or (60 if args.tiny else 500)
    rounds = args.rounds or (1 if args.tiny else 7)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-dashboard-') as tmp:
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        print(f'# project dashboard: {households} households, one month vs two years of data; Python '
              f'{platform.python_version()}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; best of '
              f'{rounds} round(s), each database in its own process')
        instance = Path(tmp) / 'sqlite'
        instance.mkdir()
        log('SQLite')
        results = {'sqlite': throwaway.run_phase(__file__, 'run', f'sqlite:///{instance / "bench.db"}', '',
                                                 str(instance), str(households), str(rounds),
                                                 relay='[bench-dashboard]')}
        if postgres and not problem:
            database = PostgresDatabase(admin_url, 'dashboard', log)
            try:
                database.create()
                instance = Path(tmp) / 'pg'
                instance.mkdir()
                log('PostgreSQL')
                results['postgresql'] = throwaway.run_phase(__file__, 'run', database.app_url, database.owner_url,
                                                            str(instance), str(households), str(rounds),
                                                            relay='[bench-dashboard]')
            finally:
                database.drop()
        report('sqlite', results['sqlite'])
        if not postgres:
            return 0
        if problem:
            print(f'dashboard postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', results['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
