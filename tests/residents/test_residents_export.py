"""Exporting the residents list: a job that writes the list as filtered, masked and neutralised."""
from __future__ import annotations

import json
from datetime import date

from openpyxl import load_workbook

from propsaas.jobs.models import JobRecord
from propsaas.residents.export import HEADER
from propsaas.storage import path_for
from tests.residents.conftest import ID_A, ID_B


def read_export(in_tenant, estate, job_id) -> list[dict]:
    with in_tenant(estate.tenant) as session:
        record = session.get(JobRecord, job_id)
        assert record.status == JobRecord.DONE, record.error
        book = load_workbook(path_for(record.result_file), read_only=True)
        rows = [list(row) for row in book.active.iter_rows(values_only=True)]
        book.close()
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def export(client, **filters):
    response = client.post('/residents/export', data=filters)
    assert response.status_code == 302, response.text
    assert '/jobs/' in response.location
    return int(response.location.rsplit('/', 1)[1]), client.get(response.location)


def test_export_is_masked_neutralised_and_follows_the_filters(estate, client_for, add_resident, in_tenant):
    e = estate()
    add_resident(e, '=HYPERLINK("http://x")', '3-2-1201', mobile='13800138000', id_number=ID_B,
                 other_phone='0571-88886666', plates=['浙A12345'])
    add_resident(e, '李四', '3-2-1202', role='renter', mobile='13912345678', id_number=ID_A)
    add_resident(e, '五栋', '5-1-1201', mobile='13700001111')
    add_resident(e, '迁走', '3-2-1202', mobile='13700002222', moved_out_on=date(2022, 1, 1))
    admin = client_for(e.tenant, e.admin)
    job_id, page = export(admin, building_id=e.buildings['3'])
    assert '下载结果文件' in page.text and '导出住户名单' in page.text
    rows = read_export(in_tenant, e, job_id)
    assert [r['姓名'] for r in rows] == ['\'=HYPERLINK("http://x")', '李四']  # 5栋 and the moved-out left out
    first = rows[0]
    assert (first['楼栋'], first['单元'], first['房号'], first['房屋编码']) == ('3栋', '2单元', '1201', '3-2-1201')
    assert (first['手机号'], first['身份证号'], first['其他电话']) == ('138****8000', '**************4477',
                                                                '****-****6666')
    assert first['车辆'] == '浙A12345' and first['身份'] == '业主' and first['状态'] == '在住'
    text = json.dumps(rows, ensure_ascii=False)
    for full in ('13800138000', ID_B, ID_A, '13912345678', '88886666'):
        assert full not in text  # masked even for admins: paper
    download = admin.get(f'/jobs/{job_id}/download')
    assert download.status_code == 200 and download.data[:2] == b'PK'
    download.close()

    job_id, _ = export(admin, status='moved_out')
    assert [(r['姓名'], r['状态'], r['迁出日期']) for r in read_export(in_tenant, e, job_id)] == [
        ('迁走', '已迁出', '2022-01-01')]
    job_id, _ = export(admin, q='1201', status='all')
    assert {r['姓名'] for r in read_export(in_tenant, e, job_id)} == {'\'=HYPERLINK("http://x")', '五栋'}


def test_service_desk_downloads_its_own_export_other_staff_may_not_export(estate, client_for, add_resident):
    e = estate()
    add_resident(e, '张三', '3-2-1201')
    desk = client_for(e.tenant, e.desk)
    job_id, _ = export(desk, role='owner')
    download = desk.get(f'/jobs/{job_id}/download')
    assert download.status_code == 200
    download.close()
    assert client_for(e.tenant, e.staff).post('/residents/export').status_code == 403
    bad = desk.post('/residents/export', data={'status': 'bogus'}, follow_redirects=True)
    assert '筛选条件有误' in bad.text


def test_export_stays_in_its_project(estate, client_for, add_resident, in_tenant):
    a, b = estate('住户测试甲苑'), estate('住户测试乙苑')
    add_resident(a, '甲的住户', '3-2-1201', mobile='13800001234')
    add_resident(b, '乙的住户', '3-2-1201', mobile='13800005678')
    job_id, _ = export(client_for(b.tenant, b.admin), status='all')
    assert [r['姓名'] for r in read_export(in_tenant, b, job_id)] == ['乙的住户']
    assert client_for(a.tenant, a.admin).get(f'/jobs/{job_id}/download').status_code == 404
