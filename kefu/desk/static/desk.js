// Kefu agent desk: plain JS, no build step. Text from shoppers is only ever
// put into the page with textContent (never innerHTML).
"use strict";

const state = { me: null, current: null, detail: null, events: null, refreshTimer: null,
  photos: { chat: null, ids: "", until: 0 }, photoRetryAt: 0, viewerFrom: null, groups: {}, supervisor: false,
  suggested: null, chosen: null, answered: null };

const STATUS = { waiting: "排队中 waiting", assigned: "处理中 assigned", closed: "已结束 closed" };
const REASON = { requested: "主动要求 asked", complaint: "投诉 complaint", serious_complaint: "严重投诉 serious complaint",
  fallback: "无法识别 fallback" };
const WHO = { shopper: "顾客 Shopper", bot: "机器人 Bot", agent: "客服 Agent", system: "系统 System" };
const CHANNEL = { web: "网页 Web", wechat: "微信 WeChat", telegram: "Telegram", email: "邮件 E-mail" };
const TIER = { vip: "VIP", svip: "SVIP" };

function minutes(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  return seconds < 60 ? `${Math.round(seconds)} 秒 s` : `${Math.round(seconds / 60)} 分 min`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return seconds < 60 ? `${Math.round(seconds)} s` : `${(seconds / 60).toFixed(1)} min`;
}

function money(cents) { return `¥${(cents / 100).toFixed(2)}`; }

// -- login -----------------------------------------------------------------------------

api.onUnauthorized = showLogin;

function showLogin() {
  if (state.events) { state.events.close(); state.events = null; }
  state.me = null;
  $("desk-view").hidden = true;
  $("login-view").hidden = false;
  $("username").focus();
}

async function showDesk(agent, supervisor) {
  state.me = agent;
  if (supervisor === undefined) supervisor = (await api("GET", "/api/me")).supervisor;
  state.supervisor = Boolean(supervisor);
  $("alerts").hidden = !state.supervisor;
  $("login-view").hidden = true;
  $("desk-view").hidden = false;
  $("me").textContent = `${agent.display_name} (${agent.username})`;
  $("online").checked = agent.online;
  connect();
  await refreshAll();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const data = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
    $("password").value = "";
    await showDesk(data.agent);
  } catch (error) {
    $("login-error").textContent = error.status === 429
      ? "尝试次数过多，请稍后再试 Too many attempts, try later"
      : "用户名或密码错误 Wrong username or password";
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } finally { showLogin(); }
});

$("online").addEventListener("change", async () => {
  const data = await api("POST", "/api/presence", { online: $("online").checked });
  $("online").checked = data.agent.online;
  scheduleRefresh();
});

// -- live updates ----------------------------------------------------------------------

function connect() {
  if (state.events) state.events.close();
  const source = new EventSource("/api/events");
  state.events = source;
  source.addEventListener("hello", () => { $("live").className = "live on"; scheduleRefresh(); });
  source.addEventListener("update", (message) => {
    const event = JSON.parse(message.data);
    scheduleRefresh(state.current !== null && event.handoff_id === state.current);
  });
  source.addEventListener("logged_out", () => showLogin());
  source.onerror = async () => {
    $("live").className = "live off";
    try { await api("GET", "/api/me"); } catch (e) { /* 401 shows the login */ }
  };
}

function scheduleRefresh(chatToo) {
  if (chatToo) state.chatDirty = true;
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    const chat = state.chatDirty;
    state.chatDirty = false;
    await refreshAll(chat);
  }, 150);
}

async function refreshAll(chatToo = true) {
  if (!state.me) return;
  await Promise.all([refreshQueue(), refreshMetrics(), refreshAlerts(),
    chatToo && state.current !== null ? refreshChat() : null]);
}

// -- the supervisors' alerts and lines (kefu/desk/routing.py) ------------------------------

function blockButton(handoffId) {
  const button = el("button", "danger", "封禁 Block");
  button.type = "button";
  button.setAttribute("aria-label", `封禁会话 Block conversation ${handoffId}`);
  button.addEventListener("click", () => blockChat(handoffId));
  return button;
}

