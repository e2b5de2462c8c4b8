"""Is an uploaded file really a spreadsheet we can read safely? Decided by its content, never by its name.

- .xlsx: a zip holding ``xl/workbook.xml``; its central directory is checked *before* anything is
  decompressed: entry count, total uncompressed size, compression ratio (zip bombs). Python's zipfile
  stops every entry at its declared size, so the declared sizes bound what a later parse can inflate.
- .csv: text in UTF-8 (with or without BOM) or GBK/GB18030, as Chinese Excel and WPS save it, without
  binary control characters.
- everything else (a renamed .exe, a PDF, an image, an old .xls, a zip of something else) is refused with a
  message that tells the user what to do.

Pure functions: no Flask request, no database. Messages are lazy strings (shown in the user's language).
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..errors import DomainError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: an honest workbook of 50,000 rows inflates to a few tens of MB of XML
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 2_000
#: sheet XML of repetitive data compresses 10-50x; a bomb compresses 1000x
MAX_COMPRESSION_RATIO = 200
#: small entries may compress very well (empty styles); the ratio only applies above this size
RATIO_CHECK_ABOVE = 1024 * 1024

XLSX, CSV = 'xlsx', 'csv'

_MAGIC = (
    (b'MZ', _l('这是一个程序文件（.exe），不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'\x7fELF', _l('这是一个程序文件，不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'%PDF', _l('这是 PDF 文件，不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'\xd0\xcf\x11\xe0', _l('这是旧版 Excel（.xls）或 WPS 文件。请在 Excel/WPS 中“另存为” .xlsx 后再上传。')),
    (b'\x89PNG', _l('这是图片，不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'\xff\xd8\xff', _l('这是图片，不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'GIF8', _l('这是图片，不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'Rar!', _l('这是压缩包，不是表格。请解压后上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'\x1f\x8b', _l('这是压缩包，不是表格。请解压后上传 Excel 文件（.xlsx）或 CSV 文件。')),
    (b'7z\xbc\xaf', _l('这是压缩包，不是表格。请解压后上传 Excel 文件（.xlsx）或 CSV 文件。')),
)
# Control characters that never appear in a text CSV (tab, CR, LF are fine).
_BINARY = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


class UploadRefused(DomainError):
    """The upload is not a spreadsheet we accept; ``message`` says why and what to do."""

    def __init__(self, message):
        super().__init__(message, field='file')


@dataclass(frozen=True)
class Sniffed:
    kind: str  # 'xlsx' or 'csv'
    #: decoded text of a CSV (None for .xlsx)
    text: str | None = None
    #: which encoding the CSV was in: 'utf-8', 'utf-8-sig' or 'gb18030'
    encoding: str | None = None


def sniff_spreadsheet(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> Sniffed:
    """Decide what ``data`` is and whether it is safe to parse; raises UploadRefused with the reason."""
    if not data:
        raise UploadRefused(_l('文件是空的，请选择填好的表格。'))
    if len(data) > max_bytes:
        raise UploadRefused(_l('文件太大（%(size)s MB），最大 %(limit)s MB。请分成几个文件上传。',
                               size=f'{len(data) / 1024 / 1024:.1f}', limit=max_bytes // (1024 * 1024)))
    if data.startswith(b'PK\x03\x04') or data.startswith(b'PK\x05\x06'):
        check_xlsx_container(data)
        return Sniffed(XLSX)
    for magic, message in _MAGIC:
        if data.startswith(magic):
            raise UploadRefused(message)
    text, encoding = decode_text(data)
    if text is None or _BINARY.search(text[:65536]) or '\x00' in text:
        raise UploadRefused(_l('无法识别这个文件，它不是 Excel（.xlsx）或 CSV 表格。'))
    if not any(sep in text[:65536] for sep in (',', '\t', '，')):
        raise UploadRefused(_l('这个文件不像表格：找不到用逗号分隔的列。请上传 Excel（.xlsx）或 CSV 文件。'))
    return Sniffed(CSV, text, encoding)


def decode_text(data: bytes) -> tuple[str | None, str | None]:
    """UTF-8 (BOM or not) first, then GB18030 (a superset of GBK, as Chinese Excel/WPS write CSV)."""
    if data.startswith(b'\xef\xbb\xbf'):
        try:
            return data[3:].decode('utf-8'), 'utf-8-sig'
        except UnicodeDecodeError:
            return None, None
    for encoding in ('utf-8', 'gb18030'):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None, None


def check_xlsx_container(data: bytes) -> None:
    """Refuse a zip that is not a workbook or would inflate too far, reading only its central directory."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRefused(_l('文件已损坏，无法作为 Excel 打开。请在 Excel/WPS 中重新保存为 .xlsx 后上传。')) from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise UploadRefused(_l('文件结构异常（包含 %(n)s 个内部文件），已拒绝。请在 Excel 中另存为 .xlsx 后上传。',
                                   n=len(entries)))
        total = 0
        for entry in entries:
            total += entry.file_size
            if entry.file_size > RATIO_CHECK_ABOVE and entry.file_size > MAX_COMPRESSION_RATIO * max(
                    entry.compress_size, 1):
                raise UploadRefused(_l('文件解压后异常巨大（疑似“压缩炸弹”），已拒绝。请检查文件来源。'))
        if total > MAX_UNCOMPRESSED_BYTES:
            raise UploadRefused(_l('文件解压后超过 %(limit)s MB，已拒绝。请分成几个文件上传。',
                                   limit=MAX_UNCOMPRESSED_BYTES // (1024 * 1024)))
        names = {entry.filename for entry in entries}
        if 'xl/workbook.xml' not in names:
            if 'word/document.xml' in names:
                raise UploadRefused(_l('这是 Word 文档，不是表格。请上传 Excel 文件（.xlsx）或 CSV 文件。'))
            raise UploadRefused(_l('这是一个压缩包，不是 Excel 表格。请上传 .xlsx 或 CSV 文件。'))
        if any(entry.flag_bits & 0x1 for entry in entries):
            raise UploadRefused(_l('文件设置了密码，无法读取。请取消密码后再上传。'))
