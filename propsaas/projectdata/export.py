"""A project's data exported whole (项目数据导出): every table of the project as one sheet of an .xlsx, plus its
stored files, in one zip that is the job's file.

The tables are found, not listed: every table in the metadata with a ``tenant_id`` column, so a feature's new
table is exported the day it lands. Rows are read in the tenant's scope (the ORM wall, and RLS on PostgreSQL)
and filtered by ``tenant_id`` explicitly as well (``tenant_hostnames`` is a platform table the scope doesn't
touch). Secrets are never written: password and token hashes, and the passwords and keys inside channel and
payment settings, read 「已隐去」.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .. import storage
from ..documents.spreadsheets import safe_cell
from ..extensions import db
from ..jobs.queue import job, report_progress
from ..tenancy.context import current_tenant_id, platform_scope
from ..tenancy.models import Tenant

#: where the zip is kept in the project's files (left out of the zip itself)
EXPORT_FOLDER = 'project-data'
WORKBOOK_NAME = '项目数据.xlsx'
README_NAME = '说明.txt'
FILES_FOLDER = 'files'
REDACTED = '（已隐去）'
#: columns never exported (password hashes, invitation and API token hashes)
SECRET_COLUMN = re.compile(r'password|secret|token|_hash$')
#: keys inside JSON settings never exported (SMTP passwords, SMS AccessKey secrets, payment private keys ...)
SECRET_KEY = re.compile(r'password|secret|private|token|apiv3|_key$')
#: Excel's limit for one cell's text
CELL_LIMIT = 32767
BATCH = 1000


def tenant_tables() -> list[sa.Table]:
    """Every table holding rows of a project (those with a ``tenant_id`` column), parents before children."""
    return [table for table in db.metadata.sorted_tables if 'tenant_id' in table.c]


def export_key(slug: str) -> str:
    return f'{EXPORT_FOLDER}/{slug}-data.zip'


@job(_l('导出项目全部数据'))
def export_project_data() -> dict:
    """Write the current project's every table and stored files into one zip (the job's file).

    Idempotent: the zip has a fixed key per project and replaces the last one atomically; readers never see half a
    file. Progress: the tables up to 80%, the files the rest.
    """
    tenant_id = current_tenant_id()
    with platform_scope():
        slug = db.session.execute(sa.select(Tenant.slug).where(Tenant.id == tenant_id)).scalar_one()
    key = export_key(slug)
    target = storage.path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    fd, tmp_zip = tempfile.mkstemp(dir=target.parent, prefix='.tmp-', suffix='.zip')
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_zip, 'w', compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            workbook = _write_workbook(tenant_id, target.parent, counts)
            try:
                archive.write(workbook, WORKBOOK_NAME)
            finally:
                workbook.unlink(missing_ok=True)
            files = _add_files(archive, tenant_id)
            archive.writestr(README_NAME, _readme(slug, counts, files))
        os.replace(tmp_zip, target)
    except BaseException:
        Path(tmp_zip).unlink(missing_ok=True)
        raise
    return {'file': key, 'tables': len(counts), 'rows': sum(counts.values()), 'files': files}


def _write_workbook(tenant_id: int, folder: Path, counts: dict[str, int]) -> Path:
    """The .xlsx, streamed (write-only: rows go to disk as they come) into a temp file in ``folder``."""
    book = Workbook(write_only=True)
    tables = tenant_tables()
    for n, table in enumerate(tables):
        sheet = book.create_sheet(_sheet_name(table.name, book.sheetnames))
        columns = list(table.c)
        sheet.append([column.name for column in columns])
        secret = [bool(SECRET_COLUMN.search(column.name)) for column in columns]
        query = (sa.select(*columns).where(table.c.tenant_id == tenant_id)
                 .order_by(*(table.primary_key.columns or columns[:1])).execution_options(yield_per=BATCH))
        rows = 0
        for partition in db.session.execute(query).partitions(BATCH):
            for row in partition:
                sheet.append([REDACTED if hidden and value is not None else cell_value(value)
                              for value, hidden in zip(row, secret, strict=True)])
            rows += len(partition)
        counts[table.name] = rows
        report_progress((n + 1) * 80 // len(tables))
    fd, path = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix='.xlsx')
    os.close(fd)
    try:
        book.save(path)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    db.session.rollback()  # end the long read transaction
    return Path(path)


def _sheet_name(table_name: str, taken: list[str]) -> str:
    name = table_name[:31]  # Excel's limit
    n = 2
    while name in taken:
        name = f'{table_name[:28]}~{n}'
        n += 1
    return name


def cell_value(value):
    """One database value as a spreadsheet cell: formula-safe text, naive UTC times, JSON as text."""
    if value is None or isinstance(value, (bool, int, float, Decimal)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, (dict, list)):
        value = json.dumps(_redact(value), ensure_ascii=False, sort_keys=True)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).hex()
    elif not isinstance(value, str) and not hasattr(value, 'isoformat'):
        value = str(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub('', value)[:CELL_LIMIT]
        return safe_cell(value)
    return value  # date, time


def _redact(value):
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET_KEY.search(str(k)) and v not in (None, '') else _redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _add_files(archive: zipfile.ZipFile, tenant_id: int) -> int:
    """The project's stored files under ``files/``, as stored (keys are paths); not its earlier exports, nor temp
    files of writes under way."""
    root = storage.tenant_root(tenant_id)
    if not root.exists():
        report_progress(100)
        return 0
    paths = sorted(p for p in root.rglob('*') if p.is_file() and not p.is_symlink()
                   and not p.name.startswith('.tmp-') and p.relative_to(root).parts[0] != EXPORT_FOLDER)
    for n, path in enumerate(paths, 1):
        try:
            archive.write(path, f'{FILES_FOLDER}/{path.relative_to(root).as_posix()}')
        except FileNotFoundError:  # removed meanwhile (a photo deleted while the export ran)
            continue
        if n % 50 == 0:
            report_progress(80 + n * 20 // len(paths))
    return len(paths)


def _readme(slug: str, counts: dict[str, int], files: int) -> str:
    lines = [f'项目 {slug} 的全部数据（Project data export）',
             f'导出时间（UTC）：{datetime.now(UTC):%Y-%m-%d %H:%M:%S}',
             '',
             f'{WORKBOOK_NAME}：每张数据表一个工作表，首行为列名；时间为 UTC；密码、令牌和接口密钥已隐去。',
             f'{FILES_FOLDER}/：项目存储的文件（照片、附件、生成的文档），路径即存储键。共 {files} 个文件。',
             '',
             '表 / 行数：']
    lines += [f'  {name}: {rows}' for name, rows in counts.items()]
    return '\n'.join(lines) + '\n'
