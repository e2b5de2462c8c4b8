"""Residents import throughput: the full import of a messy .xlsx against a bare openpyxl read of the same file.

    .venv/bin/python scripts/bench/import.py [--tiny] [--rows N] [--rounds N] [--db URL] [--no-postgres]

In one run:

- generates an .xlsx of N resident rows (default 10,000; --tiny 500) with the values offices really type:
  rooms as '301', '301室', '1-2-301', '1栋2单元301'; buildings '1栋' or 1; phones with spaces, dashes, +86 and
  full-width digits; dates as Excel dates, '2024/05/01', '2024年05月01日' and ISO; areas as numbers or '89.5㎡';
  业主/租户/家属; about 0.5% bad rows and 0.5% duplicates; a merged title row above the header;
- (a) bare: ``openpyxl.load_workbook(read_only=True)`` and iterate every row (values only), nothing else;
- (b) import: the import's own pipeline end to end on a fresh tenant of a throwaway database: content check,
  header match, normalise, classify against the database (dedupe), bulk insert of buildings, units, rooms,
  residents and occupancies, commit — ``import_services.analyse`` + ``write_rows``, what the commit job runs;
  then, for information, the whole product flow (upload + preview job + commit job) on a second tenant;
- on SQLite (a temp file) and, when reachable, on PostgreSQL (``--db``, default the test suite's server, as a
  superuser: a throwaway database owned by ``propsaas_owner`` and used by ``propsaas_app``, like
  tests/conftest.py; dropped at the end);
- each measurement runs in its own subprocess, so its peak memory (VmHWM) is its own; bare and import
  alternate for --rounds rounds (default 2) and the best of each is kept, like timeit.

Prints rows/s of each, the ratio import/bare (target >= 0.50), the peak memory of each (target: import <= 2 x
bare + 100 MB; judged on what the import adds to the app process, which holds about 120 MB of Flask, SQLAlchemy,
openpyxl ... before reading a byte, and shown for the whole process too) and the number of INSERT statements
(target: far fewer than rows). Never asserts a time; exits 0
whenever it could measure. Progress goes to stderr, the figures to stdout.
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
import random  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from scripts.bench import throwaway  # noqa: E402
from scripts.bench.throwaway import PostgresDatabase, normalize, reachable  # noqa: E402

DEFAULT_DB = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
RATIO_TARGET = 0.50
MEMORY_FACTOR, MEMORY_EXTRA_MB = 2, 100

SURNAMES = ('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈'
    '姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤')
GIVEN = ('伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱'
    '妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉'
    '眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊'
    '亚宜可姬舒影荔枝思丽')
HEADER = ['楼栋号', '单元', '房号', '建筑面积(㎡)', '业主姓名', '联系电话', '身份', '入住时间', '备注']


def log(message: str) -> None:
    print(f'[bench-import] {message}', file=sys.stderr, flush=True)


# --- the file ----------------------------------------------------------------------------------------------------

def _phone(rng: random.Random) -> str:
    digits = f'1{rng.choice("3456789")}{rng.randrange(10**9):09d}'
    style = rng.randrange(6)
    if style == 0:
        return f'+86 {digits}'
    if style == 1:
        return f'{digits[:3]} {digits[3:7]} {digits[7:]}'
    if style == 2:
        return f'{digits[:3]}-{digits[3:7]}-{digits[7:]}'
    if style == 3:
        return digits.translate(str.maketrans('0123456789', '０１２３４５６７８９'))
    return digits


def _date(rng: random.Random):
    day = datetime(2010, 1, 1) + timedelta(days=rng.randrange(5000))
    style = rng.randrange(4)
    if style == 0:
        return day
    if style == 1:
        return day.strftime('%Y/%m/%d')
    if style == 2:
        return day.strftime('%Y年%m月%d日')
    return day.date().isoformat()


def _room_cells(rng: random.Random, building: int, unit: int, number: str) -> list:
    b = f'{building}栋' if rng.random() < 0.5 else building
    u = f'{unit}单元' if rng.random() < 0.5 else unit
    style = rng.randrange(4)
    room = {0: number, 1: f'{number}室', 2: f'{building}-{unit}-{number}', 3: f'{building}栋{unit}单元{number}'}[style]
    return [b, u, room]


def generate_rows(n: int, seed: int = 42) -> list[list]:
    """``n`` resident rows over 20 buildings x 3 units x 30 floors x 4 rooms, 1-2 people per room."""
    rng = random.Random(seed)
    rows: list[list] = []
    rooms = [(b, u, f'{floor}{r:02d}') for b in range(1, 21) for u in range(1, 4) for floor in range(1, 31)
             for r in range(1, 5)]
    rng.shuffle(rooms)
    room_index = 0
    while len(rows) < n:
        building, unit, number = rooms[room_index % len(rooms)]
        room_index += 1
        people = 1 if rng.random() < 0.6 else 2
        for person in range(people):
            if len(rows) >= n:
                break
            area = round(rng.choice((68.5, 89.32, 95.0, 112.76, 128.4)) + rng.randrange(3), 2)
            role = ('业主' if rng.random() < 0.8 else '租户') if person == 0 else '家属'
            row = _room_cells(rng, building, unit, number) + [
                area if rng.random() < 0.7 else f'{area}㎡',
                rng.choice(SURNAMES) + ''.join(rng.choice(GIVEN) for _ in range(rng.randrange(1, 3))),
                _phone(rng), role, _date(rng), '与业主同住' if person else None]
            roll = rng.random()
            if roll < 0.002:
                row[5] = '1381234'  # too short
            elif roll < 0.004:
                row[3] = '八十'
            elif roll < 0.005:
                row[7] = '2020-13-45'
            elif roll < 0.010 and rows:
                row = list(rng.choice(rows))  # a duplicate of an earlier row
            rows.append(row)
    return rows


def write_xlsx(path: Path, rows: list[list]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet('业主信息')
    sheet.append(['阳光花园业主信息表（基准测试）'])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    sheet.append([])
    sheet.append(['合计', None, None, None, f'{len(rows)}户'])
    notes = book.create_sheet('说明')
    notes.append(['身份：业主/租户/家属；日期格式不限'])
    book.save(path)


# --- phases (each in its own subprocess) ---------------------------------------------------------------------------

def peak_mb() -> float:
    """This process's peak resident memory. On Linux VmHWM: ``ru_maxrss`` survives exec, so a child would report
    its parent's size at fork time."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def phase_bare(path: str) -> dict:
    from openpyxl import load_workbook

    start_mb = peak_mb()
    started = time.perf_counter()
    book = load_workbook(path, read_only=True, data_only=True)
    rows = 0
    for sheet in book.worksheets:
        for _values in sheet.iter_rows(values_only=True):
            rows += 1
    book.close()
    seconds = time.perf_counter() - started
    return {'seconds': seconds, 'rows': rows, 'peak_mb': peak_mb(), 'start_mb': start_mb}


