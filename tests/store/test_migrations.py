"""The migrations: they build exactly the models' schema, and 0005 on a
database that already holds analytics written the
old way: raw sender ids become keyed hashes, texts lose their personal
data, and the e-mail channel is called ``mail``; nothing else is lost."""
from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from kefu.core.ids import conversation_key
from kefu.store.db import alembic_config, make_engine, migrate


def test_old_analytics_rows_are_hashed_and_anonymised(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("insert into analytics_conversations (id, sender_id, conversation_key, channel, started_at, "
                        "last_event_at, user_messages) values (1, '13800001111', 'plain', 'email', "
                        "'2026-03-02 09:00:00', '2026-03-02 09:00:00', 1)"))
        db.execute(text("insert into analytics_turns (id, conversation_id, sender_id, event_time, created_at, channel, "
                        "text, fallback, low_confidence) values (1, 1, '13800001111', 1, '2026-03-02 09:00:00', "
                        "'email', '我手机13912345678 订单2611010000000001', 0, 0)"))
        db.execute(text("insert into misunderstood_messages (id, turn_id, text, reason, created_at, status) "
                        "values (1, 1, '邮箱li.lei@example.com 在吗', 'fallback', '2026-03-02 09:00:00', 'new')"))
    migrate(url)
    with engine.connect() as db:
        conversation = db.execute(text("select * from analytics_conversations")).mappings().one()
        turn = db.execute(text("select * from analytics_turns")).mappings().one()
        message = db.execute(text("select text from misunderstood_messages")).scalar()
    assert "sender_id" not in conversation and "sender_id" not in turn
    assert conversation["conversation_key"] == turn["conversation_key"] == conversation_key("13800001111")
    assert conversation["channel"] == turn["channel"] == "mail"
    assert turn["text"] == "我手机<phone> 订单<order>" and message == "邮箱<email> 在吗"
    command.downgrade(alembic_config(url), "0004")  # and back, schema-wise
    with engine.connect() as db:
        assert db.execute(text("select count(*) from analytics_turns")).scalar() == 1
    engine.dispose()


def test_the_migrations_build_exactly_the_models_tables(db_url):
    """Every table, column and index the models declare is what the
    migrations create, on SQLite and PostgreSQL: a model change without its
    migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kefu.store.models import Base

    migrate(db_url)
    engine = make_engine(db_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
