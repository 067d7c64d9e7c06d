// Kefu managers' dashboard: plain JS, charts drawn as inline SVG, no build
// step and nothing from a CDN. Shopper text goes in with textContent only.
"use strict";

const COMPLAINT = { logistics: "物流 Logistics", quality: "质量 Quality", service: "服务态度 Service attitude",
  price: "价格 Price", fraud: "欺诈 Fraud", other: "其他 Other" };

const SVG = "http://www.w3.org/2000/svg";
const state = { intents: [], metrics: null };

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const secs = (v) => (v === null || v === undefined ? "—" : v < 60 ? `${Math.round(v)} s` : `${(v / 60).toFixed(1)} min`);
const num = (v) => (v === null || v === undefined ? "—" : String(v));
const isoDay = (d) => d.toISOString().slice(0, 10);

function setKpi(id, value, format) {
  const node = $(id);
  node.textContent = format(value);
  node.dataset.value = value === null || value === undefined ? "" : String(value);
}

// -- charts ----------------------------------------------------------------------------

function empty(container) {
  container.replaceChildren(el("p", "empty", "暂无数据 No data"));
}

function niceMax(max) { return max <= 0 ? 1 : max; }

function barChart(container, labels, values, options = {}) {
  if (!labels.length) { empty(container); return; }
  const horizontal = options.horizontal;
  const max = niceMax(options.max || Math.max(...values));
  const fmt = options.format || ((v) => String(v));
  let svg;
  if (horizontal) {
    const row = 22, left = 170, width = 520;
    svg = svgEl("svg", { viewBox: `0 0 ${width} ${labels.length * row + 8}`, role: "img" });
    labels.forEach((label, i) => {
      const w = ((width - left - 50) * values[i]) / max;
      const y = 4 + i * row;
      svg.appendChild(svgEl("text", { x: left - 6, y: y + 14, "text-anchor": "end" }, label));
      const rect = svgEl("rect", { class: "bar", x: left, y, width: Math.max(w, 1), height: row - 6 });
      rect.dataset.label = label; rect.dataset.value = values[i];
      rect.appendChild(svgEl("title", {}, `${label}: ${fmt(values[i])}`));
      svg.appendChild(rect);
      svg.appendChild(svgEl("text", { x: left + w + 4, y: y + 14 }, fmt(values[i])));
    });
  } else {
    const width = 520, height = 200, bottom = 36, top = 14;
    const slot = (width - 20) / labels.length;
    svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    svg.appendChild(svgEl("line", { class: "axis", x1: 10, x2: width - 10, y1: height - bottom, y2: height - bottom }));
    labels.forEach((label, i) => {
      const h = ((height - bottom - top) * values[i]) / max;
      const x = 10 + i * slot + slot * 0.15;
      const rect = svgEl("rect", { class: "bar", x, y: height - bottom - h, width: slot * 0.7, height: Math.max(h, 0) });
      rect.dataset.label = label; rect.dataset.value = values[i];
      rect.appendChild(svgEl("title", {}, `${label}: ${fmt(values[i])}`));
      svg.appendChild(rect);
      if (values[i]) svg.appendChild(svgEl("text", { x: x + slot * 0.35, y: height - bottom - h - 3, "text-anchor": "middle" }, fmt(values[i])));
      if (labels.length <= 12 || i % 2 === 0) {
        svg.appendChild(svgEl("text", { x: x + slot * 0.35, y: height - bottom + 14, "text-anchor": "middle" }, label));
      }
    });
  }
  container.replaceChildren(svg);
}