def _app(app_url: str, owner_url: str | None, instance: str):
    return throwaway.make_app('import', app_url, owner_url, instance)


def phase_migrate(app_url: str, owner_url: str | None, instance: str) -> dict:
    """Setup, in a process of its own so Alembic's memory is not counted as the import's."""
    from flask_migrate import upgrade

    with _app(app_url, owner_url, instance).app_context():
        upgrade()
    return {'migrated': True}


def phase_import(path: str, app_url: str, owner_url: str | None, instance: str) -> dict:
    import sqlalchemy as sa

    from propsaas.extensions import db
    from propsaas.jobs.queue import enqueue
    from propsaas.residents import import_services
    from propsaas.residents.models import ImportBatch, Occupancy, Resident
    from propsaas.tenancy import provisioning
    from propsaas.tenancy.context import tenant_scope

    app = _app(app_url, owner_url, instance)
    data = Path(path).read_bytes()
    with app.app_context():
        tenants = {}
        for slug in ('bench-import-a', 'bench-import-b'):
            done = provisioning.create_tenant(slug, name=slug, template='standard-residential',
                                              admin_email=f'admin@{slug}.cn', admin_password=None)
            db.session.commit()
            tenants[slug] = done.tenant.id
        engine = db.engine
        statements: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        # (b) the import itself: what the commit job does, without the job machinery around it
        tenant_id = tenants['bench-import-a']
        with tenant_scope(tenant_id):
            db.session.rollback()
            start_mb = peak_mb()
            sa.event.listen(engine, 'before_cursor_execute', record)
            started = time.perf_counter()
            _header, rows, existing, summary = import_services.analyse(data)
            analysed = time.perf_counter()
            result = import_services.write_rows(rows, summary, existing)
            db.session.commit()
            seconds = time.perf_counter() - started
            write_seconds = time.perf_counter() - analysed
            sa.event.remove(engine, 'before_cursor_execute', record)
            peak = peak_mb()
            occupancies = db.session.execute(sa.select(sa.func.count()).select_from(Occupancy)).scalar_one()
            residents = db.session.execute(sa.select(sa.func.count()).select_from(Resident)).scalar_one()
            db.session.commit()
        inserts = [s for s in statements if s.lstrip().upper().startswith('INSERT')]
        out = {'seconds': seconds, 'write_seconds': write_seconds, 'rows': len(rows), 'peak_mb': peak,
               'start_mb': start_mb,
               'inserts': len(inserts), 'statements': len(statements), 'stats': summary.stats(), 'result': result,
               'occupancies': occupancies, 'residents': residents, 'dialect': engine.dialect.name}

        # the product flow, for information: upload check + preview job + commit job (the file is read twice)
        tenant_id = tenants['bench-import-b']
        with tenant_scope(tenant_id):
            db.session.rollback()
            started = time.perf_counter()
            batch = import_services.start_import('bench.xlsx', data, None)
            batch_id = batch.id
            enqueue(import_services.preview_import, batch_id, key=import_services.preview_key(batch_id))
            import_services.claim_commit(db.session.get(ImportBatch, batch_id))
            enqueue(import_services.commit_import, batch_id, key=import_services.commit_key(batch_id))
            out['flow_seconds'] = time.perf_counter() - started
            out['flow_status'] = db.session.execute(sa.select(ImportBatch.status).where(ImportBatch.id == batch_id)
                                                    ).scalar_one()
            db.session.commit()
        db.engine.dispose()
    return out


