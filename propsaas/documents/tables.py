"""Reading tabular files as Chinese offices save them: .xlsx, or .csv in UTF-8, UTF-8 with BOM or GBK."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook

MAX_ROWS = 10_000


class TableError(ValueError):
    pass


def decode_csv(data: bytes) -> str:
    for encoding in ('utf-8-sig', 'gb18030'):  # gb18030 is a superset of GBK, as WPS writes it
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError('file is neither UTF-8 nor GBK text')


def read_rows(path: str | Path, *, max_rows: int = MAX_ROWS) -> list[tuple[int, dict[str, str]]]:
    """(line number, {header: value}) for every non-empty row; header names are stripped and lowercased."""
    path = Path(path)
    if path.suffix.lower() == '.xlsx':
        book = load_workbook(path, read_only=True, data_only=True)
        raw = [[('' if v is None else str(v)) for v in row] for row in book.active.iter_rows(values_only=True)]
        book.close()
    else:
        raw = list(csv.reader(io.StringIO(decode_csv(path.read_bytes()))))
    if not raw:
        raise TableError('file is empty')
    if len(raw) - 1 > max_rows:
        raise TableError(f'file has more than {max_rows} rows')
    header = [h.strip().lower() for h in raw[0]]
    rows = []
    for number, values in enumerate(raw[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        rows.append((number, {h: (values[i].strip() if i < len(values) else '') for i, h in enumerate(header) if h}))
    return rows
