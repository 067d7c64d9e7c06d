"""The custom actions against a real shop database (SQLite and PostgreSQL)."""
