"""Announcement fan-out throughput: one announcement to N residents by the real path against a bare Core insert.

    .venv/bin/python scripts/bench/notify.py [--tiny] [--residents N] [--rounds N] [--db URL] [--no-postgres]

In one run, on SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, default the test suite's server,
as a superuser: a throwaway database owned by ``propsaas_owner`` and used by ``propsaas_app``, like
tests/conftest.py; dropped at the end), each database in its own subprocess:

- builds a tenant with N residents (default 5,000; --tiny 500), one per room, every one with a mobile and an
  e-mail address, SMS and e-mail switched on with the 'log' provider (nothing is sent: dispatch is not timed);
  and a second tenant with 50 residents built the same way;
- (a) fan-out: the real path of a published announcement — ``targeting.recipients`` of its audience (the whole
  project) + ``delivery.fan_out`` of ``announcements.content_for`` on its channels, inside one transaction,
  committed: N messages and 3 N deliveries (inbox, SMS, e-mail);
- (b) bare: the same number of rows with the same columns written into ``messages`` and ``deliveries`` by
  SQLAlchemy Core executemany on the session's connection (no ORM, no targeting, no de-duplication), committed;
- (a) and (b) alternate for --rounds rounds (default 2; --tiny 1), each round on a fresh announcement, and the
  best of each is kept, like timeit;
- on PostgreSQL runs ANALYZE (as the owner) on the tables it loaded, as autovacuum would after a bulk load;
- counts the statements targeting + fan-out issue for the 50-resident tenant and for the N-resident one.

Prints deliveries/s of each, the ratio fan-out/bare (target >= 0.50) and both statement counts (target: equal,
a constant number of statements whatever the recipient count). Never asserts a time; exits 0 whenever it could
measure. Progress goes to stderr, the figures to stdout.
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
RATIO_TARGET = 0.50
SMALL = 50
CHANNELS = ['sms', 'email']
ROOMS_PER_FLOOR, FLOORS, UNITS = 4, 25, 2  # 200 rooms a building


def log(message: str) -> None:
    print(f'[bench-notify] {message}', file=sys.stderr, flush=True)


# --- the phase (its own subprocess per database) -----------------------------------------------------------------

def _app(app_url: str, owner_url: str | None, instance: str):
    return throwaway.make_app('notify', app_url, owner_url, instance)


def _build_tenant(slug: str, residents: int) -> int:
    """A tenant with ``residents`` residents, one per room, SMS and e-mail on ('log'). Bulk inserts; committed."""
    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.notices.models import ChannelPreference, ChannelSetting
    from propsaas.property.models import Building, Room, Unit
    from propsaas.residents.models import Occupancy, Resident
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    done = provisioning.create_tenant(slug, name=f'基准小区 {slug}', template='standard-residential',
                                      admin_email=f'admin@{slug}.cn', admin_password=None)
    db.session.commit()
    tenant_id = done.tenant.id
    with tenant_scope(tenant_id):
        per_building = ROOMS_PER_FLOOR * FLOORS * UNITS
        rooms = []
        for b in range(1, -(-residents // per_building) + 1):
            building = Building(name=f'{b}栋', floors=FLOORS)
            db.session.add(building)
            db.session.flush()
            for u in range(1, UNITS + 1):
                unit = Unit(building_id=building.id, name=f'{u}单元')
                db.session.add(unit)
                db.session.flush()
                for floor in range(1, FLOORS + 1):
                    for r in range(1, ROOMS_PER_FLOOR + 1):
                        number = f'{floor}{r:02d}'
                        rooms.append({'tenant_id': tenant_id, 'building_id': building.id, 'unit_id': unit.id,
                                      'number': number, 'code': f'{b}-{u}-{number}', 'floor': floor,
                                      'status': 'occupied', 'tags': []})
        rooms = rooms[:residents]
        db.session.execute(sa.insert(Room), rooms)
        room_ids = db.session.execute(sa.select(Room.id).order_by(Room.id)).scalars().all()
        db.session.execute(sa.insert(Resident), [
            {'tenant_id': tenant_id, 'name': f'住户{i}', 'mobile': f'139{i:08d}'} for i in range(residents)])
        resident_ids = db.session.execute(sa.select(Resident.id).order_by(Resident.id)).scalars().all()
        db.session.execute(sa.insert(Occupancy), [
            {'tenant_id': tenant_id, 'room_id': room_id, 'resident_id': resident_id, 'role': 'owner'}
            for room_id, resident_id in zip(room_ids, resident_ids, strict=True)])
        db.session.execute(sa.insert(ChannelPreference), [
            {'tenant_id': tenant_id, 'resident_id': resident_id, 'email': f'r{resident_id}@example.cn',
             'opted_out': []} for resident_id in resident_ids])
        db.session.execute(sa.update(ChannelSetting).where(ChannelSetting.channel.in_(CHANNELS))
                           .values(enabled=True, provider='log'))
        db.session.commit()
    return tenant_id


def _announcement(round_: int) -> int:
    from propsaas.extensions import db
    from propsaas.models_base import utcnow
    from propsaas.notices.models import Announcement
    from propsaas.notices.targeting import Audience

    item = Announcement(title=f'停水通知（第 {round_} 轮）', body_html='<p>明天 9:00-12:00 停水，请提前储水。</p>',
                        category='停水', status='published', audience=Audience().to_json(), for_everyone=True,
                        channels=list(CHANNELS), published_at=utcnow())
    db.session.add(item)
    db.session.commit()
    return item.id


class Counter:
    """Statements SQLAlchemy executes (``before_execute``: one per statement the code issues) and the cursor calls
    they become (``before_cursor_execute``: insertmanyvalues sends a large INSERT in batches)."""

    def __init__(self, engine):
        self.engine, self.statements, self.round_trips = engine, 0, 0

    def _statement(self, *args, **kwargs):
        self.statements += 1

    def _cursor(self, *args, **kwargs):
        self.round_trips += 1

    def __enter__(self):
        import sqlalchemy as sa

        sa.event.listen(self.engine, 'before_execute', self._statement)
        sa.event.listen(self.engine, 'before_cursor_execute', self._cursor)
        return self

    def __exit__(self, *exc):
        import sqlalchemy as sa

        sa.event.remove(self.engine, 'before_execute', self._statement)
        sa.event.remove(self.engine, 'before_cursor_execute', self._cursor)


def _real_path(tenant_id: int, round_: int) -> dict:
    """targeting + fan-out of one announcement, one transaction, committed; timed and counted."""
    from propsaas.extensions import db
    from propsaas.models_base import get_or_404
    from propsaas.notices import targeting
    from propsaas.notices.announcements import content_for
    from propsaas.notices.delivery import fan_out
    from propsaas.notices.models import Announcement
    from propsaas.tenancy.context import tenant_scope
    from propsaas.tenancy.models import Tenant

    with tenant_scope(tenant_id):
        db.session.rollback()
        announcement = get_or_404(Announcement, _announcement(round_))
        tenant = db.session.get(Tenant, tenant_id)
        content = content_for(announcement, tenant)
        with Counter(db.engine) as counter:
            started = time.perf_counter()
            people = targeting.recipients(targeting.Audience.from_json(announcement.audience))
            targeted = time.perf_counter()
            result = fan_out(announcement.source_key, people, content, channels=announcement.channels,
                             urgent=announcement.urgent, announcement_id=announcement.id)
            db.session.commit()
            seconds = time.perf_counter() - started
        return {'seconds': seconds, 'targeting_seconds': targeted - started, 'messages': result.messages,
                'deliveries': result.deliveries, 'statements': counter.statements,
                'round_trips': counter.round_trips}


def _bare(tenant_id: int, round_: int) -> dict:
    """The same rows, same columns, by Core executemany on the session's connection (RLS settings included)."""
    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.models_base import utcnow
    from propsaas.notices.models import ChannelPreference, Delivery, Message
    from propsaas.residents.models import Resident
    from propsaas.tenancy.context import tenant_scope

    messages, deliveries = Message.__table__, Delivery.__table__
    with tenant_scope(tenant_id):
        db.session.rollback()
        people = db.session.execute(sa.select(Resident.id, Resident.mobile, ChannelPreference.email)
                                    .join(ChannelPreference, ChannelPreference.resident_id == Resident.id)
                                    .order_by(Resident.id)).all()
        db.session.commit()
        source_key = f'bench:bare:{round_}'
        params = {'project_name': 'bench', 'title': '停水通知', 'category': '停水'}
        conn = db.session.connection()
        counter = Counter(db.engine).__enter__()
        started = time.perf_counter()
        now = utcnow()
        message_rows = [
            {'tenant_id': tenant_id, 'resident_id': resident_id, 'source_key': source_key, 'announcement_id': None,
             'survey_id': None, 'template_code': None, 'title': '停水通知',
             'body': '明天 9:00-12:00 停水，请提前储水。',
             'short_text': '【bench】停水：停水通知。详情请在住户服务中查看。', 'params': params, 'link': '/notices/0',
             'urgent': False, 'created_at': now} for resident_id, _mobile, _email in people]
        # executemany, then the ids in one SELECT: the fastest way on both databases (INSERT .. RETURNING
        # would go a row at a time on SQLite)
        conn.execute(sa.insert(messages), message_rows)
        ids = dict(conn.execute(sa.select(messages.c.resident_id, messages.c.id)
                                .where(messages.c.tenant_id == tenant_id, messages.c.source_key == source_key)).all())
        delivery_rows = []
        for rid, mobile, email in people:
            message_id = ids[rid]
            for channel, address, status in (('inbox', None, 'sent'), ('sms', mobile, 'queued'),
                                             ('email', email, 'queued')):
                delivery_rows.append({
                    'tenant_id': tenant_id, 'message_id': message_id, 'channel': channel, 'address': address,
                    'status': status, 'attempts': 0, 'next_attempt_at': None, 'last_error': None,
                    'provider_ref': None, 'sent_at': now if status == 'sent' else None, 'created_at': now,
                    'updated_at': now})
        conn.execute(sa.insert(deliveries), delivery_rows)
        db.session.commit()
        seconds = time.perf_counter() - started
        counter.__exit__()
    return {'seconds': seconds, 'messages': len(ids), 'deliveries': len(delivery_rows),
            'round_trips': counter.round_trips}


