"""Bill run throughput: a period's bills for N rooms × 3 fee items by the real bill run against a bare Core script.

    .venv/bin/python scripts/bench/billing.py [--tiny] [--rooms N] [--rounds N] [--db URL] [--no-postgres]

In one run, on SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, default the test suite's server,
as a superuser: a throwaway database owned by ``propsaas_owner`` and used by ``propsaas_app``, like
tests/conftest.py; dropped at the end), each database in its own subprocess:

- builds a tenant with N rooms (default 5,000; --tiny 500), each handed over, with an area and an owner, and one
  parking space per room, with three fee items: property fee by area (2.35/m²/month, a building-scoped rule at 2.50
  for building 1), parking 60.00 per space per month, rubbish 15.00 per room per month (the template's items are
  switched off); and a second tenant with 50 rooms built the same way;
- (a) bill run: the real path — ``runs.missing`` (rooms, payers, rules, what is billed already) + ``runs.issue_bills``
  (numbers, bills, lines) for one period, one transaction, committed: 2 N bills and 3 N lines;
- (b) bare: the same arithmetic (Decimal, half-up to fen, the building's rate) and the same rows inserted by
  SQLAlchemy Core executemany on the session's connection (no ORM objects, no rule book, no skips), committed;
- (a) and (b) alternate for --rounds rounds (default 2; --tiny 1), each round on a fresh period, best kept;
- on PostgreSQL runs ANALYZE (as the owner) on the tables it loaded;
- counts the statements of the real path for the 50-room tenant and for the N-room one.

Prints lines/s of each, the ratio run/bare time (target <= 3.0) and both statement counts (target: big <= 1.1 ×
small). Never asserts a time; exits 0 whenever it could measure. Progress goes to stderr, the figures to stdout.

PDFs (SQLite process only: rendering does not depend on the database), on a third tenant whose bill run has
``--pdf-bills`` bills (default 100; --tiny 10), each figure against a bare WeasyPrint baseline in the same round,
best of the rounds:

- print pack: ``documents.render_print_pack`` (load, HTML, layout, one PDF written) in pages/s, against bare
  WeasyPrint rendering the same HTML as one document (``HTML(string).write_pdf(stylesheets, font_config)``, fonts
  and stylesheet made for it as any one-off render does); ratio target >= 0.85;
- per-household PDFs: ``documents.render_bill_pdfs`` (a file per bill) in PDFs/s, against bare WeasyPrint rendering
  one document per bill (one FontConfiguration and CSS reused, the bills' HTML prepared beforehand); target >= 0.85.
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
RATIO_TARGET = 3.0
STATEMENTS_TARGET = 1.1
PDF_TARGET = 0.85
SMALL = 50
ROOMS_PER_FLOOR, FLOORS, UNITS = 4, 25, 2  # 200 rooms a building


def log(message: str) -> None:
    print(f'[bench-billing] {message}', file=sys.stderr, flush=True)


# --- the phase (its own subprocess per database) -----------------------------------------------------------------

def _app(app_url: str, owner_url: str | None, instance: str):
    return throwaway.make_app('billing', app_url, owner_url, instance)


def _area(i: int):
    from decimal import Decimal

    return Decimal(6000 + (i * 37) % 9000) / 100  # 60.00 .. 149.99 m²


def _build_tenant(slug: str, rooms: int) -> int:
    """A tenant with ``rooms`` rooms (owner, area, handed over), a space each, three fee items. Committed."""
    from datetime import date

    import sqlalchemy as sa

    from propsaas.billing.models import BillingRule, FeeItem
    from propsaas.extensions import db
    from propsaas.property.models import Building, ParkingSpace, Room, Unit
    from propsaas.residents.models import Occupancy, Resident
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    done = provisioning.create_tenant(slug, name=f'基准小区 {slug}', template='standard-residential',
                                      admin_email=f'admin@{slug}.cn', admin_password=None)
    db.session.commit()
    tenant_id = done.tenant.id
    with tenant_scope(tenant_id):
        db.session.execute(sa.update(FeeItem).values(active=False))
        per_building = ROOMS_PER_FLOOR * FLOORS * UNITS
        rows, first_building = [], None
        for b in range(1, -(-rooms // per_building) + 1):
            building = Building(name=f'{b}栋', floors=FLOORS, has_lift=True)
            db.session.add(building)
            db.session.flush()
            first_building = first_building or building.id
            for u in range(1, UNITS + 1):
                unit = Unit(building_id=building.id, name=f'{u}单元')
                db.session.add(unit)
                db.session.flush()
                for floor in range(1, FLOORS + 1):
                    for r in range(1, ROOMS_PER_FLOOR + 1):
                        number = f'{floor}{r:02d}'
                        rows.append({'tenant_id': tenant_id, 'building_id': building.id, 'unit_id': unit.id,
                                     'number': number, 'code': f'{b}-{u}-{number}', 'floor': floor,
                                     'area_m2': _area(len(rows)), 'billing_starts_on': date(2025, 1, 1),
                                     'status': 'occupied', 'tags': [], 'type': 'residence', 'active': True})
        db.session.execute(sa.insert(Room), rows[:rooms])
        room_ids = db.session.execute(sa.select(Room.id).order_by(Room.id)).scalars().all()
        db.session.execute(sa.insert(Resident), [
            {'tenant_id': tenant_id, 'name': f'业主{i}', 'mobile': f'139{i:08d}'} for i in range(rooms)])
        resident_ids = db.session.execute(sa.select(Resident.id).order_by(Resident.id)).scalars().all()
        db.session.execute(sa.insert(Occupancy), [
            {'tenant_id': tenant_id, 'room_id': room_id, 'resident_id': resident_id, 'role': 'owner'}
            for room_id, resident_id in zip(room_ids, resident_ids, strict=True)])
        db.session.execute(sa.insert(ParkingSpace), [
            {'tenant_id': tenant_id, 'code': f'B1-{i:05d}', 'room_id': room_id, 'kind': 'rented', 'plates': [],
             'active': True} for i, room_id in enumerate(room_ids)])
        fee = FeeItem(code='bench_property', name='物业服务费', charging='area', rate='2.35', applies_to='room',
                      sort_order=1)
        parking = FeeItem(code='bench_parking', name='车位管理费', charging='fixed', amount_fen=6000,
                          applies_to='parking_space', sort_order=2)
        rubbish = FeeItem(code='bench_rubbish', name='生活垃圾清运费', charging='fixed', amount_fen=1500,
                          applies_to='room', sort_order=3)
        db.session.add_all([fee, parking, rubbish])
        db.session.flush()
        db.session.add(BillingRule(fee_item_id=fee.id, scope='building', building_id=first_building, rate='2.50',
                                   effective_from=date(2025, 1, 1)))
        db.session.commit()
    return tenant_id


class Counter:
    """Statements SQLAlchemy executes (``before_execute``) and the cursor calls they become."""

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


def _period(round_: int) -> str:
    return f'{2025 + round_ // 12}-{round_ % 12 + 1:02d}'


def _real_path(tenant_id: int, round_: int) -> dict:
    """runs.missing + runs.issue_bills for one period, one transaction, committed; timed and counted."""
    from datetime import date

    from propsaas.billing import runs
    from propsaas.billing.models import BillRun
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope
    from propsaas.tenancy.models import Tenant

    period = _period(round_)
    with tenant_scope(tenant_id):
        db.session.rollback()
        tenant = db.session.get(Tenant, tenant_id)
        run = BillRun(period=period, due_on=date(int(period[:4]), int(period[5:]), 28), status='running',
                      fee_item_ids=[], summary={})
        db.session.add(run)
        db.session.commit()
        with Counter(db.engine) as counter:
            started = time.perf_counter()
            result = runs.missing(tenant, period)
            outcome = runs.issue_bills(run, tenant, result)
            run.status, run.bill_count, run.total_fen = 'done', len(outcome.bills), outcome.total_fen
            db.session.commit()
            seconds = time.perf_counter() - started
        return {'seconds': seconds, 'bills': len(outcome.bills), 'lines': len(result.lines),
                'total_fen': outcome.total_fen, 'statements': counter.statements, 'round_trips': counter.round_trips,
                'run_id': run.id}


def _bare(tenant_id: int, round_: int) -> dict:
    """The same arithmetic and rows by Core: rooms and spaces read, amounts computed, bills and lines inserted."""
    from datetime import date
    from decimal import ROUND_HALF_UP, Decimal

    import sqlalchemy as sa

    from propsaas.billing.models import Bill, BillingRule, BillLine, FeeItem
    from propsaas.extensions import db
    from propsaas.models_base import utcnow
    from propsaas.property.models import ParkingSpace, Room
    from propsaas.residents.models import Occupancy
    from propsaas.tenancy.context import tenant_scope

    period = _period(round_ + 100)
    bills, lines = Bill.__table__, BillLine.__table__
    with tenant_scope(tenant_id):
        db.session.rollback()
        conn = db.session.connection()
        counter = Counter(db.engine).__enter__()
        started = time.perf_counter()
        t = tenant_id
        items = {code: (fid, rate, amount) for code, fid, rate, amount in conn.execute(
            sa.select(FeeItem.code, FeeItem.id, FeeItem.rate, FeeItem.amount_fen).where(
                FeeItem.__table__.c.tenant_id == t, FeeItem.active.is_(True)))}
        rules = {b: Decimal(r) for b, r in conn.execute(sa.select(BillingRule.building_id, BillingRule.rate).where(
            BillingRule.__table__.c.tenant_id == t))}
        owners = dict(conn.execute(sa.select(Occupancy.room_id, Occupancy.resident_id).where(
            Occupancy.__table__.c.tenant_id == t, Occupancy.moved_out_on.is_(None))).all())
        rooms = conn.execute(sa.select(Room.id, Room.building_id, Room.area_m2).where(
            Room.__table__.c.tenant_id == t, Room.active.is_(True)).order_by(Room.code)).all()
        spaces = conn.execute(sa.select(ParkingSpace.id, ParkingSpace.room_id).where(
            ParkingSpace.__table__.c.tenant_id == t)).all()
        base = Decimal(items['bench_property'][1])
        now, today, due = utcnow(), date.today(), date(int(period[:4]), int(period[5:]), 28)
        bill_rows, pending = [], []
        for n, (room_id, building_id, area) in enumerate(rooms, start=1):
            rate = rules.get(building_id, base)
            fee = int((Decimal(area) * rate * 1 / Decimal('0.01')).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            number = f'ZX{period.replace("-", "")}-{n:06d}'
            amounts = [(items['bench_property'][0], fee, {'formula': f'{area} × {rate}'}),
                       (items['bench_rubbish'][0], items['bench_rubbish'][2], {'formula': 'fixed'})]
            bill_rows.append({'tenant_id': t, 'number': number, 'run_id': None, 'room_id': room_id,
                              'parking_space_id': None, 'payer_resident_id': owners.get(room_id), 'period': period,
                              'issued_on': today, 'due_on': due, 'status': 'unpaid',
                              'total_fen': sum(a for _, a, _ in amounts), 'created_at': now})
            pending.append((number, f'room:{room_id}', amounts))
        for n, (space_id, room_id) in enumerate(spaces, start=len(rooms) + 1):
            number = f'ZX{period.replace("-", "")}-{n:06d}'
            amount = items['bench_parking'][2]
            bill_rows.append({'tenant_id': t, 'number': number, 'run_id': None, 'room_id': room_id,
                              'parking_space_id': space_id, 'payer_resident_id': owners.get(room_id),
                              'period': period, 'issued_on': today, 'due_on': due, 'status': 'unpaid',
                              'total_fen': amount, 'created_at': now})
            pending.append((number, f'space:{space_id}', [(items['bench_parking'][0], amount, {'formula': 'fixed'})]))
        conn.execute(sa.insert(bills), bill_rows)
        ids = dict(conn.execute(sa.select(bills.c.number, bills.c.id).where(bills.c.tenant_id == t,
                                                                            bills.c.period == period)).all())
        line_rows = [{'tenant_id': t, 'bill_id': ids[number], 'fee_item_id': fid, 'subject': subject,
                      'period': period, 'description': f'bench {period}', 'amount_fen': amount, 'basis': basis,
                      'voided': False}
                     for number, subject, amounts in pending for fid, amount, basis in amounts]
        conn.execute(sa.insert(lines), line_rows)
        db.session.commit()
        seconds = time.perf_counter() - started
        counter.__exit__()
    return {'seconds': seconds, 'bills': len(bill_rows), 'lines': len(line_rows), 'round_trips': counter.round_trips}


def _pdf_round(tenant_id: int, run_id: int) -> dict:
    """The two PDF jobs and their bare WeasyPrint baselines, timed back to back (baselines' HTML made untimed)."""
    import sqlalchemy as sa
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from propsaas.billing import documents
    from propsaas.billing.models import Bill
    from propsaas.documents.pdf import STYLESHEET, static_root
    from propsaas.extensions import db
    from propsaas.tenancy.context import tenant_scope
    from propsaas.tenancy.models import Tenant

    with tenant_scope(tenant_id):
        db.session.rollback()
        tenant = db.session.get(Tenant, tenant_id)
        sheets = documents.sheets(documents.load_bills(sa.select(Bill).where(Bill.run_id == run_id)), tenant)
        pack_html = documents.bills_html(sheets, tenant)
        bill_htmls = [documents.bills_html([sheet], tenant) for sheet in sheets]
        db.session.rollback()
        base = static_root().as_uri() + '/'
        css_file = str(static_root() / STYLESHEET)

        started = time.perf_counter()
        pack = documents.render_print_pack(run_id)
        pack_seconds = time.perf_counter() - started
        db.session.rollback()

        started = time.perf_counter()
        fonts = FontConfiguration()
        bare_pack = HTML(string=pack_html, base_url=base).render(
            font_config=fonts, stylesheets=[CSS(filename=css_file, font_config=fonts)])
        bare_pack.write_pdf()
        bare_pack_seconds = time.perf_counter() - started

        started = time.perf_counter()
        each = documents.render_bill_pdfs(run_id)
        each_seconds = time.perf_counter() - started
        db.session.rollback()

        started = time.perf_counter()
        fonts = FontConfiguration()
        css = CSS(filename=css_file, font_config=fonts)
        for html in bill_htmls:
            HTML(string=html, base_url=base).write_pdf(font_config=fonts, stylesheets=[css])
        bare_each_seconds = time.perf_counter() - started
    return {'pages': pack['pages'], 'bare_pages': len(bare_pack.pages), 'pack': pack_seconds,
            'bare_pack': bare_pack_seconds, 'files': each['bills'], 'bare_files': len(bill_htmls),
            'each': each_seconds, 'bare_each': bare_each_seconds}


def _pdf_bench(pdf_bills: int, rounds: int) -> dict:
    """A tenant whose bill run has ``pdf_bills`` bills (a room's and its space's), then the PDF rounds, best kept."""
    tenant_id = _build_tenant('bench-billing-pdf', max(pdf_bills // 2, 1))
    run_id = _real_path(tenant_id, 0)['run_id']
    best: dict = {}
    for round_ in range(1, rounds + 1):
        log(f'round {round_}: PDFs of {pdf_bills} bills (print pack, per household, and bare WeasyPrint)')
        figures = _pdf_round(tenant_id, run_id)
        for key in ('pack', 'bare_pack', 'each', 'bare_each'):
            best[key] = min(best.get(key, figures[key]), figures[key])
        best.update({k: figures[k] for k in ('pages', 'bare_pages', 'files', 'bare_files')})
    return best


def _analyze(owner_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(normalize(owner_url), isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text('ANALYZE buildings, units, rooms, residents, occupancies, parking_spaces, '
                                 'fee_items, billing_rules'))
    finally:
        engine.dispose()
    log('ANALYZE done')


def phase_run(app_url: str, owner_url: str | None, instance: str, rooms: str, rounds: str,
              pdf_bills: str = '0') -> dict:
    from flask_migrate import upgrade

    from propsaas.extensions import db

    app = _app(app_url, owner_url, instance)
    with app.app_context():
        upgrade()
    with app.app_context():
        log(f'building tenants of {SMALL} and {rooms} rooms')
        small = _build_tenant(f'bench-billing-{SMALL}', SMALL)
        big = _build_tenant('bench-billing-big', int(rooms))
        if owner_url:
            _analyze(owner_url)
        counted_small = _real_path(small, 0)
        real_best, bare_best, statements_big, round_trips_big = None, None, None, None
        for round_ in range(1, int(rounds) + 1):
            log(f'round {round_}: bill run of {rooms} rooms')
            real = _real_path(big, round_)
            if statements_big is None:
                statements_big, round_trips_big = real['statements'], real['round_trips']
            real_best = real if real_best is None or real['seconds'] < real_best['seconds'] else real_best
            log(f'round {round_}: bare Core computation and insert of the same rows')
            plain = _bare(big, round_)
            bare_best = plain if bare_best is None or plain['seconds'] < bare_best['seconds'] else bare_best
        pdf = _pdf_bench(int(pdf_bills), int(rounds)) if int(pdf_bills) else None
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {'dialect': dialect, 'rooms': int(rooms), 'run': real_best, 'bare': bare_best, 'pdf': pdf,
            'statements': {'small': counted_small['statements'], 'big': statements_big},
            'round_trips': {'small': counted_small['round_trips'], 'big': round_trips_big},
            'small_lines': counted_small['lines']}


def run_phase(*args: str) -> dict:
    return throwaway.run_phase(__file__, *args, relay='[bench-billing]')


# --- report ----------------------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, out: dict) -> None:
    run, bare = out['run'], out['bare']
    rate, bare_rate = run['lines'] / run['seconds'], bare['lines'] / bare['seconds']
    ratio = run['seconds'] / bare['seconds']
    print(f'billrun {label:<11} {rate:>9.0f} lines/s   ({run["bills"]} bills + {run["lines"]} lines in '
          f'{run["seconds"]:.3f} s; runs.missing + runs.issue_bills, one transaction, committed)')
    print(f'bare {label:<14} {bare_rate:>9.0f} lines/s   ({bare["bills"]} bills + {bare["lines"]} lines in '
          f'{bare["seconds"]:.3f} s; Core select + Decimal arithmetic + executemany, no ORM; '
          f'{bare["round_trips"]} cursor round trips)')
    print(f'ratio {label:<13} {ratio:>9.2f}           (bill run time / bare time; target <= {RATIO_TARGET:.1f}: '
          f'{verdict(ratio <= RATIO_TARGET)})')
    small, big = out['statements']['small'], out['statements']['big']
    trips = out['round_trips']
    print(f'statements {label:<8} {SMALL} rooms: {small}, {out["rooms"]} rooms: {big}   (bill run; target '
          f'<= {STATEMENTS_TARGET}x: {verdict(big <= small * STATEMENTS_TARGET)}; cursor round trips '
          f'{trips["small"]} and {trips["big"]})')


def report_pdf(pdf: dict) -> None:
    pack, bare_pack = pdf['pages'] / pdf['pack'], pdf['bare_pages'] / pdf['bare_pack']
    each, bare_each = pdf['files'] / pdf['each'], pdf['bare_files'] / pdf['bare_each']
    print(f'pdf pack            {pack:>9.1f} pages/s   ({pdf["pages"]} pages in {pdf["pack"]:.2f} s; '
          f'render_print_pack: load, HTML, layout, one PDF written)')
    print(f'pdf pack bare       {bare_pack:>9.1f} pages/s   ({pdf["bare_pages"]} pages in {pdf["bare_pack"]:.2f} s; '
          f'WeasyPrint, the same HTML as one document)')
    print(f'pdf pack ratio      {pack / bare_pack:>9.2f}           (pages/s vs bare; target >= {PDF_TARGET}: '
          f'{verdict(pack / bare_pack >= PDF_TARGET)})')
    print(f'pdf bills           {each:>9.1f} PDFs/s    ({pdf["files"]} files in {pdf["each"]:.2f} s; '
          f'render_bill_pdfs: batches laid out once, each bill cut out and written)')
    print(f'pdf bills bare      {bare_each:>9.1f} PDFs/s    ({pdf["bare_files"]} files in {pdf["bare_each"]:.2f} s; '
          f'WeasyPrint, one document per bill, fonts and CSS reused)')
    print(f'pdf bills ratio     {each / bare_each:>9.2f}           (PDFs/s vs bare; target >= {PDF_TARGET}: '
          f'{verdict(each / bare_each >= PDF_TARGET)})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true', help='500 rooms, 1 round (for tests/test_bench_billing.py)')
    parser.add_argument('--rooms', type=int)
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--rounds', type=int, help='rounds, best kept (default 2; --tiny 1)')
    parser.add_argument('--pdf-bills', type=int, help='bills in the PDF figures (default 100; --tiny 10; 0: none)')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        print(json.dumps({'run': phase_run}[kind](*rest)))
        return 0

    rooms = args.rooms or (500 if args.tiny else 5_000)
    rounds = args.rounds or (1 if args.tiny else 2)
    pdf_bills = args.pdf_bills if args.pdf_bills is not None else (10 if args.tiny else 100)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-billing-') as tmp:
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        load = os.getloadavg()[0]
        print(f'# a bill run of {rooms} rooms, each with an owner and a parking space, 3 fee items (property fee '
              f'by area, parking per space, rubbish fixed): {2 * rooms} bills, {3 * rooms} lines; Python '
              f'{platform.python_version()}; {os.cpu_count()} CPUs, load average {load:.2f}; best of {rounds} '
              f'round(s), each database in its own process')
        results = {}
        instance = Path(tmp) / 'sqlite'
        instance.mkdir()
        log('SQLite')
        results['sqlite'] = run_phase('run', f'sqlite:///{instance / "bench.db"}', '', str(instance), str(rooms),
                                      str(rounds), str(pdf_bills))
        if postgres and not problem:
            database = PostgresDatabase(admin_url, 'billing', log)
            try:
                database.create()
                instance = Path(tmp) / 'pg'
                instance.mkdir()
                log('PostgreSQL')
                results['postgresql'] = run_phase('run', database.app_url, database.owner_url, str(instance),
                                                  str(rooms), str(rounds))
            finally:
                database.drop()
        report('sqlite', results['sqlite'])
        if results['sqlite']['pdf']:
            report_pdf(results['sqlite']['pdf'])
        if not postgres:
            return 0
        if problem:
            print(f'billrun postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', results['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
