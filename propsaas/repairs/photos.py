"""Repair photos (报修照片): the resident's pictures of the problem ('report', at most 6) and the technician's of the
work done ('after', at most 6).

A picture is accepted by its content only (Pillow names the format; the file name and Content-Type mean nothing):
JPEG, PNG or WebP, at most 10 MB and 40 megapixels, the pixel count read from the header before anything is decoded
(a pixel flood is refused, never decoded). It is re-encoded as JPEG with the orientation applied and every metadata
block dropped (a phone photo carries where it was taken), the long side at most 2560 px, plus a 400 px thumbnail,
stored under generated names ``repairs/<order_id>/<uuid>.jpg`` and ``..._thumb.jpg``.

Files are written before the commit; the ones of a transaction that is rolled back (or never committed) are removed
when it ends, so a failed request leaves no file behind.
"""
from __future__ import annotations

import io
import uuid
import warnings
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from .. import storage
from ..errors import DomainError
from ..extensions import db
from ..notices.attachments import IMAGE_MAX_BYTES, MAX_PIXELS, MAX_SIDE
from . import orders
from .models import OPEN_STATUSES, WorkOrder, WorkOrderPhoto

FORMATS = {'JPEG', 'PNG', 'WEBP'}
THUMB_SIDE = 400
MAX_PER_KIND = 6
QUALITY = 85
_PENDING = 'repair_photo_files'


class PhotoError(DomainError):
    status_code = 422


def clean_photo(data: bytes) -> tuple[bytes, bytes, int, int]:
    """(photo JPEG, thumbnail JPEG, width, height) of an uploaded picture, or PhotoError with the reason."""
    if not data:
        raise PhotoError(_l('请选择要上传的照片'), field='photos')
    if len(data) > IMAGE_MAX_BYTES:
        raise PhotoError(_l('照片不能超过 10 MB'), field='photos')
    not_photo = PhotoError(_l('这不是 JPG、PNG 或 WebP 照片，或者文件已损坏，请换一张照片'), field='photos')
    too_big = PhotoError(_l('照片像素太大（最多 4000 万像素），请缩小后再上传'), field='photos')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise not_photo
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise too_big
            if image.format == 'JPEG':
                image.draft('RGB', (MAX_SIDE, MAX_SIDE))  # decode at a reduced scale no smaller than the target
            image.load()
            image = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_photo from None
    if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info):
        rgba = image.convert('RGBA')
        image = Image.new('RGB', rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel('A'))
    elif image.mode != 'RGB':
        image = image.convert('RGB')
    # bicubic with Pillow's reducing gap: as sharp as Lanczos for a downscale, at the cost of a plain resize
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BICUBIC, reducing_gap=3.0)
    image.info = {}  # nothing of the original's metadata travels on
    out = io.BytesIO()
    image.save(out, 'JPEG', quality=QUALITY)
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BICUBIC, reducing_gap=2.0)
    thumb_out = io.BytesIO()
    thumb.save(thumb_out, 'JPEG', quality=80)
    return out.getvalue(), thumb_out.getvalue(), image.width, image.height


def count(order: WorkOrder, kind: str) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(WorkOrderPhoto).where(
        WorkOrderPhoto.order_id == order.id, WorkOrderPhoto.kind == kind)).scalar_one()


def check_room(order: WorkOrder, kind: str, adding: int) -> None:
    """Refuse (before anything is read or stored) more than 6 photos of a kind, or photos at the wrong stage."""
    if kind == 'report' and order.status not in OPEN_STATUSES:
        raise orders.IllegalTransition(_l('工单已%(status)s，不能再添加照片',
                                          status=orders.STATUS_NAMES[order.status]))
    if kind == 'after' and order.status not in ('in_progress', 'completed'):
        raise orders.IllegalTransition(_l('工单%(status)s，开始维修后才能上传完工照片',
                                          status=orders.STATUS_NAMES[order.status]))
    if count(order, kind) + adding > MAX_PER_KIND:
        raise PhotoError(_l('每张工单最多 %(n)s 张照片', n=MAX_PER_KIND), field='photos')


def add_photo(order: WorkOrder, data: bytes, *, kind: str = 'report', by_user_id: int | None = None) -> WorkOrderPhoto:
    """Check, re-encode and store one photo of ``order``; raises PhotoError (422) with the reason and stores
    nothing. Does not commit (the files of a transaction that does not commit are removed)."""
    if kind not in ('report', 'after'):
        raise ValueError(kind)
    check_room(order, kind, 1)
    stored = store_photo(f'repairs/{order.id}', data)
    record = WorkOrderPhoto(order_id=order.id, kind=kind, content_type='image/jpeg', uploaded_by_id=by_user_id,
                            **stored)
    db.session.add(record)
    db.session.flush()
    return record


def store_photo(folder: str, data: bytes) -> dict:
    """Check, re-encode and store one picture under the tenant's ``folder`` with its thumbnail, for this
    transaction (removed again unless it commits): the record's key, thumb_key, width, height and size. PhotoError
    (422) with the reason, and nothing stored, for anything else than a sound photo. (Inspection photos too.)"""
    photo, thumb, width, height = clean_photo(data)
    name = uuid.uuid4().hex
    key, thumb_key = f'{folder}/{name}.jpg', f'{folder}/{name}_thumb.jpg'
    pending = db.session.info.setdefault(_PENDING, [])
    pending.append(storage.write_atomically(key, photo))
    pending.append(storage.write_atomically(thumb_key, thumb))
    return {'key': key, 'thumb_key': thumb_key, 'width': width, 'height': height, 'size': len(photo)}


def read_uploads(files, limit: int = MAX_PER_KIND) -> list[bytes]:
    """The bytes of the chosen files of a multipart form (empty file inputs skipped), each read to one byte past
    the limit so an oversized one is recognised; more than ``limit`` files refused."""
    chosen = [f for f in files or () if f is not None and getattr(f, 'filename', '')]
    if len(chosen) > limit:
        raise PhotoError(_l('每张工单最多 %(n)s 张照片', n=limit), field='photos')
    return [f.stream.read(IMAGE_MAX_BYTES + 1) for f in chosen]


# --- who may see them -------------------------------------------------------------------------------------------

def can_see(order: WorkOrder, user) -> bool:
    """The project's staff, and the reporting household: the reporter's user and the residents living in the
    order's room."""
    role = getattr(user, 'role', None)
    if role in ('admin', 'staff'):
        return True
    if role != 'resident':
        return False
    return orders._is_reporter(order, orders.Actor.of(user))


def photo_for(user, photo_id: int) -> WorkOrderPhoto | None:
    """The photo if this user may see it; another project's, another household's: None."""
    photo = db.session.get(WorkOrderPhoto, photo_id)
    if photo is None or not can_see(photo.order, user):
        return None
    return photo


def read(photo: WorkOrderPhoto, thumb: bool = False) -> bytes | None:
    try:
        return storage.path_for(photo.thumb_key if thumb else photo.key).read_bytes()
    except (FileNotFoundError, ValueError):
        return None


# --- files of a transaction that does not commit ----------------------------------------------------------------

@sa.event.listens_for(Session, 'after_commit')
def _keep_files(session) -> None:
    session.info.pop(_PENDING, None)


@sa.event.listens_for(Session, 'after_transaction_end')
def _discard_files(session, transaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    for path in session.info.pop(_PENDING, None) or ():
        Path(path).unlink(missing_ok=True)