async function blockChat(handoffId) {
  const reason = window.prompt("封禁原因（会记录在审计日志）Reason (kept in the audit log)", "多次辱骂客服 repeated abuse");
  if (!reason) return;
  const data = await api("POST", `/api/handoffs/${handoffId}/block`, { reason });
  $("chat-notice").textContent = data.notified ? "已封禁 Blocked" : "已封禁，但未能通知 Rasa，请再试一次 Blocked; Rasa not reached, try again";
  scheduleRefresh(true);
}

async function refreshAlerts() {
  if (!state.supervisor) return;
  const [data, lines] = await Promise.all([api("GET", "/api/alerts"), api("GET", "/api/routing")]);
  $("alerts").hidden = false;
  $("alerts-count").textContent = `(${data.alerts.length})`;
  $("alert-list").replaceChildren(...(data.alerts.length ? data.alerts.map((a) => {
    const li = el("li");
    li.dataset.alert = a.id;
    const ack = el("button", "", "知道了 OK");
    ack.type = "button";
    ack.setAttribute("aria-label", `确认提醒 Acknowledge alert ${a.id}`);
    ack.addEventListener("click", async () => { await api("POST", `/api/alerts/${a.id}/ack`); scheduleRefresh(); });
    const open = el("span", "", `#${a.handoff_id} ${a.text}`);
    open.addEventListener("click", () => openChat(a.handoff_id));
    li.append(open);
    if (a.kind === "abuse") li.append(blockButton(a.handoff_id));
    li.append(ack);
    return li;
  }) : [el("li", "muted", "暂无 None")]));
  $("lines").tBodies[0].replaceChildren(...lines.groups.map((g) => {
    const tr = el("tr");
    tr.dataset.group = g.group;
    tr.append(el("td", "", g.label), el("td", "", g.waiting), el("td", "", duration(g.oldest_wait_seconds)),
      el("td", "", g.agents_present));
    return tr;
  }));
}

setInterval(() => { if (state.me) refreshAll(false); }, 30000);

// -- the queue ---------------------------------------------------------------------------

function summaryLine(handoff) {
  const summary = handoff.summary;
  if (summary && typeof summary === "object" && Array.isArray(summary.intents)) {
    return summary.intents.slice(-3).join(" · ");
  }
  return typeof summary === "string" ? summary.slice(0, 60) : "";
}