def run_phase(*args: str, env: dict | None = None) -> dict:
    return throwaway.run_phase(__file__, *args, env=env)


# --- report ----------------------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return 'ok' if ok else 'MISSED'


def report(label: str, bare: dict, imported: dict) -> None:
    rate = imported['rows'] / imported['seconds']
    bare_rate = bare['rows'] / bare['seconds']
    ratio = rate / bare_rate
    limit = MEMORY_FACTOR * bare['peak_mb'] + MEMORY_EXTRA_MB
    print(f'import {label:<11} {rate:>9.0f} rows/s   ({imported["rows"]} rows in {imported["seconds"]:.3f} s, '
          f'of which writing {imported["write_seconds"]:.3f} s: '
          f'{imported["stats"]["new"]} new, {imported["stats"]["duplicate"]} duplicate, '
          f'{imported["stats"]["error"]} error; {imported["residents"]} residents, {imported["occupancies"]} '
          f'occupancies, {imported["result"]["rooms_created"]} rooms written)')
    print(f'ratio {label:<12} {ratio:>9.2f}          (import / bare; target >= {RATIO_TARGET:.2f}: '
          f'{verdict(ratio >= RATIO_TARGET)})')
    own = imported['peak_mb'] - imported['start_mb']
    print(f'memory {label:<11} {imported["peak_mb"]:>9.1f} MB peak (the app before the import '
          f'{imported["start_mb"]:.1f} MB, the import itself +{own:.1f} MB; target: the import itself <= '
          f'{MEMORY_FACTOR} x {bare["peak_mb"]:.1f} + {MEMORY_EXTRA_MB} = {limit:.1f} MB: {verdict(own <= limit)}; '
          f'whole process: {verdict(imported["peak_mb"] <= limit)})')
    few = imported['inserts'] * 20 <= imported['rows']
    print(f'inserts {label:<10} {imported["inserts"]:>9d}          (of {imported["statements"]} statements for '
          f'{imported["rows"]} rows; target: far fewer than rows: {verdict(few)})')
    print(f'flow {label:<13} {imported["rows"] / imported["flow_seconds"]:>9.0f} rows/s   (upload check + preview job '
          f'+ commit job, {imported["flow_seconds"]:.3f} s, batch {imported["flow_status"]}; for information)')


