"""``make simulate-orders``: the demo shop tells Kefu what happened to its
orders, through the same signed webhook a real shop calls.

It posts, to the running desk (``make run``), a shipment of the demo
shopper's paid order, the delivery run of their shipped one and the refund
of their return, each signed with the shop's secret and a fresh event id,
and prints what Kefu answered. The demo shopper's WeChat and Telegram
identities are linked (kefu/store/seed.py), and a conversation that proved
one of these orders with its phone digits hears about it too.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any, Dict, List, Optional

import httpx
from sqlalchemy import select

from kefu.core.config import load_settings
from kefu.core.secrets import secret
from kefu.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from kefu.store.db import make_engine, session_scope
from kefu.store.models import AftersaleRequest

PAID, SHIPPED, RETURNED = "2611010000000002", "2611010000000001", "2611010000000008"


def demo_events() -> List[Dict[str, Any]]:
    """Realistic events for the demo shop's orders, with new ids every run."""
    run = uuid.uuid4().hex[:8]
    events: List[Dict[str, Any]] = [
        {"id": f"demo-{run}-1", "type": "order.shipped", "order_id": PAID,
         "data": {"carrier": "SF", "tracking_no": f"SF{int(time.time()) % 10**10:010d}",
                  "description_zh": "顺丰已揽收", "description_en": "Picked up by SF Express"}},
        {"id": f"demo-{run}-2", "type": "order.out_for_delivery", "order_id": SHIPPED,
         "data": {"description_zh": "快递员正在派送", "description_en": "Out for delivery"}},
    ]
    refund = _return_of(RETURNED)
    if refund is not None:
        events.append({"id": f"demo-{run}-3", "type": "refund.completed", "order_id": RETURNED,
                       "data": {"aftersale_id": refund[0], "amount_cents": refund[1]}})
    return events


def _return_of(order_id: str) -> Optional[tuple]:
    engine = make_engine(load_settings().database_url)
    try:
        with session_scope(engine) as s:
            row = s.execute(select(AftersaleRequest.id, AftersaleRequest.refund_cents)
                            .where(AftersaleRequest.order_id == order_id)).first()
            return (row[0], int(row[1])) if row else None
    finally:
        engine.dispose()


def post(url: str, shop_secret: str, event: Dict[str, Any]) -> httpx.Response:
    body = json.dumps(event, ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    return httpx.post(url, content=body, timeout=10, headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(shop_secret, stamp, body)})


def main(argv: Optional[List[str]] = None) -> int:
    desk = load_settings().desk
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://{desk.host}:{desk.port}/shop/events")
    args = parser.parse_args(argv)
    failed = 0
    for event in demo_events():
        try:
            response = post(args.url, secret("shop_webhook_secret"), event)
        except httpx.HTTPError as error:
            print(f"{args.url}: {type(error).__name__} (is `make run` running?)", file=sys.stderr)
            return 1
        print(f"{event['type']:<24} {event['order_id']}  -> {response.status_code} {response.json().get('status')}")
        failed += response.status_code >= 400
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
