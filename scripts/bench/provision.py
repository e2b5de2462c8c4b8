"""Provisioning: 100 projects in a row from a delivery template, each the way ``tenants create`` makes it
(``provisioning.create_tenant`` + commit, the first admin's password hashed with argon2). The 100th must not take
longer than the 1st (target <= 1.1x), and every provisioning must run the same number of SQL statements: a cost
that grows with the number of tenants on the platform would show in both.

    .venv/bin/python scripts/bench/provision.py [--tiny] [--tenants N] [--template NAME] [--households N]
                                                [--pack-rounds N] [--db URL] [--no-postgres]

On SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, as a superuser: a throwaway database owned by
``propsaas_owner`` and used by ``propsaas_app``, with row-level security; dropped at the end), each in its own
subprocess. Before the timed run, one provisioning is made and rolled back, so the 1st timed one is not paying for
imports, compiled statements and argon2's first use. Printed: the 1st and the last provisioning, the medians of the
first and the last 10 (--tiny: 12 tenants, medians of 6), each pair with its ratio, and the statements of the 1st and
the last.

Then, in a second subprocess on the same database, the onboarding pack (交付包): a project with N households (default
200, --tiny 10: rooms with a current owner each, building by building) whose pack the real job renders
(``onboarding.pack.render_onboarding_pack``, called inline in the project's tenant scope and committed, as the inline
runner does: its queries, activation codes, QR codes, HTML, layout in batches, merge, PDF written and stored) against
bare WeasyPrint rendering exactly the HTML strings the job handed to WeasyPrint (captured by wrapping
``PdfRenderer.render``): ``HTML(string=..., base_url=static).render(font_config, stylesheets=[documents.css])`` per
string with one FontConfiguration and CSS built in the timed part, as the job builds its renderer, the pages merged
with ``document.copy`` and written with ``write_pdf``. Pages are counted with pypdf in each PDF; pages/s of each and
their ratio (target >= 0.85), best of --pack-rounds (default 2, --tiny 1), the order of the two alternated between
rounds, a gc.collect() before each. Untimed first: a small CJK document (the fonts' first use) and the pack's
templates, translations and segno loaded, as in a worker that has run before.

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
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from scripts.bench import throwaway  # noqa: E402
from scripts.bench.throwaway import PostgresDatabase, normalize, reachable  # noqa: E402

DEFAULT_DB = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
RATIO_TARGET = 1.1
PACK_TARGET = 0.85
ROOMS_PER_FLOOR, FLOORS, UNITS = 4, 10, 2  # 80 households a building
PASSWORD = 'Bench-pass-2026'


def log(message: str) -> None:
    print(f'[bench-provision] {message}', file=sys.stderr, flush=True)


def phase_run(app_url: str, owner_url: str | None, instance: str, tenants: str, template: str) -> dict:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from propsaas.extensions import db
    from propsaas.tenancy import provisioning

    app = throwaway.make_app('provision', app_url, owner_url, instance)
    statements = []

    def record(*args, **kwargs):
        statements.append(1)

    def provision(slug: str) -> None:
        provisioning.create_tenant(slug, name=f'基准项目 {slug}', template=template,
                                   admin_email=f'admin@{slug}.example', admin_password=PASSWORD)

    times, counts = [], []
    with app.app_context():
        upgrade(revision='heads')  # every branch, while parallel migrations wait to be chained
        provision('warm-up')  # imports, compiled statements, argon2's first hash: then nothing of it is kept
        db.session.rollback()
        sa.event.listen(db.engine, 'before_cursor_execute', record)
        try:
            for number in range(1, int(tenants) + 1):
                statements.clear()
                started = time.perf_counter()
                provision(f'bench-{number:04d}')
                db.session.commit()
                times.append(time.perf_counter() - started)
                counts.append(len(statements))
                if number % 25 == 0:
                    log(f'{number} tenants')
        finally:
            sa.event.remove(db.engine, 'before_cursor_execute', record)
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {'times': times, 'statements': counts, 'dialect': dialect, 'template': template}


def _build_households(households: int, template: str) -> int:
    """A project from ``template`` with ``households`` rooms, each with a current owner; its id. Committed."""
    from datetime import date

    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.property.models import Building, Room, Unit
    from propsaas.residents.models import Occupancy, Resident
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    done = provisioning.create_tenant('bench-pack', name='基准小区 交付包', template=template,
                                      admin_email='admin@bench-pack.example', admin_password=None)
    db.session.commit()
    tenant_id = done.tenant.id
    with tenant_scope(tenant_id):
        per_building, rows = ROOMS_PER_FLOOR * FLOORS * UNITS, []
        for b in range(1, -(-households // per_building) + 1):
            building = Building(name=f'{b}栋', floors=FLOORS, has_lift=True, sort_order=b)
            db.session.add(building)
            db.session.flush()
            for u in range(1, UNITS + 1):
                unit = Unit(building_id=building.id, name=f'{u}单元')
                db.session.add(unit)
                db.session.flush()
                rows += [{'tenant_id': tenant_id, 'building_id': building.id, 'unit_id': unit.id,
                          'number': f'{floor}{r:02d}', 'code': f'{b}-{u}-{floor}{r:02d}', 'floor': floor,
                          'status': 'occupied', 'tags': [], 'type': 'residence', 'active': True}
                         for floor in range(1, FLOORS + 1) for r in range(1, ROOMS_PER_FLOOR + 1)]
        db.session.execute(sa.insert(Room), rows[:households])
        room_ids = db.session.execute(sa.select(Room.id).order_by(Room.id)).scalars().all()
        db.session.execute(sa.insert(Resident), [
            {'tenant_id': tenant_id, 'name': f'业主{i}', 'mobile': f'139{i:08d}'} for i in range(households)])
        resident_ids = db.session.execute(sa.select(Resident.id).order_by(Resident.id)).scalars().all()
        db.session.execute(sa.insert(Occupancy), [
            {'tenant_id': tenant_id, 'room_id': room_id, 'resident_id': resident_id, 'role': 'owner',
             'moved_in_on': date(2024, 1, 1)} for room_id, resident_id in zip(room_ids, resident_ids, strict=True)])
        db.session.commit()
    return tenant_id


def _pages(data: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def _warm_up(tenant_id: int) -> None:
    """What a long-running worker has done before: fontconfig's and Pango's first use of the CJK font (which either
    path would pay if it ran first), the pack's templates compiled, the translations and segno loaded. Untimed."""
    from weasyprint import HTML

    from propsaas.documents.pdf import qr_data_uri
    from propsaas.extensions import db
    from propsaas.onboarding import pack
    from propsaas.tenancy.context import tenant_scope
    from propsaas.tenancy.models import Tenant

    HTML(string='<p style="font-family: \'Noto Sans CJK SC\'">交付包 基准 Warm-up 123</p>').write_pdf()
    with tenant_scope(tenant_id):
        tenant = db.session.get(Tenant, tenant_id)
        pack.front_html(tenant, None, 0)
        pack.sheets_html(tenant, [])
        qr_data_uri(pack.activation_url(tenant, 'ABCD-2345'))
        db.session.rollback()


