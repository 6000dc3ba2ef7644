"""Alembic environment: online migrations only, against DATABASE_URL."""

from alembic import context
from sqlalchemy import create_engine

from opsbook_app import config as app_config

if context.config.config_file_name:
    from logging.config import fileConfig

    fileConfig(context.config.config_file_name)

engine = create_engine(app_config.database_url())
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
