from contextlib import contextmanager

from sqlalchemy import event

from propsaas.extensions import db


@contextmanager
def count_queries(app):
    """Collect the SQL statements run on the app's engine inside the block."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, 'before_cursor_execute', record)
    try:
        yield statements
    finally:
        event.remove(engine, 'before_cursor_execute', record)
