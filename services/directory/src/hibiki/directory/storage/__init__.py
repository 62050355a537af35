"""The configuration of record: SQLAlchemy 2 tables, Alembic migrations, loading the view."""
