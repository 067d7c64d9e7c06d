"""How a service record reads, in the shopper's language: as one chat
message (every channel) and as the widget's panel (JSON).

Every word is a response of domain.yml: ``utter_record_*`` for titles and
lines, ``utter_record_next_<aftersale|ticket>_<status>`` for the next step of
each status, ``utter_label_*`` and ``utter_topic_*`` for statuses, kinds and
subjects (kefu.core.labels). This module only puts them in order.
"""
from __future__ import annotations

from typing import Any, Dict, List

from kefu.core import responses
from kefu.core.labels import china_time, label, listing, phrase, topic, yuan
from kefu.store.record import AftersaleEntry, ConversationEntry, ServiceRecord, TicketEntry

#: the record's sections in the order a shopper reads them
SECTIONS = ("aftersales", "tickets", "conversations")
#: what one chat message shows of each section, newest first: a WeChat text
#: stays under its 2048 bytes, a phone screen stays readable
MESSAGE_ITEMS = {"aftersales": 4, "tickets": 4, "conversations": 3}


def _next_step(kind: str, status: str, lang: str, **values: object) -> str:
    name = f"utter_record_next_{kind}_{status}"
    return phrase(name, lang, **values) if responses.exists(name) else ""


def aftersale_item(entry: AftersaleEntry, lang: str) -> Dict[str, Any]:
    return {"id": entry.id, "status_key": entry.status, "status": label(entry.status, lang),
            "headline": phrase("utter_record_aftersale", lang, kind=label(entry.kind, lang), id=entry.id,
                               order_id=entry.order_id),
            "next": _next_step("aftersale", entry.status, lang, amount=yuan(entry.refund_cents)),
            "date": china_time(entry.created_at, "%Y-%m-%d")}


def ticket_item(entry: TicketEntry, lang: str) -> Dict[str, Any]:
    return {"id": entry.id, "status_key": entry.status, "status": label(entry.status, lang),
            "headline": phrase("utter_record_ticket", lang, id=entry.id,
                               category=label(f"ticket_{entry.category}", lang)),
            "next": _next_step("ticket", entry.status, lang, due=china_time(entry.sla_due_at)),
            "date": china_time(entry.created_at, "%Y-%m-%d")}


def conversation_item(entry: ConversationEntry, lang: str) -> Dict[str, Any]:
    topics = [t for t in (topic(i, lang) for i in entry.topics) if t]
    return {"id": entry.started_at.isoformat(), "date": china_time(entry.started_at, "%Y-%m-%d %H:%M"),
            "headline": listing(topics, lang) if topics else phrase("utter_record_no_topic", lang),
            "channel": label(f"channel_{entry.channel}", lang) if entry.channel else ""}


def panel(record: ServiceRecord, lang: str) -> Dict[str, Any]:
    """The widget's panel: titled sections of items, empty ones left out."""
    items = {"aftersales": [aftersale_item(a, lang) for a in record.aftersales],
             "tickets": [ticket_item(t, lang) for t in record.tickets],
             "conversations": [conversation_item(c, lang) for c in record.conversations]}
    sections = [{"key": key, "title": phrase(f"utter_record_section_{key}", lang), "items": items[key]}
                for key in SECTIONS if items[key]]
    return {"proven": True, "version": record.version, "title": phrase("utter_record_title", lang),
            "sections": sections, "empty": "" if sections else phrase("utter_record_empty", lang)}


def message(record: ServiceRecord, lang: str) -> str:
    """The record as one chat message, for channels without a panel."""
    shown = panel(record, lang)
    lines: List[str] = [shown["title"]]
    for section in shown["sections"]:
        lines.append(phrase("utter_part_record_section", lang, title=section["title"]))
        for item in section["items"][:MESSAGE_ITEMS[section["key"]]]:
            if section["key"] == "conversations":
                lines.append(phrase("utter_part_record_conversation", lang, date=item["date"],
                                    topics=item["headline"]))
            else:
                lines.append(phrase("utter_part_record_item", lang, headline=item["headline"],
                                    status=item["status"], next=item["next"]).rstrip())
    if shown["empty"]:
        lines.append(shown["empty"])
    return "\n".join(lines)
