"""The ORM wall: every statement on a scoped model is filtered, stamped and checked; none runs without a tenant."""
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from propsaas.auth.models import AccessToken, User
from propsaas.extensions import db
from propsaas.jobs.models import JobRecord
from propsaas.tenancy.context import CrossTenantError, NoTenantError, platform_scope, tenant_scope
from propsaas.tenancy.models import Tenant
from propsaas.tenancy.scoping import TenantScoped


@pytest.fixture
def two_tenants(make_tenant, make_user):
    a, b = make_tenant(name='A'), make_tenant(name='B')
    ids = {'a': [make_user(a, 'resident', name=f'a-{i}') for i in range(3)],
           'b': [make_user(b, 'resident', name=f'b-{i}') for i in range(2)]}
    return a, b, ids


def names(session):
    return sorted(session.execute(sa.select(User.name)).scalars())


def test_select_sees_only_the_current_tenant(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(a) as session:
        assert all(n.startswith('a-') or n == '管理员' for n in names(session))
        assert session.execute(sa.select(User).where(User.id == ids['b'][0])).scalar_one_or_none() is None
        # Joins and aggregates are scoped too.
        assert session.execute(sa.select(sa.func.count(User.id))).scalar_one() == 4  # 3 residents + admin


def test_no_tenant_raises(app):
    with app.app_context():
        with pytest.raises(NoTenantError):
            db.session.execute(sa.select(User)).all()
        with pytest.raises(NoTenantError):
            db.session.execute(sa.update(User).values(name='x'))
        with pytest.raises(NoTenantError):
            db.session.execute(sa.delete(JobRecord))
        with pytest.raises(NoTenantError):
            db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()
        db.session.rollback()


def test_new_rows_are_stamped_and_without_a_tenant_refused(app, make_tenant, in_tenant):
    a = make_tenant()
    with in_tenant(a) as session:
        user = User(name='新人', mobile='13911112222', role='resident')
        session.add(user)
        session.flush()
        assert user.tenant_id == a.id
    with app.app_context():
        db.session.add(User(name='无主', mobile='13911113333', role='resident'))
        with pytest.raises(NoTenantError):
            db.session.flush()
        db.session.rollback()


def test_bulk_update_and_delete_are_scoped(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(a) as session:
        session.execute(sa.update(User).values(name='renamed'))
        session.execute(sa.delete(AccessToken))
        session.execute(sa.delete(User).where(User.role == 'resident'))
    with in_tenant(b) as session:
        assert names(session) == ['b-0', 'b-1', '管理员']
    with in_tenant(a) as session:
        assert names(session) == ['renamed']


def test_objects_of_another_tenant_cannot_be_written_or_attached(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with app.app_context():
        with platform_scope():
            b_user = db.session.get(User, ids['b'][0])
        with tenant_scope(a.id):
            b_user.name = 'hijacked'
            with pytest.raises(CrossTenantError):
                db.session.flush()
            db.session.rollback()
        with tenant_scope(a.id):
            with platform_scope():
                b_user = db.session.get(User, ids['b'][0])
            token = AccessToken(user=b_user, kind='api', token_hash='x' * 64, expires_at=sa.func.now())
            db.session.add(token)
            with pytest.raises(CrossTenantError):
                db.session.flush()
            db.session.rollback()


def test_tenant_id_is_immutable(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(a) as session:
        user = session.execute(sa.select(User).where(User.id == ids['a'][0])).scalar_one()
        user.tenant_id = b.id
        with pytest.raises(CrossTenantError):
            session.flush()
        session.rollback()


def test_identity_map_cannot_hand_over_another_tenants_row(app, two_tenants):
    a, b, ids = two_tenants
    with app.app_context():
        with tenant_scope(b.id):
            db.session.execute(sa.select(User).where(User.id == ids['b'][0])).scalar_one()  # now in the identity map
        with tenant_scope(a.id):
            found = db.session.execute(sa.select(User).where(User.id == ids['b'][0])).scalar_one_or_none()
            assert found is None


def test_table_only_named_in_where_is_scoped(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(b) as session:
        residents = sa.select(sa.func.count()).where(User.role == 'resident')
        assert session.execute(residents).scalar_one() == 2
        joined = sa.select(sa.func.count()).select_from(User).join(AccessToken, AccessToken.user_id == User.id)
        assert session.execute(joined).scalar_one() == 0
        # An outer join keeps the rows with nothing on its other side.
        outer = sa.select(User.name).outerjoin(AccessToken, AccessToken.user_id == User.id)
        assert len(session.execute(outer).all()) == 3


def test_entity_free_select_from_is_scoped(app, two_tenants, in_tenant):
    """``count(*)`` names no entity, only the table in FROM: still filtered."""
    a, b, ids = two_tenants
    with in_tenant(b) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 3


def test_every_unique_constraint_on_a_scoped_table_includes_tenant_id(app):
    scoped = [m.class_ for m in db.Model.registry.mappers if issubclass(m.class_, TenantScoped)]
    assert {c.__tablename__ for c in scoped} >= {'users', 'access_tokens', 'job_records'}
    for model in scoped:
        table = model.__table__
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                assert 'tenant_id' in constraint.columns, f'{table.name}: {constraint.name} lacks tenant_id'
        for index in table.indexes:
            if index.unique:
                assert 'tenant_id' in index.columns, f'{table.name}: {index.name} lacks tenant_id'
        assert not any(c.unique for c in table.columns), f'{table.name} has a column unique across tenants'


def test_tables_with_tenant_id_are_scoped_or_known_platform_tables(app):
    platform_tables = {'tenant_hostnames'}  # read before a tenant is known; unique across the platform
    scoped = {m.class_.__tablename__ for m in db.Model.registry.mappers if issubclass(m.class_, TenantScoped)}
    for table in db.metadata.tables.values():
        if 'tenant_id' in table.columns:
            assert table.name in scoped | platform_tables, f'{table.name} has tenant_id but is not TenantScoped'


def test_same_unique_values_in_two_tenants(app, make_tenant, make_user, in_tenant):
    a, b = make_tenant(), make_tenant()
    make_user(a, 'resident', mobile='13700001111')
    make_user(b, 'resident', mobile='13700001111')  # no error: unique per tenant, and nothing reveals A has it
    with in_tenant(b) as session:
        assert session.execute(sa.select(sa.func.count(User.id)).where(User.mobile == '13700001111')).scalar_one() == 1


def test_platform_scope_sees_all_and_is_explicit(app, two_tenants):
    a, b, ids = two_tenants
    with app.app_context(), platform_scope():
        tenants = {t for t in db.session.execute(sa.select(User.tenant_id)).scalars()}
        assert {a.id, b.id} <= tenants
        assert db.session.get(Tenant, a.id).name == 'A'


def test_subqueries_are_scoped_too(app, two_tenants, in_tenant):
    """Scoped tables inside EXISTS, IN and FROM subqueries of any statement are filtered like the top level."""
    a, b, ids = two_tenants
    a_name = 'a-0'
    with in_tenant(b) as session:
        exists = sa.select(sa.exists().where(User.name == a_name))
        assert session.execute(exists).scalar_one() is False
        where_exists = sa.select(sa.func.count()).select_from(User).where(
            sa.exists().where(AccessToken.user_id == User.id))
        assert session.execute(where_exists).scalar_one() == 0
        inner = sa.select(User.id).where(User.role == 'resident').subquery()
        assert session.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one() == 2
        in_ids = sa.select(sa.func.count()).select_from(User).where(
            User.id.in_(sa.select(User.id).where(User.name.like('a-%'))))
        assert session.execute(in_ids).scalar_one() == 0
        scalar = sa.select(sa.select(sa.func.count(User.id)).scalar_subquery())
        assert session.execute(scalar).scalar_one() == 3
        entity_with_exists = sa.select(User.name).where(sa.exists().where(User.name == a_name))
        assert session.execute(entity_with_exists).all() == []


def test_subqueries_of_statements_with_loader_options_are_scoped(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(b) as session:
        query = (sa.select(User).options(sa.orm.defer(User.password_hash))
                 .where(sa.exists().where(AccessToken.user_id == User.id) | (User.name.like('b-%'))))
        assert sorted(u.name for u in session.execute(query).scalars()) == ['b-0', 'b-1']


def test_bulk_update_with_a_subquery_touches_only_this_tenant(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(b) as session:
        every_resident = sa.select(User.id).where(User.role == 'resident')
        session.execute(sa.update(User).where(User.id.in_(every_resident)).values(locale='en'),
                        execution_options={'synchronize_session': False})
        users = User.__table__
        plain = sa.select(sa.literal_column('id')).select_from(users).where(users.c.role == 'resident')
        session.execute(sa.update(User).where(User.id.in_(plain)).values(locale='en'),
                        execution_options={'synchronize_session': False})
    with in_tenant(a) as session:
        assert session.execute(sa.select(User.locale).where(User.role == 'resident')).scalars().all() == [None] * 3


def test_one_statement_run_by_two_tenants_and_the_platform_sees_each_ones_rows(app, two_tenants):
    """The nested criteria are compiled once and cached; the tenant is read each time the statement runs, and SQL
    compiled in platform scope (no criteria) is never reused in a tenant's scope, nor the other way round."""
    a, b, ids = two_tenants
    users = User.__table__  # plain tables: the entity criteria don't reach them in subqueries
    residents = sa.select(users.c.id).where(users.c.role == 'resident')
    statement = sa.select(sa.func.count()).select_from(residents.subquery())
    union = sa.union_all(sa.select(users.c.name).where(users.c.name.like('%-0')), sa.select(users.c.name).where(
        users.c.name.like('%-1'))).subquery()
    names_in_union = sa.select(union.c.name).order_by(union.c.name)
    cte = residents.cte('residents')
    via_cte = sa.select(sa.func.count()).select_from(User).where(User.id.in_(sa.select(cte.c.id)))
    entities = sa.select(User.name).where(User.role == 'resident').order_by(User.name)  # the entity criteria
    expected = {'platform': None, a.id: (3, ['a-0', 'a-1'], 3, ['a-0', 'a-1', 'a-2']),
                b.id: (2, ['b-0', 'b-1'], 2, ['b-0', 'b-1'])}
    for scope in ('platform', a.id, b.id, 'platform', b.id, a.id):
        with app.app_context(), (platform_scope() if scope == 'platform' else tenant_scope(scope)):
            got = (db.session.execute(statement).scalar_one(), db.session.execute(names_in_union).scalars().all(),
                   db.session.execute(via_cte).scalar_one(), db.session.execute(entities).scalars().all())
        if scope == 'platform':
            assert got[0] >= 5 and {'a-0', 'a-1', 'b-0', 'b-1'} <= set(got[1]) and got[2] >= 5
            assert {'a-0', 'b-0'} <= set(got[3])
        else:
            assert got == expected[scope]


def test_correlated_subqueries_count_only_this_tenants_rows(app, two_tenants, in_tenant):
    a, b, ids = two_tenants
    with in_tenant(a) as session:
        session.add(AccessToken(user_id=ids['a'][0], kind='session', token_hash='x' * 64,
                                expires_at=datetime.now(UTC) + timedelta(days=1)))
        session.commit()
    access_tokens = AccessToken.__table__
    tokens = (sa.select(sa.func.count(access_tokens.c.id)).where(access_tokens.c.user_id == User.id)
              .correlate(User).scalar_subquery())
    per_user = sa.select(User.name, tokens).where(User.role == 'resident').order_by(User.name)
    with in_tenant(a) as session:
        assert session.execute(per_user).all() == [('a-0', 1), ('a-1', 0), ('a-2', 0)]
    with in_tenant(b) as session:
        assert session.execute(per_user).all() == [('b-0', 0), ('b-1', 0)]
