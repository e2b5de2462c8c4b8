"""Uploads are judged by their content: zip bombs, programs, documents and oversize files are refused with a Chinese
message before anything is decompressed or parsed."""
from __future__ import annotations

import io
import zipfile

import pytest

from propsaas.documents import uploads
from propsaas.documents.uploads import UploadRefused, sniff_spreadsheet
from tests.imports.conftest import HEADER, csv_bytes, sample, xlsx


def zip_bomb(size_mb: int = 64) -> bytes:
    """An 'xlsx' whose sheet inflates from a few dozen KB to ``size_mb`` MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr('[Content_Types].xml', '<Types/>')
        archive.writestr('xl/workbook.xml', '<workbook/>')
        with archive.open('xl/worksheets/sheet1.xml', 'w') as sheet:
            chunk = b'\0' * (1024 * 1024)
            for _ in range(size_mb):
                sheet.write(chunk)
    return buffer.getvalue()


def refused(data: bytes, **kw) -> str:
    with pytest.raises(UploadRefused) as caught:
        sniff_spreadsheet(data, **kw)
    message = str(caught.value.message)
    assert any('\u4e00' <= ch <= '\u9fff' for ch in message), message  # said in Chinese
    assert caught.value.field == 'file'
    return message


def test_zip_bomb_is_refused_without_decompressing_it(monkeypatch):
    bomb = zip_bomb()
    assert len(bomb) < 1024 * 1024  # tiny on the wire

    def no_inflating(*args, **kwargs):
        raise AssertionError('the check decompressed an entry')

    monkeypatch.setattr(zipfile.ZipExtFile, 'read', no_inflating)
    assert '压缩炸弹' in refused(bomb)


def test_many_moderately_compressed_entries_over_the_total_are_refused(monkeypatch):
    monkeypatch.setattr(uploads, 'MAX_UNCOMPRESSED_BYTES', 1024 * 1024)
    big = xlsx([HEADER] + [['1', '1', str(100 + i), '', f'甲{i}' * 20, '', '', ''] for i in range(5000)])
    assert '解压后超过' in refused(big)


def test_zip_with_too_many_entries_is_refused(monkeypatch):
    monkeypatch.setattr(uploads, 'MAX_ZIP_ENTRIES', 5)
    assert '内部文件' in refused(xlsx([HEADER]))


@pytest.mark.parametrize(('data', 'words'), [
    (b'MZ\x90\x00\x03\x00\x00\x00' + b'\x00' * 200, '程序文件'),           # a renamed .exe
    (b'%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'PDF'),
    (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + b'\x00' * 100, '.xls'),          # old Excel / encrypted workbook
    (b'\x89PNG\r\n\x1a\n' + b'\x00' * 50, '图片'),
    (bytes(range(256)) * 4, '无法识别'),                                      # binary noise
    (b'hello world, this is not a table\n'.replace(b',', b''), '不像表格'),
])
def test_non_spreadsheets_are_refused(data, words):
    assert words in refused(data)


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('word/document.xml', '<w/>')
    assert 'Word' in refused(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('photos/a.jpg', b'\xff\xd8\xff')
    assert '压缩包' in refused(buffer.getvalue())
    assert '损坏' in refused(b'PK\x03\x04' + b'\x00' * 40)


def test_oversize_and_empty_files_are_refused():
    assert '最大 10 MB' in refused(b'a,b\n' * (3 * 1024 * 1024))
    assert '最大 1 MB' in refused(b'a,b\n' * 300_000, max_bytes=1024 * 1024)
    assert '空的' in refused(b'')


@pytest.mark.parametrize(('name', 'kind', 'encoding'), [
    ('residents_messy.xlsx', 'xlsx', None), ('residents_gbk.csv', 'csv', 'gb18030'),
    ('residents_utf8bom.csv', 'csv', 'utf-8-sig'),
])
def test_the_samples_are_accepted_whatever_they_are_called(name, kind, encoding):
    sniffed = sniff_spreadsheet(sample(name))
    assert (sniffed.kind, sniffed.encoding) == (kind, encoding)
    if kind == 'csv':
        assert sniffed.text.startswith('楼栋号,单元,房号')


def test_plain_utf8_and_gbk_csv():
    assert sniff_spreadsheet(csv_bytes([HEADER], 'utf-8')).encoding == 'utf-8'
    assert sniff_spreadsheet(csv_bytes([HEADER], 'gbk')).encoding == 'gb18030'
