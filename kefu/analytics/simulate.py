"""``make simulate-shoppers``: scripted shoppers talk to the running Kefu
(``make run``) over its REST channel, so the demo desk and dashboard have
something to show: order lookups that finish or stop on the way, a return
that is submitted and one that is refused, a VIP and a regular shopper who
ask for a person, a complaint that threatens 12315, a shopper who keeps
insulting the agents. Then the analytics fold the new events.

Every shopper is a new REST sender each run (``rest:sim-<run>-<n>``), so
the figures grow by one run's worth each time. Nothing here reaches into
Kefu: the messages go over the wire like a real client's.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import httpx

from kefu.analytics import ingest
from kefu.core.config import load_settings
from kefu.store.db import make_engine

SHIPPED, RETURNABLE, LATE, VIP_ORDER = "2611010000000001", "2611010000000003", "2611010000000004", "2611010000000007"


@dataclass(frozen=True)
class Shopper:
    name: str
    says: Tuple[str, ...]


SHOPPERS: Tuple[Shopper, ...] = (
    Shopper("order lookup, answered", ("我的订单到哪了", SHIPPED, "5678")),
    Shopper("order lookup, stops at the digits", ("帮我查下订单", RETURNABLE, "尾号我忘了")),
    Shopper("order lookup, gives up at once", ("订单到哪了", "算了不查了")),
    Shopper("return, submitted", ("我要退货", RETURNABLE, "5678", "尺码偏小")),
    Shopper("return, too late", ("我想退货", LATE, "5678")),
    Shopper("regular shopper asks for a person", ("你好", "转人工")),
    Shopper("VIP asks for a person", ("我的订单到哪了", VIP_ORDER, "1234", "转人工")),
    Shopper("complaint threatening 12315", ("我要投诉", "快递三天没动，客服也不回，再不处理我就打12315投诉你们")),
    Shopper("keeps insulting the agents", ("转人工", "傻逼客服", "你们都是废物", "垃圾客服滚蛋")),
)


def converse(base_url: str, sender: str, says: Sequence[str], timeout: float = 60) -> List[List[str]]:
    """Each message sent in turn; the bot's replies to each."""
    replies = []
    with httpx.Client(timeout=timeout) as client:
        for text in says:
            response = client.post(f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text})
            response.raise_for_status()
            replies.append([m.get("text", "") for m in response.json()])
    return replies


def run(base_url: str, shoppers: Sequence[Shopper] = SHOPPERS, quiet: bool = False) -> List[str]:
    """Play every shopper; the senders used, in order."""
    batch = uuid.uuid4().hex[:6]
    senders = []
    for n, shopper in enumerate(shoppers, start=1):
        sender = f"sim-{batch}-{n}"
        replies = converse(base_url, sender, shopper.says)
        senders.append(sender)
        if not quiet:
            last = (replies[-1] or [""])[-1].replace("\n", " ")[:60] if replies else ""
            print(f"{shopper.name:<38} rest:{sender}  → {last}")
    return senders


def main(argv: Optional[List[str]] = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=settings.desk.rasa_url, help="Rasa (default: KEFU_RASA_URL)")
    args = parser.parse_args(argv)
    try:
        run(args.url.rstrip("/"))
    except httpx.HTTPError as error:
        print(f"{args.url}: {type(error).__name__} (is `make run` running?)", file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    try:
        folded = ingest.ingest_tracker_store(engine)
    finally:
        engine.dispose()
    print(f"{folded} events folded into the analytics: see the dashboard (/dashboard on the desk)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