function lineChart(container, points, bucket) {
  if (!points.length) { empty(container); return; }
  const width = 1000, height = 220, left = 36, bottom = 30, top = 12, right = 12;
  const max = niceMax(Math.max(...points.map((p) => p.count)));
  const step = points.length > 1 ? (width - left - right) / (points.length - 1) : 0;
  const x = (i) => left + i * step;
  const y = (v) => height - bottom - ((height - bottom - top) * v) / max;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.appendChild(svgEl("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  svg.appendChild(svgEl("text", { x: left - 6, y: y(max) + 4, "text-anchor": "end" }, max));
  svg.appendChild(svgEl("text", { x: left - 6, y: height - bottom + 4, "text-anchor": "end" }, 0));
  svg.appendChild(svgEl("polyline", { class: "line", points: points.map((p, i) => `${x(i)},${y(p.count)}`).join(" ") }));
  const every = Math.max(1, Math.ceil(points.length / 12));
  points.forEach((p, i) => {
    const dot = svgEl("circle", { class: "dot", cx: x(i), cy: y(p.count), r: points.length > 100 ? 1.5 : 3 });
    dot.dataset.t = p.t; dot.dataset.value = p.count;
    dot.appendChild(svgEl("title", {}, `${p.t}: ${p.count}`));
    svg.appendChild(dot);
    if (i % every === 0) {
      const label = bucket === "hour" ? p.t.slice(5, 13).replace("T", " ") + "h" : p.t.slice(5, 10);
      svg.appendChild(svgEl("text", { x: x(i), y: height - bottom + 16, "text-anchor": "middle" }, label));
    }
  });
  container.replaceChildren(svg);
}

function table(node, head, rows) {
  const thead = el("tr");
  head.forEach((h) => thead.appendChild(el("th", null, h)));
  node.replaceChildren(thead);
  if (!rows.length) { const tr = el("tr"); tr.appendChild(el("td", "empty", "—")); node.appendChild(tr); return; }
  rows.forEach((cells) => {
    const tr = el("tr");
    cells.forEach((c) => tr.appendChild(el("td", null, c)));
    node.appendChild(tr);
  });
}

// -- figures ---------------------------------------------------------------------------

function render(m) {
  state.metrics = m;
  setKpi("kpi-conversations", m.conversations.total, num);
  setKpi("kpi-messages", m.messages.user, num);
  setKpi("kpi-fallback-rate", m.messages.fallback_rate, pct);
  setKpi("kpi-low-confidence", m.messages.low_confidence_rate, pct);
  setKpi("kpi-containment", m.containment.containment_rate, pct);
  setKpi("kpi-handoff-rate", m.containment.handoff_rate, pct);
  setKpi("kpi-handoffs", m.handoffs.total, num);
  setKpi("kpi-wait", m.handoffs.avg_wait_seconds, secs);
  setKpi("kpi-first-response", m.handoffs.avg_first_response_seconds, secs);
  setKpi("kpi-resolution", m.handoffs.avg_resolution_seconds, secs);
  setKpi("kpi-csat", m.csat.average, num);
  setKpi("kpi-ratings", m.csat.count, num);
  $("bucket").textContent = m.conversations.bucket === "hour" ? "（每小时 per hour）" : "（每天 per day）";
  lineChart($("chart-timeseries"), m.conversations.timeseries, m.conversations.bucket);
  barChart($("chart-channels"), m.conversations.by_channel.map((r) => r.channel), m.conversations.by_channel.map((r) => r.count));
  const hours = m.conversations.hour_of_day;
  barChart($("chart-hours"), hours.map((_, i) => String(i).padStart(2, "0")), hours);
  const intents = m.intents.slice(0, 20);
  barChart($("chart-intents"), intents.map((r) => r.intent), intents.map((r) => r.count), { horizontal: true });
  const faq = m.faq_topics.slice(0, 20);
  barChart($("chart-faq"), faq.map((r) => r.topic), faq.map((r) => r.count), { horizontal: true });
  barChart($("chart-reasons"), m.handoffs.by_reason.map((r) => r.reason), m.handoffs.by_reason.map((r) => r.count));
  barChart($("chart-csat-channel"), m.csat.by_channel.map((r) => r.key), m.csat.by_channel.map((r) => r.average),
    { max: 5, format: (v) => v.toFixed(2) });
  const scoreRows = (rows) => rows.map((r) => [r.key === "bot" ? "机器人 Bot" : r.key, r.count, r.average.toFixed(2)]);
  table($("csat-agent"), ["客服 Agent", "评价 Ratings", "平均 Average"], scoreRows(m.csat.by_agent));
  table($("csat-intent"), ["意图 Intent", "评价 Ratings", "平均 Average"], scoreRows(m.csat.by_intent));
  table($("top-misunderstood"), ["消息 Message", "次数 Count", "猜测 Best guess"],
    m.misunderstood_top.map((r) => [r.text, r.count, r.predicted_intent || "—"]));
  table($("assist-acceptance"), ["意图 Intent", "回复 Replies", "直接用 Used", "改后用 Edited", "未用 Ignored", "采纳率 Accepted"],
    (m.assist || []).map((r) => [r.intent, r.replies, r.used, r.edited, r.ignored, r.acceptance === null ? "—" : pct(r.acceptance)]));
  table($("complaint-categories"), ["类别 Category", "投诉 Complaints"],
    (m.complaints || []).map((r) => [COMPLAINT[r.category] || r.category, r.count]));
  const handling = m.csat.by_handling || [];
  table($("csat-handling"), ["处理 Handled by", "评价 Ratings", "平均 Average"],
    handling.map((r) => [HANDLING[r.key] || r.key, r.count, r.average.toFixed(2)]));
  renderJourneys(m.journeys || []);
  renderRegions(m.regions || { provinces: [] });
}

// -- the charts drawn with Apache ECharts (when the desk serves it) ------------------------

const HANDLING = { bot_only: "仅机器人 Bot only", agent: "人工 Agent" };

function echart(node) {
  if (!window.echarts) { node.classList.add("off"); return null; }
  // SVG: crisp, and the tests can read it; tooltips drawn in the canvas/SVG itself (no inline HTML under the CSP)
  return window.echarts.getInstanceByDom(node) || window.echarts.init(node, null, { renderer: "svg" });
}

function renderJourneys(flows) {
  $("journeys").replaceChildren(...flows.map((flow) => {
    const box = el("div", "journey");
    box.dataset.flow = flow.flow;
    box.append(el("h3", null, `${flow.zh} ${flow.en}: ${flow.started} 次开始 started, ${flow.completed} 完成 completed` +
      (flow.completion === null ? "" : ` (${pct(flow.completion)})`)));
    const t = el("table", "data");
    table(t, ["步骤 Step", "到达 Reached", "流失 Dropped", "流失前最后一句 Last words before leaving"],
      flow.steps.map((st) => [`${st.zh} ${st.en}`, st.reached, st.dropped, st.examples.join(" ｜ ")]));
    t.querySelectorAll("tr").forEach((tr, i) => { if (i > 0) tr.dataset.step = flow.steps[i - 1].step; });
    box.append(t);
    return box;
  }));
  const chart = echart($("chart-journeys"));
  if (!chart) return;
  const width = 100 / Math.max(flows.length, 1);
  chart.setOption({
    tooltip: { trigger: "item", renderMode: "richText" },
    series: flows.map((flow, i) => ({
      name: `${flow.zh} ${flow.en}`, type: "funnel", sort: "none", gap: 2, min: 0, max: Math.max(flow.started, 1),
      left: `${i * width + 2}%`, width: `${width - 4}%`, top: 30, bottom: 10,
      label: { show: true, position: "inside", formatter: "{b}: {c}" },
      data: flow.steps.map((st) => ({ name: `${st.zh} ${st.en}`, value: st.reached })),
    })),
    title: flows.map((flow, i) => ({ text: `${flow.zh} ${flow.en}`, left: `${i * width + width / 2}%`, textAlign: "center",
      textStyle: { fontSize: 13 } })),
  }, true);
}

function renderRegions(regions) {
  const key = $("region-key").value;
  const provinces = regions.provinces || [];
  const busiest = provinces.filter((p) => p.orders || p.complaints).sort((a, b) => b[key] - a[key]);
  table($("regions"), ["省份 Province", "订单 Orders", "投诉 Complaints"],
    busiest.map((p) => [`${p.province} ${p.en}`, p.orders, p.complaints]));
  const chart = echart($("chart-regions"));
  if (!chart) return;
  const cols = Math.max(...provinces.map((p) => p.col), 0) + 1;
  const rows = Math.max(...provinces.map((p) => p.row), 0) + 1;
  const max = Math.max(...provinces.map((p) => p[key]), 1);
  chart.setOption({
    tooltip: { renderMode: "richText", formatter: (p) => `${p.data.name}: ${p.data.value[2]}` },
    grid: { left: 10, right: 10, top: 10, bottom: 60 },
    xAxis: { type: "category", data: [...Array(cols).keys()], show: false },
    yAxis: { type: "category", data: [...Array(rows).keys()], inverse: true, show: false },
    visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
      inRange: { color: ["#fff7ec", "#fdbb84", "#d7301f"] } },
    series: [{ type: "heatmap", itemStyle: { borderColor: "#fff", borderWidth: 2 },
      label: { show: true, formatter: (p) => `${p.data.name}\n${p.data.value[2]}`, fontSize: 11 },
      data: provinces.map((p) => ({ name: p.province, value: [p.col, p.row, p[key]] })) }],
  }, true);
  const handling = echart($("chart-handling"));
  if (!handling || !state.metrics) return;
  const split = state.metrics.csat.by_handling || [];
  handling.setOption({
    tooltip: { renderMode: "richText" },
    grid: { left: 90, right: 30, top: 10, bottom: 20 },
    xAxis: { type: "value", min: 0, max: 5 },
    yAxis: { type: "category", data: split.map((r) => HANDLING[r.key] || r.key) },
    series: [{ type: "bar", data: split.map((r) => r.average), label: { show: true, position: "right" },
      itemStyle: { color: "#2563eb" } }],
  }, true);
}

function rangeQuery() {
  return `from=${encodeURIComponent($("from").value)}&to=${encodeURIComponent($("to").value)}`;
}

async function loadMetrics() {
  $("status").textContent = "加载中… Loading…";
  try {
    render(await api("GET", `/api/analytics/metrics?${rangeQuery()}`));
    $("status").textContent = `${$("from").value} — ${$("to").value} (UTC)`;
    const url = new URL(window.location.href);
    url.searchParams.set("from", $("from").value);
    url.searchParams.set("to", $("to").value);
    window.history.replaceState(null, "", url);
  } catch (error) {
    $("status").textContent = `加载失败 Could not load (${error.code})`;
  }
}

// -- trainer ---------------------------------------------------------------------------

const REASON = { fallback: "兜底 fallback", low_confidence: "低置信 low confidence" };

function intentSelect(selected) {
  const select = el("select", "label-intent");
  select.setAttribute("aria-label", "意图 Intent");
  select.appendChild(new Option("选择意图… Choose an intent", ""));
  state.intents.forEach((name) => select.appendChild(new Option(name, name, false, name === selected)));
  return select;
}

async function loadTrainer() {
  const status = $("trainer-status").value;
  const body = $("trainer-list").querySelector("tbody");
  try {
    const data = await api("GET", `/api/analytics/misunderstood?status=${status}&${rangeQuery()}`);
    body.replaceChildren();
    data.messages.forEach((m) => {
      const tr = el("tr");
      tr.dataset.id = m.id;
      tr.appendChild(el("td", "text", m.text));
      const guess = m.predicted_intent ? `${m.predicted_intent}${m.confidence !== null ? ` (${m.confidence.toFixed(2)})` : ""}` : "—";
      tr.appendChild(el("td", null, guess));
      tr.appendChild(el("td", null, REASON[m.reason] || m.reason));
      tr.appendChild(el("td", null, m.channel || ""));
      const cell = el("td");
      const select = intentSelect(m.label);
      cell.appendChild(select);
      tr.appendChild(cell);
      const actions = el("td");
      const save = el("button", "label-save primary", "标注 Label");
      save.type = "button";
      save.addEventListener("click", () => label(tr, m.id, { intent: select.value || null }));
      const ignore = el("button", "label-ignore", "忽略 Ignore");
      ignore.type = "button";
      ignore.addEventListener("click", () => label(tr, m.id, { ignore: true }));
      actions.append(save, " ", ignore);
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    if (!data.messages.length) {
      const tr = el("tr");
      const td = el("td", "empty", "没有消息 Nothing here");
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  } catch (error) {
    $("status").textContent = `加载失败 Could not load (${error.code})`;
  }
}

async function label(tr, id, body) {
  try {
    const data = await api("POST", `/api/analytics/misunderstood/${id}/label`, body);
    tr.classList.add("saved");
    tr.dataset.status = data.message.status;
    $("status").textContent = data.message.status === "labelled"
      ? `已标注 Labelled: ${data.message.label}` : `已更新 Updated: ${data.message.status}`;
  } catch (error) {
    $("status").textContent = `保存失败 Could not save (${error.code})`;
  }
}

// -- answers that teach the bot (kefu/analytics/answers.py) ---------------------------

function field(tag, className, label, value) {
  const wrap = el("label", "field", label);
  const input = el(tag, className);
  input.value = value || "";
  wrap.appendChild(input);
  return [wrap, input];
}

async function loadAnswers() {
  const list = $("answer-groups");
  let data;
  try {
    data = await api("GET", "/api/analytics/answers");
  } catch (error) {
    $("status").textContent = `加载失败 Could not load (${error.code})`;
    return;
  }
  list.replaceChildren(...data.groups.map((group) => {
    const li = el("li", "answer-group");
    li.dataset.id = group.id;
    const ids = group.candidates.map((c) => c.id);
    const first = group.candidates[0];
    const [qWrap, questions] = field("textarea", "answer-questions", "问法 Questions",
      group.candidates.map((c) => c.question).join("\n"));
    const [zhWrap, zh] = field("textarea", "answer-zh", "中文答案 Answer (zh)",
      (group.candidates.find((c) => c.language === "zh") || {}).answer || "");
    const [enWrap, en] = field("textarea", "answer-en", "英文答案 Answer (en)",
      (group.candidates.find((c) => c.language === "en") || {}).answer || "");
    const [topicWrap, topic] = field("input", "answer-topic", "主题 Topic (faq/…)", "");
    topic.placeholder = "storage";
    const approve = el("button", "primary answer-approve", "批准 Approve");
    approve.type = "button";
    approve.addEventListener("click", async () => {
      try {
        await api("POST", "/api/analytics/answers/approve", {
          candidate_ids: ids, topic: topic.value, questions: questions.value.split("\n"),
          answer_zh: zh.value, answer_en: en.value });
        li.classList.add("saved");
        li.dataset.status = "approved";
        $("status").textContent = `已批准 Approved: faq/${topic.value}`;
      } catch (error) {
        $("status").textContent = `未能批准 Not approved (${error.code})`;
      }
    });
    const reject = el("button", "answer-reject", "不要 Reject");
    reject.type = "button";
    reject.addEventListener("click", async () => {
      try {
        await api("POST", "/api/analytics/answers/reject", { candidate_ids: ids });
        li.remove();
      } catch (error) {
        $("status").textContent = `未能更新 Not updated (${error.code})`;
      }
    });
    li.append(el("div", "muted", `${group.candidates.length} 条 · ${first.intent || "—"}`), qWrap, zhWrap, enWrap,
      topicWrap, approve, " ", reject);
    return li;
  }));
  if (!data.groups.length) list.appendChild(el("li", "empty", "没有待审核的问答 Nothing to review"));
}

// -- start -----------------------------------------------------------------------------

function setDays(days) {
  const to = new Date();
  const from = new Date(to.getTime() - (days - 1) * 86400000);
  $("from").value = isoDay(from);
  $("to").value = isoDay(to);
}

async function start() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (error) {
    $("login-needed").hidden = false;
    return;
  }
  try {
    state.intents = (await api("GET", "/api/analytics/intents")).intents;
  } catch (error) {
    if (error.status === 403) { $("forbidden").hidden = false; return; }
  }
  $("dashboard").hidden = false;
  $("me").textContent = me.agent.display_name;
  const params = new URLSearchParams(window.location.search);
  setDays(7);
  if (params.get("from")) $("from").value = params.get("from");
  if (params.get("to")) $("to").value = params.get("to");
  $("range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadMetrics();
    loadTrainer();
  });
  document.querySelectorAll("#range-form button[data-days]").forEach((button) => {
    button.addEventListener("click", () => { setDays(Number(button.dataset.days)); loadMetrics(); loadTrainer(); });
  });
  $("trainer-status").addEventListener("change", loadTrainer);
  $("region-key").addEventListener("change", () => { if (state.metrics) renderRegions(state.metrics.regions); });
  loadAnswers();
  $("ingest").addEventListener("click", async () => {
    try {
      const data = await api("POST", "/api/analytics/ingest", {});
      await loadMetrics();
      await loadTrainer();
      $("status").textContent = `已读取 ${data.events} 个事件 · ${data.events} events read`;
    } catch (error) {
      $("status").textContent = `刷新失败 Refresh failed (${error.code})`;
    }
  });
  await loadMetrics();
  await loadTrainer();
}

document.addEventListener("DOMContentLoaded", start);
