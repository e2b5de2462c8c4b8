"""Fixtures of the import tests: the shared sample files, spreadsheets built in memory, what a tenant holds."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer
from openpyxl import Workbook
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from propsaas.property.models import Building, Room, RoomEvent, Unit
from propsaas.residents.models import ImportBatch, Occupancy, Resident
from tests.conftest import CSRF_RAW

#: copies of /work/shared/samples (see EXPECTED.md there): the same 100 rows as .xlsx, GBK .csv and UTF-8 BOM .csv
SAMPLES = Path(__file__).resolve().parent / 'samples'
SAMPLE_FILES = ('residents_messy.xlsx', 'residents_gbk.csv', 'residents_utf8bom.csv')
HEADER = ['楼栋', '单元', '房号', '建筑面积(㎡)', '姓名', '手机号', '身份', '入住日期']


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def xlsx(rows: list[list], *, title: str | None = None, sheets: dict | None = None) -> bytes:
    """A workbook whose first sheet holds ``rows`` (below a merged ``title`` row when given)."""
    book = Workbook()
    sheet = book.active
    sheet.title = '住户'
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(len(rows[0]), 2))
    for row in rows:
        sheet.append(row)
    for name, extra in (sheets or {}).items():
        other = book.create_sheet(name)
        for row in extra:
            other.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], encoding: str = 'utf-8-sig') -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def resident_rows(n: int, *, start: int = 0) -> list[list]:
    """``n`` valid rows over 3 buildings x 2 units, one resident each (distinct rooms and mobiles)."""
    rows = []
    for i in range(start, start + n):
        building, unit = i % 3 + 1, (i // 3) % 2 + 1
        number = f'{(i // 6) // 4 + 1}{(i // 6) % 4 + 1:02d}'
        rows.append([f'{building}栋', f'{unit}单元', number, 89.5, f'住户{i}', f'139{i:08d}', '业主', '2024-05-01'])
    return rows


def table_counts(session) -> dict:
    return {model.__tablename__: session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in (Building, Unit, Room, RoomEvent, Resident, Occupancy, ImportBatch)}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name='导入小区')


@pytest.fixture
def admin_id(tenant, make_user):
    return make_user(tenant, 'admin')


@pytest.fixture
def admin(tenant, admin_id, client_for):
    return client_for(tenant, admin_id)


@pytest.fixture
def counts(in_tenant):
    def count(tenant) -> dict:
        with in_tenant(tenant) as session:
            return table_counts(session)

    return count


def multipart(client, fields: dict) -> tuple[bytes, str]:
    """A multipart body encoded in memory, with the page's CSRF token.

    (The test client spools bodies over 500 KB to a temporary file it never closes: a ResourceWarning, which
    this suite turns into an error.)
    """
    with client.session_transaction(base_url=client.base) as session:
        session['csrf_token'] = CSRF_RAW
    token = URLSafeTimedSerializer(client.application.secret_key, salt='wtf-csrf-token').dumps(CSRF_RAW)
    boundary, body = encode_multipart({**fields, 'csrf_token': token})
    return body, f'multipart/form-data; boundary={boundary}'


def upload(client, data: bytes, filename: str = 'residents.xlsx'):
    file = FileStorage(io.BytesIO(data), filename=filename, content_type='application/octet-stream')
    body, content_type = multipart(client, {'file': file})
    return client.post('/residents/imports', data=body, content_type=content_type)


def batch_id_of(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers['Location'].rstrip('/').rsplit('/', 1)[1])
