"""Helpers shared by the job tests (imported as ``tests.jobs.support``)."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook

HEADER = ['姓名', '角色', '手机号', '邮箱', '状态']
MOBILE_RE = re.compile(r'1\d{10}')
EXPORT_KEY = 'exports/users.xlsx'


def read_export(data: bytes) -> dict:
    """The users sheet of an export: header, rows, and the cells a spreadsheet would run as formulas."""
    book = load_workbook(io.BytesIO(data))
    sheet = book['用户']
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    formulas = [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == 'f']
    book.close()
    return {'header': rows[0], 'rows': rows[1:], 'formulas': formulas, 'sheets': book.sheetnames}


def all_text(rows) -> str:
    return '\n'.join('\t'.join('' if v is None else str(v) for v in row) for row in rows)
