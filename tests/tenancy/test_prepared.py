"""core.prepared: a statement built once per dialect and shape, run with bind parameters, serves every tenant."""
import sqlalchemy as sa

from propsaas.auth.models import User
from propsaas.core.prepared import prepared
from propsaas.extensions import db
from propsaas.tenancy.context import platform_scope

built = []


@prepared
def _residents_named(prefix_only: bool):
    """Residents (counted in a plain-table subquery, which only the compile-time criteria scope) named like :name."""
    built.append(prefix_only)
    users = User.__table__
    pattern = sa.bindparam('name') + '%' if prefix_only else sa.bindparam('name')
    named = sa.select(users.c.id).where(users.c.role == 'resident', users.c.name.like(pattern)).subquery()
    return sa.select(sa.func.count()).select_from(named)


def test_built_once_per_shape_and_run_by_each_tenant_with_its_own_rows(app, make_tenant, make_user, in_tenant):
    a, b = make_tenant(name='甲'), make_tenant(name='乙')
    for tenant, names in ((a, ('张三', '张四', '李五')), (b, ('张六',))):
        for name in names:
            make_user(tenant, 'resident', name=name)
    built.clear()
    for tenant, expected in ((a, 2), (b, 1), (a, 2)):
        with in_tenant(tenant) as session:
            assert session.execute(_residents_named(True), {'name': '张'}).scalar_one() == expected
            assert session.execute(_residents_named(False), {'name': '李五'}).scalar_one() == (tenant is a)
    assert built == [True, False]  # once per shape, however many runs and tenants
    with app.app_context(), platform_scope():
        assert db.session.execute(_residents_named(True), {'name': '张'}).scalar_one() >= 3
    assert built == [True, False]
