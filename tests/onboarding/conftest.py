"""Fixtures of the onboarding tests: a small estate (two buildings, three households, an imported owner) and the
onboarding pack rendered inline and read back as text."""
from __future__ import annotations

import io
import re
from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from propsaas.jobs.models import JobRecord
from propsaas.onboarding import pack
from propsaas.property.models import Building, Room, Unit  # noqa: F401
from propsaas.residents.models import Occupancy, Resident
from propsaas.storage import path_for

#: a printed activation code: two groups of four from the unambiguous alphabet
CODE_RE = re.compile(r'(?<![0-9A-Za-z])([A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4})(?![0-9A-Za-z])')
OWNER_MOBILE = '13700001111'


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    """estate(name) -> namespace: tenant; rooms {'1-1-101': id, '1-1-102': id, '2-1-101': id}; admin (user id);
    owner (resident id of 王建国, 13700001111, living in 1-1-101)."""

    def make(name: str = '晨曦花园'):
        tenant = make_tenant(name=name)
        rooms = {}
        with in_tenant(tenant) as session:
            for b_name, numbers in (('1栋', ('101', '102')), ('2栋', ('101',))):
                building = Building(name=b_name)
                unit = Unit(building=building, name='1单元')
                session.add_all([building, unit])
                for number in numbers:
                    code = f'{b_name[0]}-1-{number}'
                    room = Room(building=building, unit=unit, number=number, code=code, floor=1, status='occupied')
                    session.add(room)
                    session.flush()
                    rooms[code] = room.id
            owner = Resident(name='王建国', mobile=OWNER_MOBILE)
            session.add_all([owner, Occupancy(resident=owner, room_id=rooms['1-1-101'], role='owner',
                                              moved_in_on=date(2020, 1, 1))])
            session.flush()
            owner_id = owner.id
            admin = session.execute(sa.select(pack.User.id).where(pack.User.role == 'admin')).scalar_one()
        return SimpleNamespace(tenant=tenant, rooms=rooms, admin=admin, owner=owner_id)

    return make


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() or '' for page in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def render_pack(client_for, in_tenant):
    """render_pack(estate, by=admin id) -> namespace: record (dict), pages (text per page), text, codes {room code:
    activation code}: the admin presses 生成交付包 (the job runs inline) and the stored PDF is read back."""

    def render(estate, by: int | None = None):
        client = client_for(estate.tenant, by or estate.admin)
        response = client.post('/settings/onboarding-pack')
        assert response.status_code == 302, response.get_data(as_text=True)
        with in_tenant(estate.tenant) as session:
            record = session.execute(sa.select(JobRecord).where(JobRecord.key == pack.PACK_KEY)).scalar_one()
            assert record.status == JobRecord.DONE, record.error
            data = path_for(record.result_file).read_bytes()
            order = [(room.code, room.label) for room in pack.households()]
            row = {'id': record.id, 'result': record.result, 'file': record.result_file}
        pages = pdf_text(data)
        sheets = [page for page in pages if '住户账号激活邀请' in page]
        assert len(sheets) == len(order)
        codes = {}
        for (code, label), page in zip(order, sheets, strict=True):  # a page per household, in delivery order
            found = CODE_RE.findall(page)
            assert len(found) == 1, page
            assert label in re.sub(r'\s+', '', page)
            codes[code] = found[0]
        return SimpleNamespace(record=row, pages=pages, text='\n'.join(pages), sheets=sheets, codes=codes,
                               data=data, client=client)

    return render