def _analyze(owner_url: str) -> None:
    """Fresh statistics, as autovacuum would gather after a bulk load (the app role owns no table: the owner runs
    it). Without them the planner guesses at empty tables and targeting can take seconds."""
    import sqlalchemy as sa

    engine = sa.create_engine(normalize(owner_url), isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            # Not messages and deliveries: analysed while empty, the planner would take them for empty for good
            # (foreign-key checks on 15,000 deliveries turn into sequential scans of messages).
            conn.execute(sa.text('ANALYZE buildings, units, rooms, residents, occupancies, channel_preferences, '
                                 'users, channel_settings'))
    finally:
        engine.dispose()
    log('ANALYZE done')


def phase_run(app_url: str, owner_url: str | None, instance: str, residents: str, rounds: str) -> dict:
    from flask_migrate import upgrade

    from propsaas.extensions import db

    app = _app(app_url, owner_url, instance)
    with app.app_context():
        upgrade()
    with app.app_context():
        log(f'building tenants of {SMALL} and {residents} residents')
        small = _build_tenant(f'bench-notify-{SMALL}', SMALL)
        big = _build_tenant('bench-notify-big', int(residents))
        if owner_url:
            _analyze(owner_url)
        counted_small = _real_path(small, 0)
        fanout, bare, statements_big, round_trips_big = None, None, None, None
        for round_ in range(1, int(rounds) + 1):
            log(f'round {round_}: fan-out of {residents}')
            real = _real_path(big, round_)
            if statements_big is None:
                statements_big, round_trips_big = real['statements'], real['round_trips']
            fanout = real if fanout is None or real['seconds'] < fanout['seconds'] else fanout
            log(f'round {round_}: bare Core insert of the same rows')
            plain = _bare(big, round_)
            bare = plain if bare is None or plain['seconds'] < bare['seconds'] else bare
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {'dialect': dialect, 'residents': int(residents), 'fanout': fanout, 'bare': bare,
            'statements': {'small': counted_small['statements'], 'big': statements_big},
            'round_trips': {'small': counted_small['round_trips'], 'big': round_trips_big},
            'small_messages': counted_small['messages']}


def run_phase(*args: str) -> dict:
    return throwaway.run_phase(__file__, *args, relay='[bench-notify]')


# --- report ----------------------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, out: dict) -> None:
    fanout, bare = out['fanout'], out['bare']
    rate = fanout['deliveries'] / fanout['seconds']
    bare_rate = bare['deliveries'] / bare['seconds']
    ratio = rate / bare_rate
    print(f'fanout {label:<11} {rate:>9.0f} deliveries/s   ({fanout["messages"]} messages + {fanout["deliveries"]} '
          f'deliveries in {fanout["seconds"]:.3f} s, of which targeting {fanout["targeting_seconds"]:.3f} s; '
          f'targeting.recipients + delivery.fan_out, one transaction, committed)')
    print(f'bare {label:<13} {bare_rate:>9.0f} deliveries/s   ({bare["messages"]} messages + {bare["deliveries"]} '
          f'deliveries in {bare["seconds"]:.3f} s; Core executemany, same rows and columns, no ORM, no targeting; '
          f'{bare["round_trips"]} cursor round trips)')
    print(f'ratio {label:<12} {ratio:>9.2f}                 (fan-out / bare; target >= {RATIO_TARGET:.2f}: '
          f'{verdict(ratio >= RATIO_TARGET)})')
    small, big = out['statements']['small'], out['statements']['big']
    trips = out['round_trips']
    print(f'statements {label:<7} {SMALL} recipients: {small}, {out["residents"]} recipients: {big}   '
          f'(targeting + fan-out; target: equal: {verdict(small == big)}; cursor round trips {trips["small"]} and '
          f'{trips["big"]}: how the driver sends the bulk INSERTs)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true', help='500 residents, 1 round (for tests/test_bench_notify.py)')
    parser.add_argument('--residents', type=int)
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--rounds', type=int, help='rounds, best kept (default 2; --tiny 1)')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        print(json.dumps({'run': phase_run}[kind](*rest)))
        return 0

    residents = args.residents or (500 if args.tiny else 5_000)
    rounds = args.rounds or (1 if args.tiny else 2)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-notify-') as tmp:
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        load = os.getloadavg()[0]
        print(f'# one announcement to {residents} residents (one per room, each with a mobile and an e-mail), '
              f'channels inbox + {" + ".join(CHANNELS)} (provider log, not dispatched); Python '
              f'{platform.python_version()}; {os.cpu_count()} CPUs, load average {load:.2f}; best of {rounds} '
              f'round(s), each database in its own process')
        results = {}
        instance = Path(tmp) / 'sqlite'
        instance.mkdir()
        log('SQLite')
        results['sqlite'] = run_phase('run', f'sqlite:///{instance / "bench.db"}', '', str(instance),
                                      str(residents), str(rounds))
        if postgres and not problem:
            database = PostgresDatabase(admin_url, 'notify', log)
            try:
                database.create()
                instance = Path(tmp) / 'pg'
                instance.mkdir()
                log('PostgreSQL')
                results['postgresql'] = run_phase('run', database.app_url, database.owner_url, str(instance),
                                                  str(residents), str(rounds))
            finally:
                database.drop()
        report('sqlite', results['sqlite'])
        if not postgres:
            return 0
        if problem:
            print(f'fanout postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', results['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