function handoffItem(handoff) {
  const li = el("li");
  li.dataset.id = handoff.id;
  if (handoff.id === state.current) li.classList.add("current");
  const title = el("div", "title", `#${handoff.id} ${CHANNEL[handoff.channel] || handoff.channel} · ${handoff.language === "en" ? "EN" : "中文"}`);
  if (TIER[handoff.tier]) title.append(el("span", `tier ${handoff.tier}`, TIER[handoff.tier]));
  if ((handoff.routing || []).some((note) => note.kind === "risk")) title.append(el("span", "risk", "⚠ 风控 Risk"));
  const group = handoff.skill_group ? (state.groups[handoff.skill_group] || handoff.skill_group) : "";
  const meta = el("div", "meta",
    `${REASON[handoff.reason] || handoff.reason} · ${handoff.status === "waiting" ? `第 ${handoff.position} 位 #${handoff.position} · ` : ""}${minutes(handoff.created_at)}`);
  li.append(title, meta);
  if (group) li.append(el("div", "meta group", `${group}${handoff.overflowed_from ? " ⤴" : ""}`));
  li.append(el("div", "meta", summaryLine(handoff)));
  li.addEventListener("click", () => openChat(handoff.id));
  return li;
}

async function refreshQueue() {
  const data = await api("GET", "/api/queue");
  state.groups = data.groups || {};
  $("mine").replaceChildren(...data.mine.map(handoffItem));
  $("waiting").replaceChildren(...data.waiting.map(handoffItem));
  $("mine-count").textContent = `(${data.mine.length})`;
  $("waiting-count").textContent = `(${data.waiting.length})`;
  if (!data.mine.length) $("mine").append(el("li", "muted", "暂无 None"));
  if (!data.waiting.length) $("waiting").append(el("li", "muted", "暂无 None"));
}

async function refreshMetrics() {
  const m = await api("GET", "/api/metrics");
  const rows = [
    ["排队 Waiting", m.waiting],
    ["处理中 Assigned", m.assigned],
    ["最长等待 Longest wait", duration(m.longest_wait_seconds)],
    ["当前平均等待 Current avg wait", duration(m.current_avg_wait_seconds)],
    ["平均等待 Avg wait", duration(m.avg_wait_seconds)],
    ["首次响应 First response", duration(m.avg_first_response_seconds)],
    ["已处理 Handled", m.handled_total],
  ];
  $("metrics-list").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", "", k), el("dd", "", v)]));
  $("per-agent").tBodies[0].replaceChildren(...m.per_agent.map((a) => {
    const tr = el("tr");
    tr.append(el("td", "", `${a.present ? "🟢" : "⚪"} ${a.display_name}`), el("td", "", a.open_chats), el("td", "", a.handled));
    return tr;
  }));
}

// -- one conversation ----------------------------------------------------------------------

async function openChat(id) {
  if (state.current !== id) closePhoto();
  state.current = id;
  $("chat-notice").textContent = "";
  document.querySelectorAll(".handoffs li").forEach((li) => li.classList.toggle("current", Number(li.dataset.id) === id));
  await refreshChat();
}

function closeChat(notice) {
  state.current = null;
  state.detail = null;
  showSuggestions(null);
  closePhoto();
  renderPhotos(null, []);
  $("chat").hidden = true;
  $("empty").hidden = false;
  $("empty").textContent = notice || "请选择一个会话 · Pick a conversation";
  ["summary", "orders", "tickets"].forEach((id) => $(id).replaceChildren());
}

async function refreshChat() {
  const id = state.current;
  let data;
  try {
    data = await api("GET", `/api/handoffs/${id}`);
  } catch (error) {
    if (error.status === 403 || error.status === 404) closeChat("该会话已由其他客服处理 · This chat is no longer yours");
    return;
  }
  if (id !== state.current) return;
  state.detail = data;
  const h = data.handoff;
  $("empty").hidden = true;
  $("chat").hidden = false;
  $("chat-title").textContent = `#${h.id} ${CHANNEL[h.channel] || h.channel} · ${h.language === "en" ? "English" : "中文"}`;
  $("chat-status").textContent = STATUS[h.status] + (h.agent_name ? ` · ${h.agent_name}` : "");
  $("claim").hidden = h.status !== "waiting";
  $("transfer").hidden = $("transfer-to").hidden = $("resolve").hidden = !data.mine;
  $("reply-form").hidden = !data.mine;
  const risk = data.risk || {};
  $("block").hidden = !state.supervisor || risk.blocked || !risk.abuse_24h;
  $("unblock").hidden = !state.supervisor || !risk.blocked;
  if (!data.rasa_ok) $("chat-notice").textContent = "无法读取 Rasa 对话记录 · Rasa tracker unavailable";

  const list = $("transcript");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
  list.replaceChildren(...data.transcript.map((turn) => {
    const li = el("li", `${turn.sender}${turn.pending ? " pending" : ""}`);
    li.append(el("span", "who", `${WHO[turn.sender] || turn.sender}${turn.pending ? " · 待送达 pending" : ""}`), document.createTextNode(turn.text));
    return li;
  }));
  if (atBottom) list.scrollTop = list.scrollHeight;

  const transferTo = $("transfer-to");
  transferTo.replaceChildren(el("option", "", "转回排队 Back to queue"), ...data.agents.map((a) => {
    const option = el("option", "", `${a.display_name} (${a.open_chats}/${a.max_concurrent})${a.present ? "" : " 离线 away"}`);
    option.value = a.id;
    return option;
  }));
  transferTo.options[0].value = "";

  const canned = $("canned");
  canned.replaceChildren(el("option", "", "快捷回复 Canned replies…"), ...data.canned.map((c) => {
    const option = el("option", "", c.title);
    option.value = c.text;
    return option;
  }));
  canned.options[0].value = "";

  renderContext(h, data.customer);
  renderPhotos(h.id, data.photos || []);
  if (data.mine) loadSuggestions(h.id); else showSuggestions(null);
}

// -- suggested replies (kefu/desk/assist.py) -----------------------------------------------
// For the shopper's latest message: the bot's answers, the proven order's facts, the closest
// canned replies. One click (or Alt+N) puts one in the reply box to edit; what is sent says
// whether a suggestion was used as it was, edited or ignored.
const KIND = { answer: "答案 Answer", order: "订单 Order", canned: "快捷 Canned" };

async function loadSuggestions(handoffId) {
  let data;
  try {
    data = await api("GET", `/api/handoffs/${handoffId}/suggestions`);
  } catch (error) {
    return;  // Rasa away: the agent writes as before
  }
  if (handoffId !== state.current) return;
  const key = `${handoffId}:${data.message}`;
  if (key === state.answered) { showSuggestions(null); return; }  // replied to already
  if (state.suggested && state.suggested.key === key) return;  // shown already: keep the agent's choice
  showSuggestions({ ...data, key });
}

function showSuggestions(data) {
  state.suggested = data && data.suggestions.length ? data : null;
  state.chosen = null;
  $("suggestions").hidden = !state.suggested;
  $("suggestion-list").replaceChildren(...(state.suggested ? state.suggested.suggestions.map((s, i) => {
    const li = el("li");
    const button = el("button", "suggestion");
    button.type = "button";
    button.dataset.kind = s.kind;
    button.append(el("span", "tag", `${i + 1} · ${KIND[s.kind] || s.kind}`), el("span", "muted", ` ${s.title} `),
      el("span", "text", s.text));
    button.addEventListener("click", () => useSuggestion(i));
    li.append(button);
    return li;
  }) : []));
}

function useSuggestion(index) {
  const chosen = state.suggested && state.suggested.suggestions[index];
  if (!chosen) return;
  state.chosen = chosen;
  $("reply-text").value = chosen.text;
  $("reply-text").focus();
}

/** What the reply says of the suggestions shown (none: nothing to record). */
function assistOf() {
  if (!state.suggested) return undefined;
  const chosen = state.chosen;
  return { intent: state.suggested.intent, kind: chosen ? chosen.kind : null, text: chosen ? chosen.text : null };
}

// -- the shopper's photos ------------------------------------------------------------------
// Each link is signed for one photo and expires in minutes (kefu/desk/evidence.py): the strip
// keeps the thumbnails it shows while their links last, and a photo is opened with fresh links.

const KEEP_MS = 60000; // links with less than this left are replaced at the next refresh

function linkExpiry(link) {
  const expires = Number(new URL(link, location.href).searchParams.get("expires"));
  return Number.isFinite(expires) ? expires * 1000 : 0;
}

function photoLabel(photo, n) {
  const when = photo.created_at ? ` · ${new Date(photo.created_at).toLocaleString()}` : "";
  return `顾客照片 ${n} Shopper photo ${n}${when}`;
}

function photoAttachment(photo) {
  if (photo.aftersale_id) return `售后 ${photo.aftersale_id}`;
  if (photo.ticket_id) return `工单 ${photo.ticket_id}`;
  return "待提交 Not filed yet";
}

function renderPhotos(chatId, photos) {
  const strip = $("photos");
  const ids = photos.map((p) => p.id).join(",");
  const kept = state.photos;
  if (chatId !== null && kept.chat === chatId && kept.ids === ids && kept.until - Date.now() > KEEP_MS) return;
  state.photos = { chat: chatId, ids, until: Math.min(...photos.map((p) => linkExpiry(p.thumb)), Infinity) };
  $("photos-count").textContent = photos.length ? `(${photos.length})` : "";
  if (chatId === null) { strip.replaceChildren(); return; }
  if (!photos.length) { strip.replaceChildren(el("li", "muted", "无 None")); return; }
  strip.replaceChildren(...photos.map((photo, index) => {
    const n = index + 1;
    const li = el("li");
    const button = el("button", "photo");
    button.type = "button";
    button.dataset.id = photo.id;
    button.setAttribute("aria-label", `${photoLabel(photo, n)}，查看大图 View full size`);
    const img = el("img");
    img.setAttribute("alt", photoLabel(photo, n));
    img.setAttribute("loading", "lazy");
    img.setAttribute("decoding", "async");
    img.setAttribute("src", photo.thumb);
    img.addEventListener("error", () => {
      // most likely the link expired while the chat stayed open: fetch fresh links (once a minute at
      // most, so that a photo missing from the storage does not loop)
      if (state.current !== chatId || Date.now() - state.photoRetryAt < KEEP_MS) return;
      state.photoRetryAt = Date.now();
      state.photos.until = 0;
      refreshChat();
    }, { once: true });
    button.append(img);
    button.addEventListener("click", () => openPhoto(photo.id, n, button));
    li.append(button, el("div", "meta", photoAttachment(photo)));
    return li;
  }));
}

async function openPhoto(id, n, from) {
  await refreshChat(); // the links in hand may have expired: take fresh ones
  const photo = state.detail && (state.detail.photos || []).find((p) => p.id === id);
  if (!photo) return;
  state.viewerFrom = from;
  $("photo-full").setAttribute("alt", photoLabel(photo, n));
  $("photo-full").setAttribute("src", photo.full);
  $("photo-open").setAttribute("href", photo.full);
  $("photo-caption").textContent =
    `${photoLabel(photo, n)} · ${photo.width}×${photo.height} · ${Math.max(1, Math.round(photo.size / 1024))} KB · ${photoAttachment(photo)}`;
  $("photo-viewer").hidden = false;
  $("photo-close").focus();
}

function closePhoto() {
  const viewer = $("photo-viewer");
  if (viewer.hidden) return;
  viewer.hidden = true;
  $("photo-full").removeAttribute("src");
  $("photo-open").removeAttribute("href");
  if (state.viewerFrom && document.contains(state.viewerFrom)) state.viewerFrom.focus();
  state.viewerFrom = null;
}

$("photo-close").addEventListener("click", closePhoto);
$("photo-viewer").addEventListener("click", (event) => { if (event.target === $("photo-viewer")) closePhoto(); });
document.addEventListener("keydown", (event) => { if (event.key === "Escape") closePhoto(); });

function renderContext(h, customer) {
  const summary = h.summary && typeof h.summary === "object" ? h.summary : { text: h.summary };
  const rows = [
    ["原因 Reason", REASON[h.reason] || h.reason],
    ["排队 Queued", `${minutes(h.created_at)} 前 ago`],
    ["等级 Tier", TIER[h.tier] || ""],
    ["技能组 Group", h.skill_group ? (state.groups[h.skill_group] || h.skill_group) : ""],
    ["风控 Risk", ((summary.risk || {}).reasons || []).join("、")],
    ["投诉类别 Complaint", (summary.complaint || {}).name || ""],
    ["辱骂 Abuse (24 h)", state.detail && state.detail.risk && state.detail.risk.abuse_24h ? String(state.detail.risk.abuse_24h) : ""],
    ["封禁 Blocked", state.detail && state.detail.risk && state.detail.risk.blocked ? "是 yes" : ""],
    ...(h.routing || []).map((note) => ["分配 Routing", note.text]),
    ["意图 Intents", (summary.intents || []).join(", ")],
    ["订单 Order", summary.order_id || ""],
    ["工单 Ticket", summary.ticket_id || ""],
    ["摘要 Summary", summary.text || ""],
    ["顾客 Customer", customer.customer_id ? `#${customer.customer_id}` : "未识别 unknown"],
  ].filter(([, v]) => v);
  $("summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", "", k), el("dd", "", v)]));
  $("orders").replaceChildren(...(customer.orders.length ? customer.orders.map((o) => {
    const li = el("li");
    li.append(el("strong", "", o.id), el("div", "", `${o.status} · ${money(o.total_cents)} · ${o.created_at.slice(0, 10)}`),
      el("div", "muted", o.items.join("，")), el("div", "muted", `${o.receiver} ${o.phone}`));
    return li;
  }) : [el("li", "muted", "无 None")]));
  $("tickets").replaceChildren(...(customer.tickets.length ? customer.tickets.map((t) => {
    const li = el("li");
    li.dataset.ticket = t.id;
    li.append(el("strong", "", t.id), el("div", "", `${t.category} · P${t.priority}`), el("div", "muted", t.summary));
    li.append(state.detail && state.detail.mine ? ticketStatusPicker(t) : el("div", "", TICKET_STATUS[t.status] || t.status));
    return li;
  }) : [el("li", "muted", "无 None")]));
}

