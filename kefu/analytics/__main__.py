"""``python -m kefu.analytics ingest|consume|report|export|export-answers`` (see docs/analytics.md)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import List, Optional

from kefu.analytics import answers, ingest, metrics, report, trainer
from kefu.core.config import PROJECT_ROOT, load_settings
from kefu.store.db import make_engine, migrate


def _date(text: str) -> date:
    return date.fromisoformat(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kefu.analytics", description=__doc__)
    parser.add_argument("--database-url", help="the shop database (default: DATABASE_URL or var/kefu.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help="fold new events of Rasa's SQL tracker store (incremental)")
    p.add_argument("--tracker-url",
                   help="SQLAlchemy URL of the tracker store (default: KEFU_TRACKER_URL or var/tracker.db)")
    p = sub.add_parser("consume", help="consume the RabbitMQ event queue (production)")
    p.add_argument("--url", help="AMQP URL (default: RABBITMQ_URL)")
    p.add_argument("--queue", default=ingest.DEFAULT_QUEUE)
    p.add_argument("--idle-exit", type=float, help="stop after this many seconds without a message")
    p = sub.add_parser("report", help="write the HTML report with PNG charts")
    p.add_argument("--from", dest="first", type=_date, help="first day (default: 30 days ago)")
    p.add_argument("--to", dest="last", type=_date, help="last day, included (default: today, UTC)")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports" / "analytics")
    p.add_argument("--no-ingest", action="store_true", help="do not ingest the tracker store first")
    p.add_argument("--tracker-url")
    p = sub.add_parser("export", help="labelled misunderstood messages as Rasa NLU YAML")
    p.add_argument("--out", type=Path, help="file to write (default: stdout), e.g. data/nlu/labelled.yml")
    p.add_argument("--all", action="store_true", help="also those exported before")
    p.add_argument("--mark-exported", action="store_true", help="mark them exported")
    p = sub.add_parser("export-answers", help="FAQ topics approved on the desk as Rasa data (NLU and responses)")
    p.add_argument("--out", type=Path, help="file to write (default: stdout), e.g. data/nlu/faq_learned.yml")
    p.add_argument("--all", action="store_true", help="also those exported before")
    p.add_argument("--mark-exported", action="store_true", help="mark them exported")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    url = args.database_url or load_settings().database_url
    migrate(url)
    engine = make_engine(url)
    try:
        if args.command == "ingest":
            print(f"ingested {ingest.ingest_tracker_store(engine, args.tracker_url)} events")
        elif args.command == "consume":
            taken = asyncio.run(ingest.consume_rabbitmq(engine, args.url, args.queue, idle_seconds=args.idle_exit))
            print(f"consumed {taken} messages")
        elif args.command == "report":
            if not args.no_ingest:
                ingest.ingest_tracker_store(engine, args.tracker_url)
            last = args.last or date.today()
            first = args.first or last - timedelta(days=29)
            start, end = metrics.day_range(first, last)
            path = report.write_report(metrics.compute(engine, start, end), args.out)
            print(f"report: {path}")
        elif args.command in ("export", "export-answers"):
            exporter = trainer.export if args.command == "export" else answers.export
            text = exporter(engine, include_exported=args.all, mark_exported=args.mark_exported)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(text, encoding="utf-8")
                print(f"wrote {args.out}")
            else:
                sys.stdout.write(text)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
