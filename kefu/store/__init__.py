"""The data layer: one SQLAlchemy + Alembic schema for SQLite and PostgreSQL
(`models/` by area, `migrations/`), the shop (`shop.py`, what actions read
and write), the agent desk (`desk/`), rate limits and the demo shop's seed."""
