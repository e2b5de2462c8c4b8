"""Repair photos: accepted by content only, re-encoded without EXIF (GPS), a pixel flood / script / truncated file /
GIF refused with a message and nothing stored, at most 6 per kind, served only to staff and the household."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.auth.models import User
from propsaas.errors import DomainError
from propsaas.repairs import orders, photos
from propsaas.repairs.models import WorkOrder, WorkOrderPhoto
from propsaas.storage import tenant_root
from tests.repairs.estate import build_estate


@pytest.fixture
def estate(make_tenant, make_user, in_tenant):
    return lambda name='报修照片苑': build_estate(make_tenant, make_user, in_tenant, name)


def phone_jpeg(size=(3000, 2000), orientation=6) -> bytes:
    """A JPEG as a phone writes it: GPS position, maker, and an orientation tag."""
    image = Image.new('RGB', size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = 'PhoneMaker'
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = 'N', (39.0, 54.0, 27.0)
    out = io.BytesIO()
    image.save(out, 'JPEG', exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the GPS really is there
    return data


def png(size=(50, 40), mode='RGBA') -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (0, 0, 255, 128) if mode == 'RGBA' else 0).save(out, 'PNG')
    return out.getvalue()


def pixel_flood() -> bytes:
    """A tiny file that claims 8000 × 8000 (64 megapixels): decoded it would take 64 MB+."""
    out = io.BytesIO()
    Image.new('1', (8000, 8000)).save(out, 'PNG', optimize=True)
    data = out.getvalue()
    assert len(data) < 100_000
    return data


def gif() -> bytes:
    out = io.BytesIO()
    Image.new('P', (20, 20)).save(out, 'GIF')
    return out.getvalue()


def files_of(tenant) -> list[Path]:
    root = tenant_root(tenant.id) / 'repairs'
    return sorted(p for p in root.rglob('*') if p.is_file()) if root.exists() else []


def new_order(session, e, code='1-1-101') -> WorkOrder:
    return orders.submit(category_id=e.categories['plumbing'], description='卫生间漏水', room_id=e.rooms[code],
                         reporter_resident_id=e.residents[code], by_user=session.get(User, e.owner_user))


def test_exif_and_gps_are_gone_orientation_applied_and_sizes_limited(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = new_order(session, e)
        photo = photos.add_photo(order, phone_jpeg(), by_user_id=e.owner_user)
        key, thumb_key = photo.key, photo.thumb_key
        assert key.startswith(f'repairs/{order.id}/') and key.endswith('.jpg')
        assert thumb_key == key[:-4] + '_thumb.jpg'
    with in_tenant(e.tenant):
        stored = (tenant_root(e.tenant.id) / key).read_bytes()
        thumb = (tenant_root(e.tenant.id) / thumb_key).read_bytes()
    image = Image.open(io.BytesIO(stored))
    assert image.format == 'JPEG'
    assert image.size == (1707, 2560)  # rotated upright (orientation 6), long side 2560
    assert not image.getexif() and b'PhoneMaker' not in stored and b'Exif' not in stored
    assert max(Image.open(io.BytesIO(thumb)).size) == 400 and b'Exif' not in thumb
    with in_tenant(e.tenant) as session:
        row = session.execute(sa.select(WorkOrderPhoto)).scalar_one()
        assert (row.width, row.height, row.content_type, row.size) == (1707, 2560, 'image/jpeg', len(stored))


def test_png_and_webp_are_accepted_by_content_whatever_their_name(estate, in_tenant):
    e = estate()
    out = io.BytesIO()
    Image.new('RGB', (64, 48), 'green').save(out, 'WEBP')
    with in_tenant(e.tenant) as session:
        order = new_order(session, e)
        for data in (png(), out.getvalue()):
            photo = photos.add_photo(order, data)
            assert photo.key.endswith('.jpg') and photo.content_type == 'image/jpeg'


@pytest.mark.parametrize('data, message', [
    (pixel_flood(), '像素太大'),
    (b'#!/bin/sh\nrm -rf / --no-preserve-root\n' * 10, '不是 JPG、PNG 或 WebP'),
    (phone_jpeg((400, 300))[:600], '不是 JPG、PNG 或 WebP'),
    (gif(), '不是 JPG、PNG 或 WebP'),
    (b'', '请选择'),
    (b'\xff' * (10 * 1024 * 1024 + 1), '10 MB'),
])
def test_refused_with_a_message_and_nothing_stored(estate, in_tenant, data, message):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = new_order(session, e)
        with pytest.raises(DomainError) as refused:
            photos.add_photo(order, data)
        assert message in str(refused.value.message) and refused.value.status_code == 422
        assert session.execute(sa.select(sa.func.count()).select_from(WorkOrderPhoto)).scalar_one() == 0
        assert files_of(e.tenant) == []


def test_a_pixel_flood_is_never_decoded(estate, in_tenant, monkeypatch):
    e = estate()

    def no_decoding(self, *args, **kwargs):
        raise AssertionError('decoded')

    flood = pixel_flood()
    with in_tenant(e.tenant) as session:
        order = new_order(session, e)
        monkeypatch.setattr(Image.Image, 'load', no_decoding)
        monkeypatch.setattr('PIL.PngImagePlugin.PngImageFile.load', no_decoding, raising=False)
        with pytest.raises(DomainError) as refused:
            photos.add_photo(order, flood)
        assert '像素太大' in str(refused.value.message)


def test_the_seventh_photo_is_refused_and_after_photos_have_their_own_six(estate, in_tenant):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = new_order(session, e)
        for _ in range(6):
            photos.add_photo(order, png())
        with pytest.raises(DomainError, match='最多 6 张'):
            photos.add_photo(order, png())
        with pytest.raises(orders.IllegalTransition):  # after-photos only once the work started
            photos.add_photo(order, png(), kind='after')
        orders.assign(order, e.tech, by_user=session.get(User, e.desk))
        orders.start(order, by_user=session.get(User, e.tech))
        photos.add_photo(order, png(), kind='after')
        assert photos.count(order, 'report') == 6 and photos.count(order, 'after') == 1


def test_files_of_a_rolled_back_transaction_are_removed(estate, in_tenant, app):
    e = estate()
    with in_tenant(e.tenant) as session:
        order = new_order(session, e)
        session.commit()
        photos.add_photo(order, png())
        assert len(files_of(e.tenant)) == 2
        session.rollback()
        assert files_of(e.tenant) == []
        photos.add_photo(session.get(WorkOrder, order.id), png())
        session.commit()
        assert len(files_of(e.tenant)) == 2


def test_photos_are_served_to_staff_and_the_household_only(estate, in_tenant, client_for, make_user):
    e, other = estate(), estate('别的小区')
    flatmate = make_user(e.tenant, 'resident', name='张家人', mobile='13900000009')
    with in_tenant(e.tenant) as session:
        from propsaas.residents.models import Occupancy, Resident

        resident = Resident(name='张家人', mobile='13900000009', user_id=flatmate)
        session.add(resident)
        session.flush()
        session.add(Occupancy(room_id=e.rooms['1-1-101'], resident_id=resident.id, role='family'))
        order = new_order(session, e)
        photo_id = photos.add_photo(order, png(), by_user_id=e.owner_user).id
    url = f'/repairs/photos/{photo_id}'
    for user_id in (e.owner_user, flatmate, e.tech, e.desk, e.admin):
        client = client_for(e.tenant, user_id)
        for path in (url, url + '/thumb'):
            response = client.get(path)
            assert response.status_code == 200, (user_id, path)
            assert response.mimetype == 'image/jpeg' and response.headers['X-Content-Type-Options'] == 'nosniff'
    neighbour = client_for(e.tenant, e.neighbour_user)
    assert neighbour.get(url).status_code == 404 and neighbour.get(url + '/thumb').status_code == 404
    for user_id in (other.admin, other.owner_user):
        assert client_for(other.tenant, user_id).get(url).status_code == 404
    assert client_for(e.tenant).get(url).status_code in (302, 401)
