"""Announcement attachments: checked by content, re-encoded without EXIF, served only to those who may see them."""
from __future__ import annotations

import io
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from PIL import Image

from propsaas.extensions import db
from propsaas.notices import announcements, attachments
from propsaas.notices.models import AnnouncementAttachment

PDF = b'%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'


def jpeg_with_exif(size=(64, 48)) -> bytes:
    image = Image.new('RGB', size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = 'PhoneMaker'  # Make
    exif[0x0110] = 'SecretPhone 9'  # Model
    out = io.BytesIO()
    image.save(out, 'JPEG', exif=exif.tobytes())
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get(0x0110) == 'SecretPhone 9'
    return data


def draft(in_tenant, c, audience=None) -> int:
    with in_tenant(c.tenant):
        a = announcements.save(None, title='停水通知', body='明天停水', category='停水',
                               audience=audience or {'scope': 'all'})
        db.session.flush()
        return a.id


def publish(in_tenant, c, announcement_id) -> None:
    with in_tenant(c.tenant) as session:
        from propsaas.notices.models import Announcement
        announcements.publish_now(session.get(Announcement, announcement_id))


def upload(client, announcement_id, data: bytes, filename: str):
    return client.post(f'/announcements/{announcement_id}/attachments',
                       data={'attachment-file': (io.BytesIO(data), filename)}, content_type='multipart/form-data')


def stored(in_tenant, c, announcement_id) -> list[dict]:
    with in_tenant(c.tenant) as session:
        rows = session.execute(sa.select(AnnouncementAttachment).where(
            AnnouncementAttachment.announcement_id == announcement_id).order_by(AnnouncementAttachment.id)).scalars()
        return [{col.name: getattr(r, col.name) for col in AnnouncementAttachment.__table__.columns} for r in rows]


def test_an_image_is_re_encoded_without_exif_and_shown_to_residents(compound, client_for, in_tenant):
    c = compound
    announcement_id = draft(in_tenant, c)
    desk = client_for(c.tenant, c.desk)
    response = upload(desk, announcement_id, jpeg_with_exif(), '停水范围 图.jpeg')
    assert response.status_code == 302, response.text
    [row] = stored(in_tenant, c, announcement_id)
    assert row['kind'] == 'image' and row['content_type'] == 'image/jpeg' and row['filename'] == '停水范围 图.jpg'
    assert row['stored_name'].startswith(f'notices/announcements/{announcement_id}/')
    publish(in_tenant, c, announcement_id)

    resident = client_for(c.tenant, c.owner_low_user)
    page = resident.get(f'/notices/{announcement_id}')
    url = f'/announcements/{announcement_id}/attachments/{row["id"]}'
    assert f'src="{url}"' in page.text
    served = resident.get(url)
    assert served.status_code == 200 and served.mimetype == 'image/jpeg'
    assert served.headers['X-Content-Type-Options'] == 'nosniff'
    assert f"filename*=UTF-8''{quote('停水范围 图.jpg')}" in served.headers['Content-Disposition']
    image = Image.open(io.BytesIO(served.data))
    assert image.format == 'JPEG' and image.size == (64, 48)
    assert not image.getexif() and b'SecretPhone' not in served.data and b'Exif' not in served.data


def test_large_images_are_resized_and_transparency_kept_as_png(compound, in_tenant):
    c = compound
    announcement_id = draft(in_tenant, c)
    big = io.BytesIO()
    Image.new('RGBA', (3000, 1000), (0, 0, 0, 0)).save(big, 'PNG')
    with in_tenant(c.tenant) as session:
        from propsaas.notices.models import Announcement
        a = session.get(Announcement, announcement_id)
        attachment = attachments.add_attachment(a, 'plan.webp.png', big.getvalue())
        session.flush()
        with attachments.file_path(attachment).open('rb') as fh:
            image = Image.open(fh)
            assert image.format == 'PNG' and max(image.size) == 2560 and image.mode == 'RGBA'


def test_a_pdf_is_accepted_and_downloaded_as_an_attachment(compound, client_for, in_tenant):
    c = compound
    announcement_id = draft(in_tenant, c)
    desk = client_for(c.tenant, c.desk)
    assert upload(desk, announcement_id, PDF, '通知.pdf').status_code == 302
    [row] = stored(in_tenant, c, announcement_id)
    assert row['kind'] == 'pdf' and row['size_bytes'] == len(PDF)
    served = desk.get(f'/announcements/{announcement_id}/attachments/{row["id"]}')
    assert served.status_code == 200 and served.data == PDF and served.mimetype == 'application/pdf'
    assert served.headers['Content-Disposition'].startswith('attachment')


@pytest.mark.parametrize('data, filename', [
    (b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' * 20, 'photo.jpg'),  # a Windows .exe renamed
    (b'\xff\xd8\xff\xe0 not really a jpeg', 'broken.jpg'),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'x.png'),
])
def test_what_is_not_an_image_or_pdf_is_refused(compound, client_for, in_tenant, data, filename):
    c = compound
    announcement_id = draft(in_tenant, c)
    response = upload(client_for(c.tenant, c.desk), announcement_id, data, filename)
    assert 400 <= response.status_code < 500
    assert '这不是图片或 PDF 文件' in response.text
    assert stored(in_tenant, c, announcement_id) == []


def test_oversized_files_are_refused(compound, client_for, in_tenant, monkeypatch):
    c = compound
    announcement_id = draft(in_tenant, c)
    desk = client_for(c.tenant, c.desk)
    monkeypatch.setattr(attachments, 'MAX_PIXELS', 1000)
    response = upload(desk, announcement_id, jpeg_with_exif((100, 100)), 'big.jpg')
    assert response.status_code == 422 and '像素太大' in response.text
    monkeypatch.setattr(attachments, 'PDF_MAX_BYTES', 50)
    response = upload(desk, announcement_id, PDF, 'big.pdf')
    assert response.status_code == 422 and '20 MB' in response.text
    assert stored(in_tenant, c, announcement_id) == []


def test_attachments_change_only_while_draft_or_scheduled(compound, client_for, in_tenant):
    c = compound
    announcement_id = draft(in_tenant, c)
    desk = client_for(c.tenant, c.desk)
    upload(desk, announcement_id, PDF, 'a.pdf')
    upload(desk, announcement_id, PDF, 'b.pdf')
    first, second = stored(in_tenant, c, announcement_id)
    assert desk.post(f'/announcements/{announcement_id}/attachments/{first["id"]}/delete').status_code == 302
    assert [r['id'] for r in stored(in_tenant, c, announcement_id)] == [second['id']]
    publish(in_tenant, c, announcement_id)
    refused = upload(desk, announcement_id, PDF, 'c.pdf')
    assert refused.status_code == 422 and '不能再增删附件' in refused.text
    refused = desk.post(f'/announcements/{announcement_id}/attachments/{second["id"]}/delete')
    assert refused.status_code == 422
    assert len(stored(in_tenant, c, announcement_id)) == 1


def test_only_those_who_may_see_the_announcement_download(compound, client_for, in_tenant, make_tenant, make_user):
    c = compound
    high_only = {'scope': 'floors', 'floor_building_id': c.buildings['1栋'], 'floor_min': 12}
    announcement_id = draft(in_tenant, c, audience=high_only)
    desk = client_for(c.tenant, c.desk)
    upload(desk, announcement_id, jpeg_with_exif(), 'a.jpg')
    [row] = stored(in_tenant, c, announcement_id)
    url = f'/announcements/{announcement_id}/attachments/{row["id"]}'
    high = client_for(c.tenant, c.renter_high_user)
    assert high.get(url).status_code == 404  # a draft: no resident sees it yet
    publish(in_tenant, c, announcement_id)
    assert high.get(url).status_code == 200
    assert client_for(c.tenant, c.owner_low_user).get(url).status_code == 404  # not in the audience
    assert client_for(c.tenant, c.tech).get(url).status_code == 200  # staff of the project
    assert desk.get(f'/announcements/{announcement_id + 1}/attachments/{row["id"]}').status_code == 404
    other = make_tenant(name='别的小区')
    for role in ('admin', 'resident'):
        assert client_for(other, make_user(other, role)).get(url).status_code == 404