def _pack_once(tenant_id: int, captured: list[str]) -> tuple[float, int]:
    """The real job, inline in the tenant, committed; (seconds, pages of the stored PDF). ``captured`` gets the HTML
    of every document it laid out."""
    from propsaas import storage
    from propsaas.documents.pdf import PdfRenderer
    from propsaas.extensions import db
    from propsaas.onboarding.pack import render_onboarding_pack
    from propsaas.tenancy.context import tenant_scope

    render = PdfRenderer.render
    htmls: list[str] = []

    def capture(self, html: str):
        htmls.append(html)
        return render(self, html)

    PdfRenderer.render = capture
    try:
        with tenant_scope(tenant_id):
            gc.collect()
            started = time.perf_counter()
            result = render_onboarding_pack()
            db.session.commit()
            seconds = time.perf_counter() - started
            data = storage.path_for(result['file']).read_bytes()
    finally:
        PdfRenderer.render = render
    captured[:] = htmls
    return seconds, _pages(data)


def _bare_once(htmls: list[str]) -> tuple[float, int]:
    """Bare WeasyPrint on the same HTML: the same stylesheet and base URL, one font configuration, the documents
    merged as the job merges them; (seconds, pages)."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from propsaas.documents.pdf import STYLESHEET, static_root

    base, css_file = static_root().as_uri() + '/', str(static_root() / STYLESHEET)
    gc.collect()
    started = time.perf_counter()
    fonts = FontConfiguration()
    css = CSS(filename=css_file, font_config=fonts)
    documents = [HTML(string=html, base_url=base).render(font_config=fonts, stylesheets=[css]) for html in htmls]
    document = documents[0]
    if len(documents) > 1:
        document = document.copy([page for doc in documents for page in doc.pages])
    data = document.write_pdf()
    seconds = time.perf_counter() - started
    return seconds, _pages(data)


def phase_pack(app_url: str, owner_url: str | None, instance: str, households: str, rounds: str,
               template: str) -> dict:
    from flask_migrate import upgrade

    from propsaas.extensions import db

    app = throwaway.make_app('provision-pack', app_url, owner_url, instance)
    with app.app_context():
        upgrade(revision='heads')
        log(f'a project with {households} households')
        tenant_id = _build_households(int(households), template)
        _warm_up(tenant_id)
        htmls: list[str] = []
        best: dict = {}
        for round_ in range(1, int(rounds) + 1):
            order = ('pack', 'bare') if round_ % 2 else ('bare', 'pack')  # the first round needs the job's HTML
            for which in order:
                seconds, pages = _pack_once(tenant_id, htmls) if which == 'pack' else _bare_once(htmls)
                log(f'round {round_}: {"the onboarding pack job" if which == "pack" else "bare WeasyPrint"}, '
                    f'{pages} pages in {seconds:.2f} s')
                if seconds < best.get(which, (float('inf'), 0))[0]:
                    best[which] = (seconds, pages)
        documents = len(htmls)
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {'dialect': dialect, 'households': int(households), 'documents': documents,
            'pack': best['pack'], 'bare': best['bare']}


def run_phase(*args: str) -> dict:
    return throwaway.run_phase(__file__, *args, relay='[bench-provision]')


def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, out: dict) -> None:
    times, counts = out['times'], out['statements']
    n = len(times)
    window = min(10, max(n // 2, 1))
    first, last = times[0], times[-1]
    head, tail = statistics.median(times[:window]), statistics.median(times[-window:])
    print(f'provision {label:<10} 1st {first * 1000:8.1f} ms   {n}th {last * 1000:8.1f} ms   ratio '
          f'{last / first:5.2f}   (target <= {RATIO_TARGET}: {verdict(last / first <= RATIO_TARGET)})')
    print(f'median {label:<13} first {window} {head * 1000:8.1f} ms   last {window} {tail * 1000:8.1f} ms   ratio '
          f'{tail / head:5.2f}   (target <= {RATIO_TARGET}: {verdict(tail / head <= RATIO_TARGET)})')
    same = len(set(counts)) == 1
    print(f'statements {label:<9} {counts[0]} for the 1st, {counts[-1]} for the {n}th, '
          f'{min(counts)}-{max(counts)} in all   (target: the same for every tenant: {verdict(same)})')


def report_pack(label: str, out: dict) -> None:
    (seconds, pages), (bare_seconds, bare_pages) = out['pack'], out['bare']
    rate, bare_rate = pages / seconds, bare_pages / bare_seconds
    print(f'{"pack pages/s " + label:<35}{rate:7.1f}   ({pages} pages in {seconds:.2f} s; render_onboarding_pack: '
          f'{out["households"]} households, {out["documents"]} layout passes merged, stored, committed)')
    print(f'{"bare weasyprint pages/s " + label:<35}{bare_rate:7.1f}   ({bare_pages} pages in {bare_seconds:.2f} s; '
          f'the same HTML, stylesheet and fonts, merged, write_pdf)')
    print(f'{"pack ratio " + label:<35}{rate / bare_rate:7.2f}   (pack / bare pages/s; target >= {PACK_TARGET}: '
          f'{verdict(rate / bare_rate >= PACK_TARGET)})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true', help='12 tenants (tests/test_bench_provision.py)')
    parser.add_argument('--tenants', type=int)
    parser.add_argument('--template', default='standard-residential')
    parser.add_argument('--households', type=int, help='households in the onboarding pack (default 200; --tiny 10)')
    parser.add_argument('--pack-rounds', type=int, help='onboarding pack rounds, best kept (default 2; --tiny 1)')
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        print(json.dumps({'run': phase_run, 'pack': phase_pack}[kind](*rest)))
        return 0
    tenants = args.tenants or (12 if args.tiny else 100)
    households = args.households or (10 if args.tiny else 200)
    pack_rounds = args.pack_rounds or (1 if args.tiny else 2)
    if tenants < 2:
        parser.error('--tenants must be at least 2')
    pack = (str(households), str(pack_rounds), args.template)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-provision-') as tmp:
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        print(f'# provisioning {tenants} tenants in a row from {args.template} (create_tenant + commit each, '
              f'argon2 included); Python {platform.python_version()}; {os.cpu_count()} CPUs, load average '
              f'{os.getloadavg()[0]:.2f}; each database in its own process')
        print(f'# onboarding pack of {households} households, best of {pack_rounds}, against bare WeasyPrint on the '
              f'same HTML; its own process after the provisioning')
        instance = Path(tmp) / 'sqlite'
        instance.mkdir()
        log('SQLite')
        sqlite_url = f'sqlite:///{instance / "bench.db"}'
        results = {'sqlite': run_phase('run', sqlite_url, '', str(instance), str(tenants), args.template)}
        log('SQLite: onboarding pack')
        packs = {'sqlite': run_phase('pack', sqlite_url, '', str(instance), *pack)}
        if postgres and not problem:
            database = PostgresDatabase(admin_url, 'provision', log)
            try:
                database.create()
                instance = Path(tmp) / 'pg'
                instance.mkdir()
                log('PostgreSQL')
                results['postgresql'] = run_phase('run', database.app_url, database.owner_url, str(instance),
                                                  str(tenants), args.template)
                log('PostgreSQL: onboarding pack')
                packs['postgresql'] = run_phase('pack', database.app_url, database.owner_url, str(instance), *pack)
            finally:
                database.drop()
        report('sqlite', results['sqlite'])
        report_pack('sqlite', packs['sqlite'])
        if not postgres:
            return 0
        if problem:
            print(f'provision postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', results['postgresql'])
        report_pack('postgresql', packs['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
