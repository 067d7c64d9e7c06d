"""Locust shoppers for the production load and fault benchmarks.

Each simulated shopper runs whole conversations over the REST channel
through the balancer, one after the other, each with a new sender id:
greet, ask where the order is, give the order id, prove it with the phone
digits (the reply must say 运输中), thank. Every attempt carries a unique
``kefu_turn`` id in the message metadata (Rasa keeps it on the user event),
and every outcome is appended to KEFU_BENCH_LOG (JSON lines), so that the
trackers can be checked afterwards: nothing lost, duplicated or out of order.

A 503 with the balancer's "please try again" body is the polite failure: the
shopper waits a moment and sends the same text again (a new attempt id).
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid

from locust import FastHttpUser, between, task

CONVERSATION = [
    ("你好", None),
    ("我的订单到哪了", None),
    ("2611010000000001", None),
    ("5678", "运输中"),
    ("谢谢", None),
]
POLITE = ("请稍后再试", "try again", "稍后再试")
MAX_ATTEMPTS = 3
RUN = os.environ.get("KEFU_BENCH_RUN", uuid.uuid4().hex[:6])
_log_lock = threading.Lock()
_log = open(os.environ.get("KEFU_BENCH_LOG", "/tmp/kefu-bench.jsonl"), "a", encoding="utf-8")


def record(**row) -> None:
    with _log_lock:
        _log.write(json.dumps(row, ensure_ascii=False) + "\n")
        _log.flush()


class Shopper(FastHttpUser):
    """FastHttpUser (geventhttpclient) rather than HttpUser (requests): the
    load generator shares the servers' cores, and Locust's documentation
    puts FastHttpUser at up to 5-6 times the requests per core; what the
    generator spends is taken from the servers being measured."""

    wait_time = between(0.5, 1.5)
    network_timeout = 120.0

    @task
    def conversation(self) -> None:
        sender = f"bench-{RUN}-{uuid.uuid4().hex[:10]}"
        for turn, (text, expected) in enumerate(CONVERSATION):
            for attempt in range(MAX_ATTEMPTS):
                turn_id = f"{turn:02d}.{attempt}"
                started = time.time()
                body = {"sender": sender, "message": text, "metadata": {"kefu_turn": turn_id}}
                outcome, replies = "error", []
                with self.client.post("/webhooks/rest/webhook", json=body, catch_response=True,
                                      name=f"turn {turn}") as response:
                    try:
                        replies = [m.get("text") or "" for m in response.json()]
                    except Exception:
                        replies = []
                    joined = "\n".join(replies)
                    if response.status_code == 200 and replies:
                        outcome = "ok"
                        if any(p in joined for p in POLITE):
                            outcome = "polite"  # e.g. the shop data is unreachable
                        elif expected and expected not in joined:
                            outcome = "wrong"
                    elif response.status_code == 200:
                        outcome = "silent"  # 200 with no reply at all
                    elif response.status_code == 503 and any(p in joined for p in POLITE):
                        outcome = "polite"
                    if outcome == "ok":
                        response.success()
                    else:
                        response.failure(f"{outcome}: {response.status_code} {joined[:80]!r}")
                record(sender=sender, turn=turn, attempt=attempt, turn_id=turn_id, text=text, outcome=outcome,
                       status=response.status_code, started=started, latency=time.time() - started,
                       polite_text=any(p in joined for p in POLITE), replies=replies[:3])
                if outcome == "ok":
                    break
                time.sleep(1.5)
            else:
                return  # the shopper gives up this conversation
            time.sleep(self.wait_time())
