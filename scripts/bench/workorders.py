"""Repair work orders: statements of the board and the statistics page, the statistics against hand-written SQL, and
re-encoding a phone photo against Pillow's bare resize.

    .venv/bin/python scripts/bench/workorders.py [--tiny] [--orders N] [--rounds N] [--db URL] [--no-postgres]

In one run, on SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, as a superuser: a throwaway
database owned by ``propsaas_owner`` and used by ``propsaas_app``; dropped at the end), each in its own subprocess:

- two tenants, each with 10 buildings of 100 rooms: one with 200 orders, one with N (default 20,000; --tiny 1,000),
  bulk-inserted with Core over the last 12 months (every category and room, a third started, a third completed and
  rated, some overdue, some reopened; a 'started' event per started order);
- statements: ``GET /repairs`` (the desk's board) and ``GET /repairs/stats`` (default range: the last 12 months),
  logged in as the admin, through the test client, counted for both tenants (target: equal);
- time: the statistics page (best of --rounds, default 3) against hand-written aggregate SQL for the same figures on
  the same connection (counts by category, building and local month; percentile_cont on PostgreSQL, the sorted
  durations on SQLite; overdue, reopen, rating; the hot spots by a RANGE window, and the orders of the worst 20,
  which the page lists); target <= 2.0x.

Photos (SQLite process only: no database involved): a 12-megapixel (4000 × 3000) phone-like JPEG re-encoded by the
app's ``repairs.photos.clean_photo`` (checks, EXIF transposition, resize to 2560, JPEG and thumbnail) against
Pillow's bare ``open`` + ``resize`` to the same size + ``save`` at the same quality; best of the rounds; target
<= 1.5x.

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
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from scripts.bench import throwaway  # noqa: E402
from scripts.bench.throwaway import PostgresDatabase, normalize, reachable  # noqa: E402

DEFAULT_DB = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
SMALL = 200
RATIO_TARGET = 2.0
PHOTO_TARGET = 1.5
BUILDINGS, ROOMS_PER_BUILDING = 10, 100
#: as repairs.stats_views.SHOWN_HOT_SPOTS
SHOWN_HOT_SPOTS = 20


def log(message: str) -> None:
    print(f'[bench-workorders] {message}', file=sys.stderr, flush=True)


def _app(app_url: str, owner_url: str | None, instance: str):
    return throwaway.make_app('workorders', app_url, owner_url, instance)


def _build_tenant(slug: str, orders: int) -> tuple[int, int]:
    """A tenant with 1,000 rooms and ``orders`` orders inserted by Core; (tenant id, admin id). Committed."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from propsaas.auth.models import User
    from propsaas.extensions import db
    from propsaas.property.models import Building, Room
    from propsaas.repairs.models import RepairCategory, WorkOrder, WorkOrderEvent
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    done = provisioning.create_tenant(slug, name=f'基准小区 {slug}', template='standard-residential',
                                      admin_email=f'admin@{slug}.cn', admin_password=None)
    db.session.commit()
    tenant_id = done.tenant.id
    with tenant_scope(tenant_id):
        admin_id = db.session.execute(sa.select(User.id).where(User.role == 'admin')).scalars().first()
        buildings = []
        for b in range(1, BUILDINGS + 1):
            building = Building(name=f'{b}栋', floors=25)
            db.session.add(building)
            db.session.flush()
            buildings.append(building.id)
        db.session.execute(sa.insert(Room), [
            {'tenant_id': tenant_id, 'building_id': bid, 'number': f'{r + 101}', 'code': f'{b + 1}-1-{r + 101}',
             'floor': 1 + r // 4, 'status': 'occupied', 'tags': [], 'type': 'residence', 'active': True}
            for b, bid in enumerate(buildings) for r in range(ROOMS_PER_BUILDING)])
        rooms = db.session.execute(sa.select(Room.id, Room.building_id).order_by(Room.id)).all()
        categories = db.session.execute(sa.select(RepairCategory.id, RepairCategory.area)).all()
        home = [cid for cid, area in categories if area != 'public']
        public = [cid for cid, area in categories if area != 'home']
        now = datetime.now(UTC).replace(microsecond=0)
        rows = []
        for i in range(orders):
            at = now - timedelta(days=1 + (i * 7919) % 355, minutes=(i * 37) % 1440)
            kind = i % 3
            row = {'tenant_id': tenant_id, 'number': f'BX-{i:08d}', 'description': '卫生间漏水', 'urgency': 'normal',
                   'channel': 'portal', 'status': 'submitted', 'parts': [], 'reopen_count': 0,
                   'auto_confirmed': False, 'created_at': at, 'updated_at': at, 'assigned_at': None,
                   'started_at': None, 'completed_at': None, 'rating': None, 'overdue_at': None,
                   'assignee_id': None, 'room_id': None, 'public_area': None, 'building_id': None}
            if i % 10 == 9:
                row.update(category_id=public[i % len(public)], public_area='大堂', building_id=buildings[i % 10])
            else:
                room_id, building_id = rooms[(i * 13) % len(rooms)]
                row.update(category_id=home[i % len(home)], room_id=room_id, building_id=building_id)
            if kind >= 1:
                row.update(status='in_progress', assignee_id=admin_id, assigned_at=at + timedelta(minutes=10),
                           started_at=at + timedelta(minutes=30 + i % 600))
            if kind == 2:
                row.update(status='confirmed', completed_at=at + timedelta(hours=2 + i % 90), rating=1 + i % 5,
                           reopen_count=1 if i % 17 == 0 else 0)
            if i % 11 == 0:
                row['overdue_at'] = at + timedelta(days=1)
            rows.append(row)
        db.session.execute(sa.insert(WorkOrder), rows)
        started = db.session.execute(sa.select(WorkOrder.id, WorkOrder.started_at)
                                     .where(WorkOrder.started_at.is_not(None))).all()
        db.session.execute(sa.insert(WorkOrderEvent), [
            {'tenant_id': tenant_id, 'order_id': oid, 'action': 'started', 'from_status': 'assigned',
             'to_status': 'in_progress', 'by_user_id': admin_id, 'data': {}, 'at': at} for oid, at in started])
        db.session.commit()
    return tenant_id, admin_id


def _hand_written(tenant_id: int) -> float:
    """The same figures by hand-written SQL on one connection (the last 12 months, every building); seconds."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.repairs import stats
    from propsaas.tenancy.clock import tenant_zone
    from propsaas.tenancy.context import tenant_scope
    from propsaas.tenancy.models import Tenant

    with tenant_scope(tenant_id):
        db.session.rollback()
        tenant = db.session.get(Tenant, tenant_id)
        start, end = stats.default_range(datetime.now(UTC).astimezone(tenant_zone(tenant)).date())
        zone = tenant_zone(tenant)
        low, high = stats._utc(start, zone).replace(tzinfo=None), stats._utc(end, zone).replace(tzinfo=None)
        conn = db.session.connection()
        pg = conn.dialect.name == 'postgresql'
        started = time.perf_counter()
        p = {'t': tenant_id, 'low': low, 'high': high}
        scope = 'o.tenant_id = :t AND o.created_at >= :low AND o.created_at < :high + interval \'1 day\'' if pg \
            else "o.tenant_id = :t AND o.created_at >= :low AND o.created_at < datetime(:high, '+1 day')"
        secs = (lambda a, b: f'extract(epoch from {a} - {b})') if pg else \
            (lambda a, b: f'(julianday({a}) - julianday({b})) * 86400')
        q = lambda sql: conn.execute(sa.text(sql), p).all()  # noqa: E731
        q(f'SELECT count(*), count(o.overdue_at), sum(CASE WHEN o.reopen_count > 0 THEN 1 ELSE 0 END), '
          f"sum(CASE WHEN o.status IN ('completed', 'confirmed') OR o.reopen_count > 0 THEN 1 ELSE 0 END), "
          f'count(o.rating), avg(o.rating) FROM work_orders o WHERE {scope}')
        q(f'SELECT c.name, count(o.id) FROM repair_categories c LEFT JOIN work_orders o ON o.category_id = c.id '
          f'AND {scope} WHERE c.tenant_id = :t GROUP BY c.id, c.name')
        q(f'SELECT b.name, count(o.id) FROM buildings b LEFT JOIN work_orders o ON o.building_id = b.id '
          f'AND {scope} WHERE b.tenant_id = :t GROUP BY b.id, b.name')
        month = "to_char(o.created_at + interval '8 hours', 'YYYY-MM')" if pg else \
            "strftime('%Y-%m', o.created_at, '+8 hours')"
        q(f'SELECT {month}, count(*) FROM work_orders o WHERE {scope} GROUP BY 1')
        first = ("SELECT order_id, min(at) AS at FROM work_order_events WHERE tenant_id = :t AND action = 'started' "
                 'GROUP BY order_id')
        durations = [(f'SELECT {secs("f.at", "o.created_at")} AS d FROM work_orders o JOIN ({first}) f '
                      f'ON f.order_id = o.id WHERE {scope}'),
                     (f'SELECT {secs("o.completed_at", "o.created_at")} AS d FROM work_orders o WHERE {scope} '
                      'AND o.completed_at IS NOT NULL')]
        for sql in durations:
            if pg:
                q(f'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), '
                  f'percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FROM ({sql}) x')
            else:
                values = [row[0] for row in q(f'SELECT d FROM ({sql}) x ORDER BY d')]
                if values:
                    values[int(0.5 * (len(values) - 1))], values[int(0.9 * (len(values) - 1))]  # noqa: B018
        # hot spots: each order counts its place's orders of the 90 days before it (a RANGE window), and carries
        # its place's figures and rank; one row per hot place, then the orders of the worst SHOWN_HOT_SPOTS
        epoch = 'floor(extract(epoch from o.created_at))::bigint' if pg else \
            "CAST(strftime('%s', o.created_at) AS INTEGER)"
        place = 'room_id, building_id, public_area, category_id'
        hot = (f'SELECT *, dense_rank() OVER (ORDER BY peak DESC, n DESC, first_at, {place}) AS rank FROM ('
               f'SELECT *, max(w) OVER p AS peak, count(*) OVER p AS n, min(created_at) OVER p AS first_at, '
               f'max(created_at) OVER p AS last_at FROM (SELECT o.id, o.number, o.status, o.created_at, o.room_id, '
               f'o.building_id, o.public_area, o.category_id, count(*) OVER (PARTITION BY o.room_id, o.building_id, '
               f'o.public_area, o.category_id ORDER BY {epoch} RANGE BETWEEN 7776000 PRECEDING AND CURRENT ROW) AS w '
               f'FROM work_orders o WHERE {scope}) x WINDOW p AS (PARTITION BY {place})) y WHERE peak >= 3')
        q(f'SELECT DISTINCT h.rank, h.room_id, h.building_id, h.public_area, h.category_id, h.n, h.first_at, '
          f'h.last_at, h.peak, r.code, b.name, c.name FROM ({hot}) h JOIN repair_categories c ON c.id = h.category_id '
          f'LEFT JOIN rooms r ON r.id = h.room_id LEFT JOIN buildings b ON b.id = h.building_id ORDER BY h.rank')
        q(f'SELECT rank, id, number, created_at, status FROM ({hot}) h WHERE rank <= {SHOWN_HOT_SPOTS} '
          f'ORDER BY created_at, id')
        seconds = time.perf_counter() - started
        db.session.rollback()
    return seconds


def _photo_bench(rounds: int) -> dict:
    import io

    from PIL import Image, ImageDraw, ImageFilter

    from propsaas.notices.attachments import MAX_SIDE
    from propsaas.repairs import photos

    image = Image.effect_noise((4000, 3000), 40).convert('RGB').filter(ImageFilter.GaussianBlur(1))
    draw = ImageDraw.Draw(image)
    for i in range(0, 4000, 160):
        draw.rectangle((i, (i * 7) % 3000, i + 120, (i * 7) % 3000 + 400), fill=(i % 255, 90, 200 - i % 200))
    raw = io.BytesIO()
    image.save(raw, 'JPEG', quality=90)
    data = raw.getvalue()
    app_best = bare_best = None
    for _ in range(rounds):
        started = time.perf_counter()
        photo, _thumb, width, height = photos.clean_photo(data)
        seconds = time.perf_counter() - started
        app_best = min(app_best or seconds, seconds)
        started = time.perf_counter()
        bare = Image.open(io.BytesIO(data))
        scale = MAX_SIDE / max(bare.size)
        resized = bare.resize((round(bare.width * scale), round(bare.height * scale)))
        out = io.BytesIO()
        resized.save(out, 'JPEG', quality=photos.QUALITY)
        seconds = time.perf_counter() - started
        bare_best = min(bare_best or seconds, seconds)
    return {'bytes': len(data), 'app': app_best, 'bare': bare_best, 'out': f'{width}x{height}'}


def phase_run(app_url: str, owner_url: str | None, instance: str, orders: str, rounds: str, photo: str) -> dict:
    from flask_migrate import upgrade

    from propsaas.extensions import db

    app = _app(app_url, owner_url, instance)
    with app.app_context():
        upgrade()
    out = {'orders': int(orders), 'statements': {}}
    with app.app_context():
        log(f'building tenants of {SMALL} and {orders} orders')
        small = _build_tenant('bench-wo-small', SMALL)
        big = _build_tenant('bench-wo-big', int(orders))
    if owner_url:
        import sqlalchemy as sa

        engine = sa.create_engine(normalize(owner_url), isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text('ANALYZE work_orders, work_order_events, rooms, buildings, repair_categories'))
        engine.dispose()
    for label, (tenant_id, admin_id), slug in (('small', small, 'bench-wo-small'), ('big', big, 'bench-wo-big')):
        cookie = throwaway.session_cookie(app, tenant_id, admin_id)
        throwaway.timed_get(app, slug, cookie, '/repairs/stats')  # warm: templates compiled, caches filled
        out['statements'][label] = {'board': throwaway.timed_get(app, slug, cookie, '/repairs')[0],
                                    'stats': throwaway.timed_get(app, slug, cookie, '/repairs/stats')[0]}
        if label == 'big':
            page = min(throwaway.timed_get(app, slug, cookie, '/repairs/stats')[1] for _ in range(int(rounds)))
            with app.app_context():
                _hand_written(tenant_id)
                sql = min(_hand_written(tenant_id) for _ in range(int(rounds)))
            out.update(page=page, sql=sql)
    out['photo'] = _photo_bench(int(rounds)) if photo == '1' else None
    with app.app_context():
        out['dialect'] = db.engine.dialect.name
        db.engine.dispose()
    return out


def run_phase(*args: str) -> dict:
    return throwaway.run_phase(__file__, *args, relay='[bench-workorders]')


def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, out: dict) -> None:
    small, big = out['statements']['small'], out['statements']['big']
    for page in ('board', 'stats'):
        print(f'statements {page} {label:<10} {SMALL} orders: {small[page]}, {out["orders"]} orders: {big[page]}   '
              f'(GET /repairs{"" if page == "board" else "/stats"}; target equal: '
              f'{verdict(small[page] == big[page])})')
    ratio = out['page'] / out['sql']
    print(f'stats page {label:<11} {out["page"] * 1000:>9.1f} ms   ({out["orders"]} orders, the last 12 months: '
          f'request, {big["stats"]} statements, template)')
    print(f'stats sql {label:<12} {out["sql"] * 1000:>9.1f} ms   (hand-written aggregate SQL for the same figures)')
    print(f'stats ratio {label:<10} {ratio:>9.2f}      (page / SQL; target <= {RATIO_TARGET:.1f}: '
          f'{verdict(ratio <= RATIO_TARGET)})')


def report_photo(photo: dict) -> None:
    ratio = photo['app'] / photo['bare']
    print(f'photo clean         {photo["app"] * 1000:>9.1f} ms   (12 MP JPEG of {photo["bytes"]} bytes -> '
          f'{photo["out"]} JPEG and thumbnail; repairs.photos.clean_photo)')
    print(f'photo bare          {photo["bare"] * 1000:>9.1f} ms   (Pillow open + resize + save, same size and quality)')
    print(f'photo ratio         {ratio:>9.2f}      (clean / bare; target <= {PHOTO_TARGET}: '
          f'{verdict(ratio <= PHOTO_TARGET)})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true', help='1,000 orders, 1 round (tests/test_bench_workorders.py)')
    parser.add_argument('--orders', type=int)
    parser.add_argument('--rounds', type=int)
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        print(json.dumps({'run': phase_run}[kind](*rest)))
        return 0
    orders = args.orders or (1_000 if args.tiny else 20_000)
    rounds = args.rounds or (1 if args.tiny else 3)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-workorders-') as tmp:
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        print(f'# repair work orders: {SMALL} and {orders} orders over 12 months, {BUILDINGS * ROOMS_PER_BUILDING} '
              f'rooms; Python {platform.python_version()}; {os.cpu_count()} CPUs, load average '
              f'{os.getloadavg()[0]:.2f}; best of {rounds} round(s), each database in its own process')
        instance = Path(tmp) / 'sqlite'
        instance.mkdir()
        log('SQLite')
        results = {'sqlite': run_phase('run', f'sqlite:///{instance / "bench.db"}', '', str(instance), str(orders),
                                       str(rounds), '1')}
        if postgres and not problem:
            database = PostgresDatabase(admin_url, 'workorders', log)
            try:
                database.create()
                instance = Path(tmp) / 'pg'
                instance.mkdir()
                log('PostgreSQL')
                results['postgresql'] = run_phase('run', database.app_url, database.owner_url, str(instance),
                                                  str(orders), str(rounds), '0')
            finally:
                database.drop()
        report('sqlite', results['sqlite'])
        report_photo(results['sqlite']['photo'])
        if not postgres:
            return 0
        if problem:
            print(f'workorders postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', results['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
