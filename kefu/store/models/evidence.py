"""Photo evidence: one row per photo a shopper sent, attached to the
after-sale request or ticket it supports (none yet while the form runs)."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String

from kefu.store.models.base import Base


class Evidence(Base):
    __tablename__ = "evidence"

    id = Column(String(32), primary_key=True)  # random: an id is not a way in, nor the content hash
    conversation_key = Column(String(64), nullable=False)
    channel = Column(String(16), nullable=False)
    sha256 = Column(String(64), nullable=False)
    content_type = Column(String(32), nullable=False)
    size = Column(Integer, nullable=False)
    width = Column(Integer, nullable=False)
    height = Column(Integer, nullable=False)
    storage_key = Column(String(128), nullable=False)
    thumbnail_key = Column(String(128), nullable=False)
    aftersale_number = Column(Integer, ForeignKey("aftersale_requests.number"), index=True)
    ticket_number = Column(Integer, ForeignKey("tickets.number"), index=True)
    created_at = Column(DateTime, nullable=False)

    __table_args__ = (Index("ix_evidence_conversation", "conversation_key", "created_at"),)
