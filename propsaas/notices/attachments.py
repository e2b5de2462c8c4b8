"""Announcement attachments (附件): pictures and PDFs, checked by their content, stored under the tenant.

Images (JPEG, PNG, WebP, GIF) are decoded with Pillow and re-encoded (JPEG, or PNG when they have transparency):
EXIF and every other metadata block is dropped (a phone photo carries where it was taken), the orientation is
applied first, and the long side is limited to 2560 px. Anything larger than 10 MB or 40 megapixels is refused
before it is decoded (decompression bombs). PDFs are kept as they are after a ``%PDF-`` check (max 20 MB).

Files are written with generated names (``storage.write_atomically``); the uploader's name is only shown.
"""
from __future__ import annotations

import io
import os
import re
import unicodedata
import uuid
import warnings

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import storage
from ..errors import DomainError
from ..extensions import db
from .announcements import EDITABLE
from .inbox import visible_announcements_query
from .models import Announcement, AnnouncementAttachment

IMAGE_MAX_BYTES = 10 * 1024 * 1024
PDF_MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 2560
MAX_PER_ANNOUNCEMENT = 20
IMAGE_FORMATS = {'JPEG', 'PNG', 'WEBP', 'GIF'}
CONTENT_TYPES = {'jpg': 'image/jpeg', 'png': 'image/png', 'pdf': 'application/pdf'}

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def add_attachment(announcement: Announcement, filename: str, data: bytes) -> AnnouncementAttachment:
    """Check, clean and store one uploaded file; raises DomainError (in Chinese) with the reason. Does not commit.

    ``data`` may be read with one byte more than PDF_MAX_BYTES so an oversized upload is recognised."""
    if announcement.status not in EDITABLE:
        raise DomainError(_l('已发布的公告不能再增删附件'), field='file')
    count = db.session.execute(sa.select(sa.func.count()).select_from(AnnouncementAttachment).where(
        AnnouncementAttachment.announcement_id == announcement.id)).scalar_one()
    if count >= MAX_PER_ANNOUNCEMENT:
        raise DomainError(_l('每条公告最多 %(n)s 个附件', n=MAX_PER_ANNOUNCEMENT), field='file')
    if not data:
        raise DomainError(_l('请选择要上传的文件'), field='file')
    if data.startswith(b'%PDF-'):
        if len(data) > PDF_MAX_BYTES:
            raise DomainError(_l('PDF 文件不能超过 20 MB'), field='file')
        kind, ext, content = 'pdf', 'pdf', data
    else:
        kind = 'image'
        ext, content = clean_image(data)
    key = f'notices/announcements/{announcement.id}/{uuid.uuid4().hex}.{ext}'
    storage.write_atomically(key, content)
    attachment = AnnouncementAttachment(announcement_id=announcement.id, kind=kind,
                                        filename=display_name(filename, ext), stored_name=key,
                                        content_type=CONTENT_TYPES[ext], size_bytes=len(content))
    db.session.add(attachment)
    return attachment


def clean_image(data: bytes) -> tuple[str, bytes]:
    """Decode, check and re-encode a picture: ('jpg' | 'png', bytes) with no metadata."""
    if len(data) > IMAGE_MAX_BYTES:
        raise DomainError(_l('图片不能超过 10 MB'), field='file')
    not_image = DomainError(_l('这不是图片或 PDF 文件：只能上传 JPG、PNG、WebP、GIF 图片或 PDF'), field='file')
    too_big = DomainError(_l('图片像素太大（最多 4000 万像素），请缩小后再上传'), field='file')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in IMAGE_FORMATS:
                raise not_image
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise too_big
            image.load()
            image = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_image from None
    transparent = image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info)
    image = image.convert('RGBA' if transparent else 'RGB')
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.info = {}  # nothing of the original's metadata travels on
    out = io.BytesIO()
    if transparent:
        image.save(out, 'PNG', optimize=True)
        return 'png', out.getvalue()
    image.save(out, 'JPEG', quality=85, optimize=True)
    return 'jpg', out.getvalue()


def display_name(filename: str | None, ext: str) -> str:
    """The uploader's file name without any path, control or reserved characters, with the stored type's
    extension (a WebP re-encoded as JPEG downloads as .jpg)."""
    name = unicodedata.normalize('NFC', os.path.basename((filename or '').replace('\\', '/')))
    stem = _UNSAFE_NAME.sub('_', os.path.splitext(name)[0]).strip(' ._') or '附件'
    return f'{stem[:150]}.{ext}'


def remove(attachment: AnnouncementAttachment) -> str:
    """Delete the record (while the announcement is editable); returns the storage key for ``discard_file``
    after the commit. Does not commit."""
    if attachment.announcement.status not in EDITABLE:
        raise DomainError(_l('已发布的公告不能再增删附件'))
    key = attachment.stored_name
    db.session.delete(attachment)
    return key


def discard_file(key: str) -> None:
    try:
        storage.path_for(key).unlink(missing_ok=True)
    except ValueError:
        pass


def attachment_for(user, announcement_id: int, attachment_id: int) -> AnnouncementAttachment | None:
    """The attachment if this user may download it: staff of the tenant (any state), or a resident who can see the
    announcement now. Another tenant's, or one of an announcement the resident can't see, is None."""
    query = sa.select(AnnouncementAttachment).where(AnnouncementAttachment.id == attachment_id,
                                                    AnnouncementAttachment.announcement_id == announcement_id)
    if getattr(user, 'role', None) not in ('admin', 'staff'):
        visible = visible_announcements_query(user).with_only_columns(Announcement.id).order_by(None)
        query = query.where(AnnouncementAttachment.announcement_id.in_(visible))
    return db.session.execute(query).scalar_one_or_none()


def file_path(attachment: AnnouncementAttachment):
    return storage.path_for(attachment.stored_name)