def best(previous: dict | None, current: dict, *, memory=max) -> dict:
    """The faster of two runs (like timeit: the slower one measured the machine's other work). Memory is taken
    the strict way for the target: the largest peak of the import, the smallest of the bare read."""
    if previous is None:
        return current
    faster = current if current['seconds'] < previous['seconds'] else previous
    return {**faster, 'peak_mb': memory(previous['peak_mb'], current['peak_mb'])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tiny', action='store_true', help='500 rows (for tests/test_bench_import.py)')
    parser.add_argument('--rows', type=int)
    parser.add_argument('--db', default=DEFAULT_DB, help='PostgreSQL server as a superuser (default: %(default)s)')
    parser.add_argument('--no-postgres', action='store_true', help='SQLite only')
    parser.add_argument('--rounds', type=int, help='rounds, best kept (default 2; --tiny 1)')
    parser.add_argument('--phase', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        phases = {'bare': phase_bare, 'migrate': phase_migrate, 'import': phase_import}
        print(json.dumps(phases[kind](*rest)))
        return 0

    rows = args.rows or (500 if args.tiny else 10_000)
    rounds = args.rounds or (1 if args.tiny else 2)
    with tempfile.TemporaryDirectory(prefix='propsaas-bench-import-') as tmp:
        path = Path(tmp) / 'residents.xlsx'
        log(f'generating {rows} rows')
        write_xlsx(path, generate_rows(rows))
        admin_url, postgres = normalize(args.db), not args.no_postgres
        problem = reachable(admin_url) if postgres else None
        load = os.getloadavg()[0]
        print(f'# {rows} rows, messy .xlsx {path.stat().st_size / 1024:.0f} KB; Python {platform.python_version()}; '
              f'{os.cpu_count()} CPUs, load average {load:.2f}; best of {rounds} round(s), each phase in its own '
              f'process')
        bare, imported = None, {}
        for round_ in range(rounds):
            # Bare and import alternate, so a change of load on the machine hits both alike.
            log(f'round {round_ + 1}: bare openpyxl read')
            bare = best(bare, run_phase('bare', str(path)), memory=min)
            log(f'round {round_ + 1}: import on SQLite')
            instance = Path(tmp) / f'sqlite-{round_}'
            instance.mkdir()
            sqlite_url = f'sqlite:///{instance / "bench.db"}'
            run_phase('migrate', sqlite_url, '', str(instance))
            imported['sqlite'] = best(imported.get('sqlite'), run_phase(
                'import', str(path), sqlite_url, '', str(instance)))
            if postgres and not problem:
                database = PostgresDatabase(admin_url, 'import', log)
                try:
                    database.create()
                    instance = Path(tmp) / f'pg-{round_}'
                    instance.mkdir()
                    run_phase('migrate', database.app_url, database.owner_url, str(instance))
                    log(f'round {round_ + 1}: import on PostgreSQL')
                    imported['postgresql'] = best(imported.get('postgresql'), run_phase(
                        'import', str(path), database.app_url, database.owner_url, str(instance)))
                finally:
                    database.drop()
        print(f'bare openpyxl read  {bare["rows"] / bare["seconds"]:>9.0f} rows/s   ({bare["rows"]} sheet rows in '
              f'{bare["seconds"]:.3f} s; peak memory {bare["peak_mb"]:.1f} MB)')
        report('sqlite', bare, imported['sqlite'])
        if not postgres:
            return 0
        if problem:
            print(f'import postgresql skipped: PostgreSQL is not reachable at {args.db} ({problem})')
            return 0
        report('postgresql', bare, imported['postgresql'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