const TICKET_STATUS = { open: "待处理 Open", pending: "处理中 In progress", resolved: "已解决 Resolved", closed: "已关闭 Closed" };

// The agent holding the chat moves a ticket on; the shopper's service
// record shows the new status at its next refresh.
function ticketStatusPicker(ticket) {
  const select = el("select", "ticket-status");
  select.setAttribute("aria-label", `工单状态 Ticket status ${ticket.id}`);
  Object.entries(TICKET_STATUS).forEach(([value, text]) => {
    const option = el("option", "", text);
    option.value = value;
    option.selected = value === ticket.status;
    select.append(option);
  });
  select.addEventListener("change", () => act(`tickets/${encodeURIComponent(ticket.id)}/status`, { status: select.value },
    () => { ticket.status = select.value; }));
  return select;
}

async function act(path, body, done) {
  $("chat-notice").textContent = "";
  try {
    const data = await api("POST", `/api/handoffs/${state.current}/${path}`, body);
    if (data.notified === false) $("chat-notice").textContent = "已保存，但通知 Rasa 失败 · Saved, but Rasa could not be reached";
    if (done) done(data);
  } catch (error) {
    const text = { taken: "已被其他客服认领 · Taken by someone else", forbidden: "无权操作 · Not your chat",
      closed: "会话已结束 · Already closed" }[error.code] || `操作失败 · Failed (${error.code})`;
    $("chat-notice").textContent = text;
  }
  await refreshAll(state.current !== null);
}

