"""The figures as a static HTML report with PNG charts (matplotlib, Agg).

Every number in the HTML sits in an element with ``data-metric="<path>"``
and its raw value in ``data-value``, so a script (or a test) can read the
report back; ``metrics.json`` beside it holds the whole dict.
"""
from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOR = "#2563eb"


def _fmt(value: Any, kind: str = "n") -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "s":
        return f"{value:.0f} s" if value < 60 else f"{value / 60:.1f} min"
    return str(value)


def _metric(path: str, value: Any, kind: str = "n") -> str:
    raw = "" if value is None else value
    return (f'<span data-metric="{html.escape(path, quote=True)}" data-value="{html.escape(str(raw), quote=True)}">'
            f'{html.escape(_fmt(value, kind))}</span>')


def _bar(path: Path, labels: Sequence[str], values: Sequence[float], title: str, horizontal: bool = False) -> None:
    height = max(2.5, 0.35 * len(labels) + 1) if horizontal else 3.2
    fig, ax = plt.subplots(figsize=(7, height), dpi=100)
    if horizontal:
        ax.barh(list(labels)[::-1], list(values)[::-1], color=COLOR)
    else:
        ax.bar(list(labels), list(values), color=COLOR)
        ax.tick_params(axis="x", labelrotation=30 if len(labels) > 6 else 0)
    ax.set_title(title)
    if not labels:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _series(path: Path, points: List[Dict[str, Any]], title: str, bucket: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    xs = [datetime.fromisoformat(p["t"]) for p in points]
    ax.plot(xs, [p["count"] for p in points], color=COLOR, marker="o" if len(points) <= 72 else None)
    ax.set_title(f"{title} (per {bucket})")
    ax.set_ylim(bottom=0)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _funnels(path: Path, flows: List[Dict[str, Any]]) -> None:
    """One horizontal funnel per flow: how many journeys reached each step."""
    fig, axes = plt.subplots(len(flows) or 1, 1, figsize=(7, 1.2 + 1.1 * sum(len(f["steps"]) for f in flows) / 2),
                             dpi=100, squeeze=False)
    for ax, flow in zip(axes[:, 0], flows, strict=False):  # one axis even with no flow
        steps = flow["steps"]
        ax.barh([st["en"] for st in steps][::-1], [st["reached"] for st in steps][::-1], color=COLOR)
        ax.set_title(f"{flow['en']}: {flow['started']} started, {flow['completed']} completed")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _tiles(path: Path, provinces: List[Dict[str, Any]], key: str, title: str) -> None:
    """The tile map: one square per province at its rough place, coloured by ``key``."""
    cols = max(p["col"] for p in provinces) + 1
    rows = max(p["row"] for p in provinces) + 1
    grid = [[float("nan")] * cols for _ in range(rows)]
    for p in provinces:
        grid[p["row"]][p["col"]] = p[key]
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    image = ax.imshow(grid, cmap="YlOrRd", vmin=0)
    for p in provinces:
        ax.text(p["col"], p["row"], f"{p['en'][:9]}\n{p[key]}", ha="center", va="center", fontsize=6)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _journeys(flows: List[Dict[str, Any]]) -> str:
    parts = []
    for flow in flows:
        rows = []
        for st in flow["steps"]:
            where = f"journeys.{flow['flow']}.{st['step']}"
            examples = "；".join(html.escape(t) for t in st["examples"])
            rows.append(f"<tr><td>{html.escape(st['zh'])} {html.escape(st['en'])}</td>"
                        f"<td>{_metric(where + '.reached', st['reached'])}</td>"
                        f"<td>{_metric(where + '.dropped', st['dropped'])}</td><td>{examples}</td></tr>")
        parts.append(f"<h3>{html.escape(flow['zh'])} {html.escape(flow['en'])}: "
                     f"{_metric('journeys.' + flow['flow'] + '.completion', flow['completion'], 'pct')}</h3>"
                     f"<table><tr><th>step</th><th>reached</th><th>dropped</th><th>where they stopped</th></tr>"
                     f"{''.join(rows)}</table>")
    return "".join(parts)


def _table(rows: List[Dict[str, Any]], key: str, path: str, columns: Sequence[str] = ("count",)) -> str:
    if not rows:
        return "<p class=muted>—</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (key, *columns))
    body = []
    for row in rows:
        name = str(row[key])
        cells = "".join(f"<td>{_metric(f'{path}.{name}.{c}', row[c])}</td>" for c in columns)
        body.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_report(metrics: Dict[str, Any], out_dir: Path, title: Optional[str] = None) -> Path:
    """Write ``index.html``, ``metrics.json`` and the PNG charts into ``out_dir``; the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c, m, k, h, s = (metrics[x] for x in ("conversations", "messages", "containment", "handoffs", "csat"))
    charts = {
        "conversations.png": lambda p: _series(p, c["timeseries"], "Conversations", c["bucket"]),
        "channels.png": lambda p: _bar(p, [r["channel"] for r in c["by_channel"]],
                                       [r["count"] for r in c["by_channel"]], "Conversations per channel"),
        "hours.png": lambda p: _bar(p, [f"{i:02d}" for i in range(24)], c["hour_of_day"],
                                    "Conversations per hour of day (UTC)"),
        "intents.png": lambda p: _bar(p, [r["intent"] for r in metrics["intents"][:20]],
                                      [r["count"] for r in metrics["intents"][:20]], "Intents asked", True),
        "faq.png": lambda p: _bar(p, [r["topic"] for r in metrics["faq_topics"][:20]],
                                  [r["count"] for r in metrics["faq_topics"][:20]], "FAQ topics", True),
        "handoff_reasons.png": lambda p: _bar(p, [r["reason"] for r in h["by_reason"]],
                                              [r["count"] for r in h["by_reason"]], "Handoff reasons"),
        "csat_channel.png": lambda p: _bar(p, [r["key"] for r in s["by_channel"]],
                                           [r["average"] for r in s["by_channel"]], "CSAT per channel (1-5)"),
        "journeys.png": lambda p: _funnels(p, metrics["journeys"]),
        "regions.png": lambda p: _tiles(p, metrics["regions"]["provinces"], "orders", "Orders per province"),
        "complaint_regions.png": lambda p: _tiles(p, metrics["regions"]["provinces"], "complaints",
                                                  "Complaints per province"),
    }
    for name, draw in charts.items():
        draw(out / name)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")

    rng = metrics["range"]
    top = "".join(f"<tr><td>{html.escape(r['text'])}</td><td>{r['count']}</td>"
                  f"<td>{html.escape(r['predicted_intent'] or '—')}</td></tr>" for r in metrics["misunderstood_top"])
    kpis = [
        ("会话 Conversations", _metric("conversations.total", c["total"])),
        ("用户消息 User messages", _metric("messages.user", m["user"])),
        ("兜底率 Fallback rate", _metric("messages.fallback_rate", m["fallback_rate"], "pct")),
        ("低置信 Low confidence", _metric("messages.low_confidence_rate", m["low_confidence_rate"], "pct")),
        ("自助解决 Containment", _metric("containment.containment_rate", k["containment_rate"], "pct")),
        ("转人工 Handoff rate", _metric("containment.handoff_rate", k["handoff_rate"], "pct")),
        ("转人工数 Handoffs", _metric("handoffs.total", h["total"])),
        ("平均排队 Avg queue wait", _metric("handoffs.avg_wait_seconds", h["avg_wait_seconds"], "s")),
        ("平均首响 Avg first response", _metric("handoffs.avg_first_response_seconds",
                                             h["avg_first_response_seconds"], "s")),
        ("平均解决 Avg resolution", _metric("handoffs.avg_resolution_seconds", h["avg_resolution_seconds"], "s")),
        ("满意度 CSAT", _metric("csat.average", s["average"])),
        ("评价数 Ratings", _metric("csat.count", s["count"])),
    ]
    kpi_html = "".join(f"<div class=kpi><div class=label>{label}</div><div class=value>{v}</div></div>"
                       for label, v in kpis)

    def img(name: str, alt: str) -> str:
        return f'<img src="{name}" alt="{alt}">'

    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title or 'Kefu service report')}</title>
<style>
body {{ font: 14px/1.5 -apple-system, "PingFang SC", "Noto Sans CJK SC", sans-serif; margin: 24px; color: #1f2933; }}
.kpis {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; }}
.kpi {{ border: 1px solid #e4e7eb; border-radius: 6px; padding: 8px 12px; }}
.kpi .label {{ color: #7b8794; font-size: 12px; }} .kpi .value {{ font-size: 22px; font-weight: 600; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 16px; }}
img {{ max-width: 100%; }} table {{ border-collapse: collapse; }} \
td, th {{ border-bottom: 1px solid #e4e7eb; padding: 2px 8px; text-align: left; }}
.muted {{ color: #7b8794; }}
</style></head><body>
<h1>客服数据报告 · Kefu service report</h1>
<p class=muted>{html.escape(rng['from'])} — {html.escape(rng['to'])} (UTC, end excluded)</p>
<div class=kpis>{kpi_html}</div>
<div class=grid>
<section><h2>会话 Conversations</h2>{img('conversations.png', 'conversations over time')}</section>
<section><h2>渠道 Channels</h2>{img('channels.png', 'conversations per channel')}
{_table(c['by_channel'], 'channel', 'conversations.by_channel')}</section>
<section><h2>时段 Hour of day</h2>{img('hours.png', 'conversations per hour of day')}</section>
<section><h2>意图 Intents</h2>{img('intents.png', 'intents')}{_table(metrics['intents'], 'intent', 'intents')}</section>
<section><h2>常见问题 FAQ topics</h2>{img('faq.png', 'faq topics')}\
{_table(metrics['faq_topics'], 'topic', 'faq_topics')}</section>
<section><h2>转人工原因 Handoff reasons</h2>{img('handoff_reasons.png', 'handoff reasons')}
{_table(h['by_reason'], 'reason', 'handoffs.by_reason')}</section>
<section><h2>满意度 CSAT</h2>{img('csat_channel.png', 'csat per channel')}
<h3>渠道 per channel</h3>{_table(s['by_channel'], 'key', 'csat.by_channel', ('count', 'average'))}
<h3>客服 per agent</h3>{_table(s['by_agent'], 'key', 'csat.by_agent', ('count', 'average'))}
<h3>意图 per intent</h3>{_table(s['by_intent'], 'key', 'csat.by_intent', ('count', 'average'))}</section>
<section><h2>服务轨迹 Service journeys</h2>{img('journeys.png', 'funnels per flow')}
{_journeys(metrics['journeys'])}</section>
<section><h2>满意度：机器人 vs 人工 CSAT, bot only vs agent</h2>
{_table(s['by_handling'], 'key', 'csat.by_handling', ('count', 'average'))}
<h2>投诉类别 Complaints by category</h2>{_table(metrics['complaints'], 'category', 'complaints')}</section>
<section><h2>地区 Orders by province</h2>{img('regions.png', 'orders per province')}</section>
<section><h2>地区投诉 Complaints by province</h2>{img('complaint_regions.png', 'complaints per province')}
{_table(sorted((p for p in metrics['regions']['provinces'] if p['orders'] or p['complaints']),
               key=lambda p: -p['orders']), 'province', 'regions', ('orders', 'complaints'))}</section>
<section><h2>未理解的消息 Top misunderstood messages</h2>
<table><tr><th>text</th><th>count</th><th>best guess</th></tr>{top}</table></section>
</div></body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
