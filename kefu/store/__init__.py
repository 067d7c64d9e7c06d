"""The shop backend: one data layer (SQLAlchemy + Alembic) for SQLite and
PostgreSQL. Actions use :class:`kefu.store.shop.ShopStore`, nothing else."""