$("claim").addEventListener("click", () => act("claim"));
$("block").addEventListener("click", () => { if (state.current !== null) blockChat(state.current); });
$("unblock").addEventListener("click", async () => {
  if (state.current === null) return;
  await api("POST", `/api/handoffs/${state.current}/unblock`);
  scheduleRefresh(true);
});
$("transfer").addEventListener("click", () => {
  const value = $("transfer-to").value;
  act("transfer", { to_agent_id: value ? Number(value) : null }, () => closeChat("已转接 · Transferred"));
});
$("resolve").addEventListener("click", () => act("resolve", undefined, () => closeChat("已结束，已交还机器人 · Resolved and handed back")));
$("canned").addEventListener("change", () => {
  if ($("canned").value) {
    $("reply-text").value = $("canned").value;
    $("canned").value = "";
    $("reply-text").focus();
  }
});
$("reply-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("reply-text").value.trim();
  if (!text) return;
  const answered = state.suggested ? state.suggested.key : null;
  act("reply", { text, assist: assistOf() }, () => {
    $("reply-text").value = "";
    if (answered) state.answered = answered;  // the next shopper message brings new suggestions
    showSuggestions(null);
  });
});
$("reply-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit();
  if (event.altKey && /^[1-4]$/.test(event.key)) { event.preventDefault(); useSuggestion(Number(event.key) - 1); }
});

// -- start -------------------------------------------------------------------------------

(async () => {
  try {
    const data = await api("GET", "/api/me");
    await showDesk(data.agent, data.supervisor);
  } catch (error) {
    showLogin();
  }
})();
