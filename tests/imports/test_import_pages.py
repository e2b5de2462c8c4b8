"""Staff import residents as a user would: upload, read the preview, import the valid rows, download the report."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from propsaas.jobs.models import JobRecord
from propsaas.property.models import Room
from propsaas.residents.models import ImportBatch, Occupancy, Resident
from tests.imports.conftest import HEADER, SAMPLE_FILES, batch_id_of, csv_bytes, resident_rows, sample, upload, xlsx


def text_of(response) -> str:
    return re.sub(r'\s+', ' ', response.get_data(as_text=True))


def tiles(page: str) -> dict:
    return {label: int(n) for label, n in re.findall(r'class="tile"[^>]*>(\S+) (\d+)</a>', page)}


def commit(client, batch_id):
    response = client.post(f'/residents/imports/{batch_id}/commit')
    assert response.status_code == 303
    return text_of(client.get(f'/residents/imports/{batch_id}'))


@pytest.mark.parametrize('name', SAMPLE_FILES)
def test_sample_preview_then_import_valid_rows(app, tenant, admin, counts, in_tenant, name):
    batch_id = batch_id_of(upload(admin, sample(name), name))
    page = text_of(admin.get(f'/residents/imports/{batch_id}'))
    assert '待确认导入' in page
    assert tiles(page) == {'新增': 94, '更新': 0, '无变化': 0, '重复': 1, '错误': 5, '有提醒': 1}
    assert '共 100 行' in page and '房屋 73 间' in page and '导入有效的 94 行' in page
    assert counts(tenant)['residents'] == 0  # the preview writes nothing

    errors = text_of(admin.get(f'/residents/imports/{batch_id}?kind=error'))
    for reason in ('姓名不能为空', '「1381234」不是有效的手机号', '「八十」不是数字', '「房东」不是业主/租户/家属之一',
                   '「2020-13-45」不是有效日期'):
        assert reason in errors
    assert '与第' in text_of(admin.get(f'/residents/imports/{batch_id}?kind=duplicate'))
    assert '座机' in text_of(admin.get(f'/residents/imports/{batch_id}?kind=warning'))
    assert '13815908301' not in page and '138****8301' in page  # mobiles masked, for admins too

    result = commit(admin, batch_id)
    assert '已导入' in result and '新建住户 94 人、入住记录 94 条' in result
    assert counts(tenant) | {'import_batches': 1} == {'buildings': 3, 'units': 6, 'rooms': 73, 'room_events': 73,
                                                      'residents': 94, 'occupancies': 94, 'import_batches': 1}
    with in_tenant(tenant) as session:
        landline = session.execute(sa.select(Resident).where(Resident.name == '李明海')).scalar_one()
        assert landline.mobile is None and landline.other_phone == '0571-88886666'
        room = session.execute(sa.select(Room).where(Room.code == '1-1-402')).scalar_one()
        assert str(room.area_m2) == '128.40' and room.floor == 4 and room.status == 'occupied'
        assert room.building.name == '1栋' and room.unit.name == '1单元'
        roles = dict(session.execute(sa.select(Resident.name, Occupancy.role).join(Occupancy)).all())
        assert roles['于浩磊'] == 'family' and roles['蔡强'] == 'renter' and roles['刘秀杰'] == 'owner'
        assert not session.execute(sa.select(Resident).where(Resident.name.in_(['肖勇', '曹燕', '沈娟', '何桂']))).all()


def test_reimporting_the_same_file_creates_nothing(tenant, admin, counts):
    commit(admin, batch_id_of(upload(admin, sample('residents_messy.xlsx'))))
    before = counts(tenant)
    batch_id = batch_id_of(upload(admin, sample('residents_gbk.csv'), 'again.csv'))
    page = text_of(admin.get(f'/residents/imports/{batch_id}'))
    assert tiles(page)['新增'] == 0 and tiles(page)['无变化'] == 94 and tiles(page)['更新'] == 0
    assert '房屋 0 间' in page
    result = commit(admin, batch_id)
    assert '新建住户 0 人' in result and '94 行无变化' in result
    assert counts(tenant) == before | {'import_batches': before['import_batches'] + 1}


def test_changed_values_update_existing_residents(tenant, admin, counts, in_tenant):
    first = csv_bytes([HEADER, ['1', '1', '101', '', '张三', '13800138000', '业主', '']])
    commit(admin, batch_id_of(upload(admin, first)))
    changed = csv_bytes([HEADER + ['身份证号'],
                         ['1', '1', '101', '88.5', '张三', '13900139000', '租户', '2024-05-01', '11010519491231002X'],
                         ['1', '1', '102', '', '张三', '13900139000', '业主', '', '']])
    batch_id = batch_id_of(upload(admin, changed))
    page = text_of(admin.get(f'/residents/imports/{batch_id}'))
    assert tiles(page)['更新'] == 1 and tiles(page)['新增'] == 1
    assert '将更新：手机号、身份证号、身份、入住日期、房屋面积' in page
    assert '11010519491231002X' not in page
    commit(admin, batch_id)
    with in_tenant(tenant) as session:
        [resident] = session.execute(sa.select(Resident)).scalars().all()  # the same person in two rooms
        assert (resident.mobile, resident.id_number) == ('13900139000', '11010519491231002X')
        assert sorted((o.room.code, o.role) for o in resident.occupancies) == [('1-1-101', 'renter'),
                                                                              ('1-1-102', 'owner')]
        assert str(session.execute(sa.select(Room.area_m2).where(Room.code == '1-1-101')).scalar_one()) == '88.50'


def test_a_bad_row_does_not_stop_the_others(tenant, admin, counts):
    rows = resident_rows(3) + [['1栋', '1单元', '999', '八十', '错误', '13800000000', '业主', '']]
    batch_id = batch_id_of(upload(admin, xlsx([HEADER] + rows)))
    assert tiles(text_of(admin.get(f'/residents/imports/{batch_id}'))) | {'有提醒': 0} == {
        '新增': 3, '更新': 0, '无变化': 0, '重复': 0, '错误': 1, '有提醒': 0}
    commit(admin, batch_id)
    assert counts(tenant)['residents'] == 3 and counts(tenant)['rooms'] == 3


def test_error_report_lists_rejected_rows_with_their_reason(admin):
    rows = [HEADER, ['1', '1', '101', '', '=HYPERLINK("http://x")', '1381234', '业主', ''],
            ['1', '1', '102', '', '正常', '13800138000', '业主', ''],
            ['1', '1', '102', '', '正常', '13800138000', '业主', ''],
            ['1', '1', '103', '@SUM(1)', '-坏', '13800138001', '房东', '']]
    batch_id = batch_id_of(upload(admin, csv_bytes(rows), 'rows.csv'))
    response = admin.get(f'/residents/imports/{batch_id}/errors.xlsx')
    assert response.status_code == 200 and response.mimetype.endswith('spreadsheetml.sheet')
    sheet = load_workbook(io.BytesIO(response.data)).active
    got = [[c if c is not None else '' for c in row] for row in sheet.iter_rows(values_only=True)]
    assert got[0] == HEADER + ['错误原因', '原文件行号']
    assert len(got) == 4
    assert got[1][:8] == ['1', '1', '101', '', '\'=HYPERLINK("http://x")', '1381234', '业主', '']
    assert '手机号：「1381234」不是有效的手机号' in got[1][8] and got[1][9] == 2
    assert '与第 3 行重复' in got[2][8] and got[2][9] == 4
    assert got[3][3] == "'@SUM(1)" and got[3][4] == "'-坏"
    assert '房东' in got[3][8] and '建筑面积' in got[3][8]


def test_upload_page_template_and_empty_state(admin):
    page = text_of(admin.get('/residents/imports'))
    assert '还没有导入过住户' in page and '下载导入模板' in page
    made = admin.post('/residents/imports/template')
    assert made.status_code == 303 and '/jobs/' in made.headers['Location']  # made by a job, served by jobs
    response = admin.get(made.headers['Location'])
    assert response.status_code == 200
    template = response.data
    response.close()
    book = load_workbook(io.BytesIO(template))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:8] == ('楼栋', '单元', '房号', '建筑面积(㎡)', '姓名', '手机号', '身份', '入住日期')
    assert len(rows) == 3 and book.sheetnames[1] == '说明'
    # the template itself imports cleanly
    batch_id = batch_id_of(upload(admin, template, '模板.xlsx'))
    assert tiles(text_of(admin.get(f'/residents/imports/{batch_id}')))['新增'] == 2


@pytest.mark.parametrize(('data', 'filename', 'words'), [
    (b'MZ\x90\x00' + b'\x00' * 500, 'residents.xlsx', '程序文件'),
    (b'%PDF-1.4 ...', 'residents.csv', 'PDF'),
    (csv_bytes([['楼栋', '备注'], ['1', 'x']]), 'residents.csv', '找不到表头'),
    (b'a,b\n' * (3 * 1024 * 1024), 'big.csv', '最大 10 MB'),
])
def test_refused_uploads_store_nothing(tenant, admin, counts, data, filename, words):
    response = upload(admin, data, filename)
    assert response.status_code == 422
    page = text_of(response)
    assert words in page and 'class="error"' in page
    assert counts(tenant)['import_batches'] == 0


def test_zip_bomb_upload_is_refused(tenant, admin, counts):
    from tests.imports.test_import_uploads import zip_bomb

    response = upload(admin, zip_bomb(), 'residents.xlsx')
    assert response.status_code == 422 and '压缩炸弹' in text_of(response)
    assert counts(tenant)['import_batches'] == 0


def test_no_file_is_a_form_error(admin):
    response = admin.post('/residents/imports', data={})
    assert response.status_code == 422 and '请选择要导入的文件' in text_of(response)


def test_preview_and_commit_run_as_jobs_with_progress(tenant, admin, in_tenant):
    batch_id = batch_id_of(upload(admin, xlsx([HEADER] + resident_rows(2500))))
    commit(admin, batch_id)
    with in_tenant(tenant) as session:
        jobs = {j.key: j for j in session.execute(sa.select(JobRecord)).scalars()}
        batch = session.get(ImportBatch, batch_id)
        assert batch.status == 'committed' and batch.stats['residents_created'] == 2500
        for key in (f'residents-import-preview:{batch_id}', f'residents-import-commit:{batch_id}'):
            assert jobs[key].status == JobRecord.DONE and jobs[key].progress == 100


def test_committing_twice_is_refused(tenant, admin):
    batch_id = batch_id_of(upload(admin, csv_bytes([HEADER, ['1', '1', '101', '', '甲', '', '', '']])))
    commit(admin, batch_id)
    again = admin.post(f'/residents/imports/{batch_id}/commit', follow_redirects=True)
    assert '不能导入' in text_of(again)


def test_who_may_import(tenant, make_user, client_for):
    batch_page = '/residents/imports'
    desk = client_for(tenant, make_user(tenant, 'staff', duties=['service_desk']))
    assert desk.get(batch_page).status_code == 200
    assert client_for(tenant, make_user(tenant, 'staff', duties=['technician'])).get(batch_page).status_code == 403
    assert client_for(tenant, make_user(tenant, 'resident')).get(batch_page).status_code == 403
    assert client_for(tenant).get(batch_page).status_code in (302, 401)


def test_another_tenants_batch_is_not_found(make_tenant, make_user, client_for, admin):
    batch_id = batch_id_of(upload(admin, sample('residents_utf8bom.csv'), 'a.csv'))
    other = make_tenant(name='别的小区')
    b_admin = client_for(other, make_user(other, 'admin'))
    for path in (f'/residents/imports/{batch_id}', f'/residents/imports/{batch_id}/errors.xlsx'):
        assert b_admin.get(path).status_code == 404
    assert b_admin.post(f'/residents/imports/{batch_id}/commit').status_code == 404
    assert 'a.csv' not in text_of(b_admin.get('/residents/imports'))


def test_the_same_rooms_in_two_tenants_stay_apart(make_tenant, make_user, client_for, counts, admin, tenant,
                                                  in_tenant):
    commit(admin, batch_id_of(upload(admin, sample('residents_messy.xlsx'))))
    other = make_tenant(name='别的小区')
    b_admin = client_for(other, make_user(other, 'admin'))
    batch_id = batch_id_of(upload(b_admin, sample('residents_gbk.csv')))
    assert tiles(text_of(b_admin.get(f'/residents/imports/{batch_id}')))['新增'] == 94  # A's residents are not B's
    commit(b_admin, batch_id)
    assert counts(other)['rooms'] == 73 and counts(tenant)['rooms'] == 73
    with in_tenant(tenant) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Resident)).scalar_one() == 94
