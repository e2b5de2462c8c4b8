"""Inspection tasks: generating a year of tasks from the plans against a bare Core insert of the same rows, and a
re-run that must add nothing in a constant number of statements.

    .venv/bin/python scripts/bench/inspections.py [--tiny] [--plans N] [--days N] [--rounds N] [--db URL]
                                                  [--no-postgres]

In one run, on SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, as a superuser: a throwaway
database owned by ``propsaas_owner`` and used by ``propsaas_app``; dropped at the end), each in its own subprocess:

- a project with 8 lifts and N plans (default 200; --tiny 20) of mixed frequencies — daily, twice daily, weekly on
  two days, every 15 days, monthly on the 31st, quarterly — a quarter of them lift plans (one task per lift and
  round), the rest rounds of places;
- time: ``inspections.generation.generate`` for the days (default 365; --tiny 31) from 1 January 2027, committed,
  against a bare ``INSERT`` (SQLAlchemy Core executemany) of exactly the rows it made, on an empty table, committed;
  best of --rounds (default 3); target <= 2.0x;
- statements: a re-run over the same days, with all N plans and with a tenth of them: it must create 0 rows, and
  the two statement counts must be equal.

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
RATIO_TARGET = 2.0
LIFTS = 8
FREQUENCIES = ({'kind': 'daily', 'times': 1}, {'kind': 'daily', 'times': 2}, {'kind': 'weekly', 'weekdays': [0, 3]},
               {'kind': 'every_days', 'days': 15}, {'kind': 'monthly', 'day': 31, 'months': 1},
               {'kind': 'monthly', 'day': 10, 'months': 3})


def log(message: str) -> None:
    print(f'[bench-inspections] {message}', file=sys.stderr, flush=True)


def _app(app_url: str, owner_url: str | None, instance: str):
    return throwaway.make_app('inspections', app_url, owner_url, instance)


def _build_tenant(plans: int) -> tuple[int, list[int]]:
    """A project with LIFTS lifts and ``plans`` plans (the template's removed); (tenant id, plan ids). Committed."""
    from datetime import date

    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.inspections.models import Device, InspectionPlan
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    done = provisioning.create_tenant('bench-inspections', name='基准小区 巡检', template='standard-residential',
                                      admin_email='admin@bench.example', admin_password='Bench-pass-2026')
    db.session.commit()
    tenant_id = done.tenant.id
    with tenant_scope(tenant_id):
        db.session.execute(sa.delete(InspectionPlan))
        db.session.add_all([Device(code=f'DT-{n:02d}', name=f'{n}号电梯', category='lift') for n in range(LIFTS)])
        checklist = [{'label': '运行正常', 'kind': 'check'}]
        rows = [InspectionPlan(code=f'plan_{n}', name=f'计划 {n}', target='lift' if n % 4 == 0 else 'pump_room',
                               frequency=FREQUENCIES[n % len(FREQUENCIES)], starts_on=date(2026, 12, 1),
                               checklist=checklist, points=[], duty='technician') for n in range(plans)]
        db.session.add_all(rows)
        db.session.commit()
        ids = [row.id for row in rows]
    return tenant_id, ids


def _count_statements(func) -> tuple[object, int]:
    import sqlalchemy as sa

    from propsaas.extensions import db

    seen = []

    def record(*args, **kwargs):
        seen.append(1)

    sa.event.listen(db.engine, 'before_cursor_execute', record)
    try:
        result = func()
    finally:
        sa.event.remove(db.engine, 'before_cursor_execute', record)
    return result, len(seen)


def phase_run(app_url: str, owner_url: str | None, instance: str, plans: str, days: str, rounds: str) -> dict:
    from datetime import date, timedelta

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from propsaas.extensions import db
    from propsaas.inspections.generation import generate
    from propsaas.inspections.models import InspectionTask
    from propsaas.tenancy.context import tenant_scope

    app = _app(app_url, owner_url, instance)
    with app.app_context():
        upgrade()
        log(f'building a project with {plans} plans')
        tenant_id, plan_ids = _build_tenant(int(plans))
    first = date(2027, 1, 1)
    last = first + timedelta(days=int(days) - 1)
    columns = [c.name for c in InspectionTask.__table__.columns if c.name != 'id']
    out = {'plans': int(plans), 'days': int(days)}
    app_best = bare_best = None
    with app.app_context(), tenant_scope(tenant_id):
        for _ in range(int(rounds)):
            db.session.execute(sa.delete(InspectionTask))
            db.session.commit()
            started = time.perf_counter()
            report = generate(first, last)
            db.session.commit()
            seconds = time.perf_counter() - started
            app_best = min(app_best or seconds, seconds)
            rows = [dict(row._mapping) for row in db.session.execute(
                sa.select(*(InspectionTask.__table__.c[name] for name in columns)))]
            db.session.execute(sa.delete(InspectionTask))
            db.session.commit()
            started = time.perf_counter()
            db.session.execute(sa.insert(InspectionTask.__table__), rows)
            db.session.commit()
            seconds = time.perf_counter() - started
            bare_best = min(bare_best or seconds, seconds)
        out.update(created=report.created, rows=len(rows), app=app_best, bare=bare_best)
        # the table holds the year's tasks again (the bare insert's): a re-run must add nothing
        again, statements = _count_statements(lambda: generate(first, last))
        db.session.commit()
        fewer, fewer_statements = _count_statements(
            lambda: generate(first, last, plan_ids=plan_ids[:max(len(plan_ids) // 10, 1)]))
        db.session.commit()
        out.update(rerun_created=again.created + fewer.created, rerun=statements, rerun_fewer=fewer_statements,
                   fewer=max(len(plan_ids) // 10, 1))
    with app.app_context():
        out['dialect'] = db.engine.dialect.name
        db.engine.dispose()
    return out


def run_phase(*args: str) -> dict:
    return throwaway.run_phase(__file__, *args, relay='[bench-inspections]')


def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, out: dict) -> None:
    ratio = out['app'] / out['bare']
    print(f'generate {label:<11} {out["app"] * 1000:>9.1f} ms   ({out["plans"]} plans, {out["days"]} days: '
          f'{out["created"]} tasks made by inspections.generation.generate, committed)')
    print(f'bare insert {label:<8} {out["bare"] * 1000:>9.1f} ms   (Core executemany of the same {out["rows"]} rows, '
          f'committed)')
    print(f'generate ratio {label:<5} {ratio:>9.2f}      (generate / bare insert; target <= {RATIO_TARGET:.1f}: '
          f'{verdict(ratio <= RATIO_TARGET)})')
    same = out['rerun'] == out['rerun_fewer']
    print(f're-run {label:<13} {out["rerun_created"]} rows, {out["rerun"]} statements with {out["plans"]} plans, '
          f'{out["rerun_fewer"]} with {out["fewer"]}   (target 0 rows, equal statements: '
          f'{verdict(out["rerun_created"] == 0 and same)})')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true',
                        help='20 plans, 31 days, 1 round (tests/test_bench_inspections.py)')
    parser.add_argument('--plans', type=int)
    parser.add_argument('--days', type=int)
    parser.add_argument('--rounds', type=int)
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        print(json.dumps({'run': phase_run}[kind](*rest)))
        return 0
    plans = args.plans or (20 if args.tiny else 200)
    days = args.days or (31 if args.tiny else 365)
    rounds = args.rounds or (1 if args.tiny else 3)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-inspections-') as tmp:
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        print(f'# inspection tasks: {plans} plans ({LIFTS} lifts), {days} days; Python {platform.python_version()}; '
              f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; best of {rounds} round(s), each '
              f'database in its own process')
        instance = Path(tmp) / 'sqlite'
        instance.mkdir()
        log('SQLite')
        results = {'sqlite': run_phase('run', f'sqlite:///{instance / "bench.db"}', '', str(instance), str(plans),
                                       str(days), str(rounds))}
        if postgres and not problem:
            database = PostgresDatabase(admin_url, 'inspections', log)
            try:
                database.create()
                instance = Path(tmp) / 'pg'
                instance.mkdir()
                log('PostgreSQL')
                results['postgresql'] = run_phase('run', database.app_url, database.owner_url, str(instance),
                                                  str(plans), str(days), str(rounds))
            finally:
                database.drop()
        report('sqlite', results['sqlite'])
        if not postgres:
            return 0
        if problem:
            print(f'inspections postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', results['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
