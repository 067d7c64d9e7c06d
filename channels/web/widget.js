/*
 * Kefu web chat widget: one <script> tag on any shop page.
 *
 *   <script src="https://kefu.example.com/webchat/widget.js"
 *           data-server="https://kefu.example.com" data-lang="zh"></script>
 *
 * Plain ES5-ish JavaScript, no build step. It injects its stylesheet, a
 * launcher button and a chat panel, and talks to Rasa's socket.io channel
 * (channels/webchat.py): session_request/session_confirm, user_uttered,
 * bot_uttered. Photos (the 📎 button, or an image pasted into the input) go
 * by HTTP to POST <server>/webhooks/webchat/photo with the session token in
 * a header, after the checks the server makes first (type, size); the bot's
 * answer to a photo comes on the socket like any other. The 📋 button opens
 * the shopper's service record (their requests, tickets and past
 * conversations, once they proved who they are): GET
 * <server>/webhooks/webchat/record with the same header, asked again every
 * few seconds while it is open (304 while nothing changed) and whenever the
 * bot speaks, so a status an agent or the shop changes shows by itself. The server issues
 * the session token (unguessable; the conversation it stands for is derived
 * from it on the server, so nobody can join another shopper's session by
 * naming it); the token and the transcript live in sessionStorage so the
 * conversation survives page reloads within the tab (a photo's preview does
 * not: it shows as a label then). Every text is put in the page with
 * textContent (never innerHTML): bot or shopper text cannot inject markup;
 * only http(s) links and images are made clickable/shown (and the shopper's
 * own photos, from object URLs the widget made).
 *
 * Options (data-* attributes): data-server (default: where this script came
 * from), data-lang ("zh" | "en"; default: navigator.language),
 * data-socket-path (default "/socket.io"), data-max-photo-bytes (default
 * MAX_PHOTO_BYTES, the server's default limit: set it when the server's
 * KEFU_EVIDENCE_MAX_BYTES differs; the server refuses a bigger photo anyway).
 */
(function () {
  "use strict";
  if (window.KefuWebchat && window.KefuWebchat.root) { return; }  // embedded twice

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all[all.length - 1];
  })();
  var scriptUrl = new URL(script.getAttribute("src"), document.baseURI);
  var server = (script.getAttribute("data-server") || scriptUrl.origin).replace(/\/+$/, "");
  var socketPath = script.getAttribute("data-socket-path") || "/socket.io";
  var staticBase = scriptUrl.href.replace(/\/[^\/]*$/, "");

  var STRINGS = {
    zh: {
      title: "在线客服", subtitle: "智能客服小客 · 随时为您服务", open: "联系客服", close: "关闭",
      placeholder: "请输入您的问题…", send: "发送", typing: "小客正在输入…",
      offline: "网络连接已断开，正在重新连接…", image: "图片", you: "我", bot: "客服",
      tooLong: "消息太长啦，请精简一下~",
      attach: "发送图片", photo: "照片", photoType: "只能发送JPG、PNG、WebP或GIF格式的图片哦~",
      photoTooBig: "这张图片太大了（最大{mb}MB），请压缩后或换一张再发。",
      photoWait: "正在连接客服，请稍等片刻再发送图片~", photoFailed: "抱歉，照片没能发送出去 😣 请稍后再试一次。",
      record: "服务记录", recordBack: "返回对话", recordLoading: "正在加载服务记录…",
      recordFailed: "服务记录暂时打不开，请稍后再试~"
    },
    en: {
      title: "Customer service", subtitle: "Kefu assistant · here to help", open: "Chat with us", close: "Close",
      placeholder: "Type your question…", send: "Send", typing: "Kefu is typing…",
      offline: "Connection lost. Reconnecting…", image: "Image", you: "You", bot: "Kefu",
      tooLong: "That message is too long, please shorten it.",
      attach: "Send a photo", photo: "Photo", photoType: "Only JPG, PNG, WebP or GIF pictures can be sent.",
      photoTooBig: "That picture is too large (at most {mb} MB); please send a smaller one.",
      photoWait: "Still connecting; please send the photo again in a moment.",
      photoFailed: "Sorry, the photo could not be sent 😣 Please try again in a moment.",
      record: "My record", recordBack: "Back to the chat", recordLoading: "Loading your record…",
      recordFailed: "Your record cannot be shown just now; please try again in a moment."
    }
  };
  function pickLanguage() {
    var wanted = (script.getAttribute("data-lang") || navigator.language || "zh").toLowerCase();
    return wanted.indexOf("zh") === 0 ? "zh" : (wanted.indexOf("en") === 0 ? "en" : "zh");
  }
  var lang = pickLanguage();
  var T = STRINGS[lang];

  var MAX_CHARS = 1000;
  // the server's default photo limit (KEFU_EVIDENCE_MAX_BYTES); what it says goes
  var MAX_PHOTO_BYTES = 8000000;
  // what the server keeps (kefu/evidence/images.py); the file picker offers only these
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif"];
  var PHOTO_URL = server + "/webhooks/webchat/photo";
  var RECORD_URL = server + "/webhooks/webchat/record";
  var RECORD_REFRESH_MS = 5000;  // the server says how often (refresh_seconds)
  var maxPhotoBytes = parseInt(script.getAttribute("data-max-photo-bytes"), 10) || MAX_PHOTO_BYTES;
  var MAX_TRANSCRIPT = 200;
  var TYPING_TIMEOUT_MS = 30000;
  var STORE_KEY = "kefu-webchat:" + server;

  // ---- state kept across reloads (sessionStorage: this tab only) ----------
  function load() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved === "object" && Array.isArray(saved.transcript)) { return saved; }
    } catch (e) { /* storage blocked or corrupt: start afresh */ }
    return { sessionToken: null, transcript: [], open: false };
  }
  var state = load();
  function save() {
    if (state.transcript.length > MAX_TRANSCRIPT) {
      state.transcript = state.transcript.slice(state.transcript.length - MAX_TRANSCRIPT);
    }
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* ignore */ }
  }

  // ---- DOM helpers --------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function safeUrl(value) {
    try {
      var url = new URL(String(value), document.baseURI);
      return (url.protocol === "http:" || url.protocol === "https:") ? url.href : null;
    } catch (e) { return null; }
  }
  var LINK = /(https?:\/\/[^\s<>"'，。！？、；：）】」]+)/g;
  /** Text with its http(s) links as <a>, everything else as text nodes. */
  function richText(parent, text) {
    var parts = String(text).split(LINK);
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) { continue; }
      var href = i % 2 === 1 ? safeUrl(parts[i].replace(/[.,;:!?)]+$/, "")) : null;
      if (href) {
        var trimmed = parts[i].replace(/[.,;:!?)]+$/, "");
        var a = el("a", "kefu-wc-link", trimmed);
        a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer nofollow";
        parent.appendChild(a);
        if (trimmed.length < parts[i].length) { parent.appendChild(document.createTextNode(parts[i].slice(trimmed.length))); }
      } else {
        parent.appendChild(document.createTextNode(parts[i]));
      }
    }
  }

  // ---- stylesheet, launcher, panel ----------------------------------------
  var css = document.createElement("link");
  css.rel = "stylesheet"; css.href = staticBase + "/widget.css";
  document.head.appendChild(css);

  var root = el("div", "kefu-wc");
  root.id = "kefu-webchat";
  root.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");
  root.setAttribute("data-connection", "connecting");
  root.setAttribute("data-session", "pending");

  var launcher = el("button", "kefu-wc-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", T.open);
  launcher.appendChild(el("span", "kefu-wc-launcher-icon", "💬"));
  launcher.appendChild(el("span", "kefu-wc-launcher-text", T.open));

  var panel = el("section", "kefu-wc-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", T.title);
  panel.hidden = true;

  var header = el("header", "kefu-wc-header");
  var heading = el("div", "kefu-wc-heading");
  heading.appendChild(el("div", "kefu-wc-title", T.title));
  heading.appendChild(el("div", "kefu-wc-subtitle", T.subtitle));
  var closeButton = el("button", "kefu-wc-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", T.close);
  closeButton.title = T.close;
  var recordButton = el("button", "kefu-wc-record-button", "📋");
  recordButton.type = "button";
  recordButton.setAttribute("aria-label", T.record);
  recordButton.title = T.record;
  header.appendChild(heading); header.appendChild(recordButton); header.appendChild(closeButton);

  // the shopper's service record, in place of the conversation while open
  var record = el("div", "kefu-wc-record");
  record.setAttribute("role", "region");
  record.setAttribute("aria-label", T.record);
  record.setAttribute("aria-live", "polite");
  record.hidden = true;
  var recordBack = el("button", "kefu-wc-record-back", "← " + T.recordBack);
  recordBack.type = "button";
  var recordBody = el("div", "kefu-wc-record-body");
  record.appendChild(recordBack); record.appendChild(recordBody);

  var offline = el("div", "kefu-wc-offline", T.offline);
  offline.setAttribute("role", "status");
  offline.hidden = true;

  var log = el("div", "kefu-wc-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");

  var typing = el("div", "kefu-wc-typing");
  typing.setAttribute("aria-label", T.typing);
  typing.appendChild(el("span", "kefu-wc-dots", "•••"));
  typing.appendChild(el("span", "kefu-wc-typing-text", T.typing));
  typing.hidden = true;

  var form = el("form", "kefu-wc-form");
  var attachButton = el("button", "kefu-wc-attach", "📎");
  attachButton.type = "button";
  attachButton.setAttribute("aria-label", T.attach);
  attachButton.title = T.attach;
  var fileInput = el("input", "kefu-wc-file");
  fileInput.type = "file"; fileInput.accept = PHOTO_TYPES.join(","); fileInput.multiple = true;
  fileInput.hidden = true; fileInput.tabIndex = -1; fileInput.setAttribute("aria-hidden", "true");
  var input = el("input", "kefu-wc-input");
  input.type = "text"; input.maxLength = MAX_CHARS; input.autocomplete = "off";
  input.placeholder = T.placeholder; input.setAttribute("aria-label", T.placeholder);
  var sendButton = el("button", "kefu-wc-send", T.send);
  sendButton.type = "submit";
  form.appendChild(attachButton); form.appendChild(fileInput); form.appendChild(input); form.appendChild(sendButton);

  panel.appendChild(header); panel.appendChild(offline); panel.appendChild(record); panel.appendChild(log);
  panel.appendChild(typing); panel.appendChild(form);
  root.appendChild(panel); root.appendChild(launcher);

  // ---- rendering ----------------------------------------------------------
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // previews of the shopper's photos in this page (object URLs, by entry.photo):
  // never saved, so after a reload a photo shows as a label
  var previews = {};
  function renderPhoto(bubble, id) {
    var url = previews[id];
    if (!url) { bubble.appendChild(document.createTextNode("📷 " + T.photo)); return; }
    bubble.classList.add("kefu-wc-has-photo");
    var img = el("img", "kefu-wc-image kefu-wc-photo");
    img.alt = T.photo;
    function done() { URL.revokeObjectURL(url); previews[id] = null; scrollDown(); }  // shown: the blob may go
    img.addEventListener("load", done);
    img.addEventListener("error", function () {  // not a picture the browser can show: its label instead
      done();
      bubble.classList.remove("kefu-wc-has-photo");
      img.replaceWith(document.createTextNode("📷 " + T.photo));
    });
    img.src = url;
    bubble.appendChild(img);
  }

  /** One transcript entry: {from: "user"|"bot", text, image, photo, failed, notice, quickReplies, used}. */
  function renderEntry(entry, index) {
    var row = el("div", "kefu-wc-row kefu-wc-" + (entry.from === "user" ? "user" : "bot") +
                 (entry.notice ? " kefu-wc-notice" : "") + (entry.failed ? " kefu-wc-failed" : ""));
    var bubble = el("div", "kefu-wc-bubble");
    if (entry.photo) { renderPhoto(bubble, entry.photo); }
    if (entry.text) { richText(bubble, entry.text); }
    if (entry.image) {
      var src = safeUrl(entry.image);
      if (src) {
        var img = el("img", "kefu-wc-image");
        img.src = src; img.alt = T.image; img.loading = "lazy";
        img.addEventListener("load", scrollDown);
        bubble.appendChild(img);
      }
    }
    row.appendChild(bubble);
    if (entry.quickReplies && entry.quickReplies.length && !entry.used) {
      var replies = el("div", "kefu-wc-replies");
      entry.quickReplies.forEach(function (reply) {
        var button = el("button", "kefu-wc-reply", reply.title || reply.payload);
        button.type = "button";
        button.addEventListener("click", function () {
          entry.used = true;
          replies.remove();
          send(reply.payload || reply.title, reply.title || reply.payload);
        });
        replies.appendChild(button);
      });
      row.appendChild(replies);
    }
    log.appendChild(row);
    scrollDown();
  }
  function add(entry) {
    if (entry.from === "user") {  // the shopper moved on: earlier quick replies are spent
      state.transcript.forEach(function (old) { if (old.quickReplies) { old.used = true; } });
      var stale = log.querySelectorAll(".kefu-wc-replies");
      for (var i = 0; i < stale.length; i++) { stale[i].remove(); }
    }
    state.transcript.push(entry);
    save();
    renderEntry(entry);
  }
  state.transcript.forEach(renderEntry);

  var typingTimer = null;
  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) { typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS); scrollDown(); }
  }

  // ---- open / close -------------------------------------------------------
  function setOpen(open) {
    state.open = open; save();
    panel.hidden = !open;
    root.classList.toggle("kefu-wc-is-open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { scrollDown(); input.focus(); }
    if (open && !record.hidden) { refreshRecord(); }  // the record, opened while the widget was closed
  }
  launcher.addEventListener("click", function () { setOpen(!state.open); });
  closeButton.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && state.open) { setOpen(false); } });

  // ---- socket.io ----------------------------------------------------------
  var socket = null;
  var pending = [];  // messages typed before the session was confirmed
  var confirmed = false;  // the server bound this connection to our session
  function setConfirmed(on) {
    confirmed = on;
    root.setAttribute("data-session", on ? "confirmed" : "pending");
  }

  function send(payload, shown) {
    var text = String(payload || "").trim();
    if (!text) { return; }
    if (text.length > MAX_CHARS) { add({ from: "bot", text: T.tooLong }); return; }
    add({ from: "user", text: shown || text });
    showTyping(true);
    var message = { message: text, metadata: { lang: lang } };
    if (socket && confirmed) { socket.emit("user_uttered", message); } else { pending.push(message); }
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });

  // ---- photos -------------------------------------------------------------
  function notice(text) { add({ from: "bot", text: text, notice: true }); }

  /** Why a photo cannot be sent before it is sent (null: it may go). */
  function photoProblem(file) {
    if (PHOTO_TYPES.indexOf(String(file.type).toLowerCase()) < 0) { return T.photoType; }
    if (file.size > maxPhotoBytes) {
      return T.photoTooBig.replace("{mb}", String(Math.max(1, Math.floor(maxPhotoBytes / 1e6))));
    }
    if (!window.fetch || !window.URL || !URL.createObjectURL) { return T.photoFailed; }
    if (!(socket && confirmed && state.sessionToken)) { return T.photoWait; }  // no session to send it for yet
    return null;
  }

  var photoCount = 0;
  /** Show the photo as the shopper's own bubble and upload it; a refusal
   *  shows the server's polite text. Resolves when the upload is answered. */
  function sendPhoto(file) {
    var problem = photoProblem(file);
    if (problem) { notice(problem); return Promise.resolve(false); }
    var id = "p" + (++photoCount) + "-" + Date.now();
    previews[id] = URL.createObjectURL(file);
    var entry = { from: "user", photo: id };
    add(entry);
    var row = log.lastChild;
    function refused(text) {  // the bubble stays, marked as not sent; the notice says why
      entry.failed = true; save();
      if (row) { row.classList.add("kefu-wc-failed"); }
      showTyping(false);
      notice(text);
      return false;
    }
    showTyping(true);  // the answer comes on the socket
    return window.fetch(PHOTO_URL, {
      method: "POST", mode: "cors", credentials: "omit", body: file,
      headers: { "X-Kefu-Session": state.sessionToken, "X-Kefu-Language": lang, "Content-Type": file.type }
    }).then(function (reply) {
      if (reply.ok) { return true; }
      return reply.json().catch(function () { return {}; }).then(function (body) {
        return refused(body && typeof body.text === "string" && body.text ? body.text : T.photoFailed);
      });
    }, function () { return refused(T.photoFailed); });
  }
  /** Several photos go one after the other, in the order chosen. */
  function sendPhotos(files) {
    var queue = Array.prototype.slice.call(files || []);
    var chain = Promise.resolve();
    queue.forEach(function (file) { chain = chain.then(function () { return sendPhoto(file); }); });
    return chain;
  }
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var files = fileInput.files;
    sendPhotos(files);
    fileInput.value = "";  // the same photo may be chosen again
  });
  input.addEventListener("paste", function (e) {
    var data = e.clipboardData;
    var files = data && data.files && data.files.length ? Array.prototype.slice.call(data.files) : [];
    var images = files.filter(function (file) { return /^image\//.test(file.type); });
    if (!images.length) { return; }  // pasted text: as usual
    e.preventDefault();
    sendPhotos(images);
  });

  // ---- the service record -------------------------------------------------
  var recordVersion = null;
  var recordTimer = null;
  function recordOpen() { return !record.hidden && !panel.hidden; }

  function renderRecord(body) {
    recordBody.textContent = "";
    recordBody.appendChild(el("h2", "kefu-wc-record-title", body.title || T.record));
    if (!body.proven) {
      recordBody.setAttribute("data-proven", "false");
      recordBody.appendChild(el("p", "kefu-wc-record-text", body.text || ""));
      if (body.button && body.button.payload) {
        var prove = el("button", "kefu-wc-reply kefu-wc-record-prove", body.button.title || body.button.payload);
        prove.type = "button";
        prove.addEventListener("click", function () { showRecord(false); send(String(body.button.payload)); });
        recordBody.appendChild(prove);
      }
      return;
    }
    recordBody.setAttribute("data-proven", "true");
    (body.sections || []).forEach(function (section) {
      var part = el("section", "kefu-wc-record-section");
      part.setAttribute("data-section", String(section.key || ""));
      part.appendChild(el("h3", "", section.title || ""));
      var list = el("ul", "kefu-wc-record-items");
      (section.items || []).forEach(function (item) {
        var li = el("li", "kefu-wc-record-item");
        li.setAttribute("data-id", String(item.id || ""));
        var top = el("div", "kefu-wc-record-headline", item.headline || "");
        if (item.status) {
          var status = el("span", "kefu-wc-record-status", item.status);
          status.setAttribute("data-status", String(item.status_key || ""));
          top.appendChild(status);
        }
        li.appendChild(top);
        if (item.next) { li.appendChild(el("div", "kefu-wc-record-next", item.next)); }
        var when = [item.date, item.channel].filter(Boolean).join(" · ");
        if (when) { li.appendChild(el("div", "kefu-wc-record-date", when)); }
        list.appendChild(li);
      });
      part.appendChild(list);
      recordBody.appendChild(part);
    });
    if (body.empty) { recordBody.appendChild(el("p", "kefu-wc-record-text", body.empty)); }
  }

  /** Ask for the record (304: what is shown still holds) and ask again
   *  later while it stays open. */
  function refreshRecord() {
    clearTimeout(recordTimer);
    if (!recordOpen()) { return; }
    var next = RECORD_REFRESH_MS;
    function later() { if (recordOpen()) { recordTimer = setTimeout(refreshRecord, next); } }
    if (!state.sessionToken || !window.fetch) { later(); return; }
    var headers = { "X-Kefu-Session": state.sessionToken, "X-Kefu-Language": lang };
    if (recordVersion) { headers["If-None-Match"] = '"' + recordVersion + '"'; }
    window.fetch(RECORD_URL, { method: "GET", mode: "cors", credentials: "omit", cache: "no-store", headers: headers })
      .then(function (reply) {
        if (reply.status === 304) { return; }
        return reply.json().then(function (body) {
          if (!reply.ok) { throw new Error(body && body.error); }
          if (body.refresh_seconds > 0) { next = body.refresh_seconds * 1000; }
          recordVersion = body.version || null;
          renderRecord(body);
          root.setAttribute("data-record", body.proven ? "shown" : "unproven");
        });
      })
      .catch(function () {
        recordVersion = null;
        recordBody.textContent = "";
        recordBody.appendChild(el("p", "kefu-wc-record-text", T.recordFailed));
        root.setAttribute("data-record", "failed");
      })
      .then(later);
  }
  function showRecord(on) {
    record.hidden = !on;
    log.hidden = form.hidden = on;
    recordButton.setAttribute("aria-pressed", on ? "true" : "false");
    if (on) {
      if (!recordBody.firstChild) { recordBody.appendChild(el("p", "kefu-wc-record-text", T.recordLoading)); }
      refreshRecord();
      recordBack.focus();
    } else {
      clearTimeout(recordTimer);
      root.removeAttribute("data-record");
      scrollDown();
    }
  }
  recordButton.addEventListener("click", function () { showRecord(record.hidden); });
  recordBack.addEventListener("click", function () { showRecord(false); input.focus(); });

  function onBotMessage(data) {
    if (!data || typeof data !== "object") { return; }
    showTyping(false);
    if (data.custom && data.custom.kefu === "record") { showRecord(true); return; }  // the bot opens the record
    if (recordOpen()) { refreshRecord(); }  // news may have changed a status
    var entry = { from: "bot" };
    if (typeof data.text === "string") { entry.text = data.text; }
    var attachment = data.attachment;
    if (attachment && attachment.type === "image" && attachment.payload && attachment.payload.src) {
      entry.image = String(attachment.payload.src);
    } else if (typeof attachment === "string") {
      entry.text = (entry.text ? entry.text + "\n" : "") + attachment;
    }
    if (data.custom && typeof data.custom.text === "string") { entry.text = data.custom.text; }
    var replies = data.quick_replies || data.buttons;
    if (Array.isArray(replies) && replies.length) {
      entry.quickReplies = replies.map(function (r) {
        return { title: String(r.title || ""), payload: String(r.payload || r.title || "") };
      });
    }
    if (entry.text || entry.image || entry.quickReplies) { add(entry); }
  }

  function setConnection(status) {
    root.setAttribute("data-connection", status);
    offline.hidden = status !== "offline";
  }

  function connect(io) {
    socket = io(server, {
      path: socketPath,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000
    });
    // leaving the page closes the socket at once, so the server knows the
    // page is gone now rather than after its ping timeout (order news then
    // waits for the next visit instead of going to an empty room)
    window.addEventListener("pagehide", function () { if (socket) { socket.disconnect(); } });
    // on every (re)connection: show our token to rejoin the same session
    socket.on("connect", function () {
      setConnection("online");
      setConfirmed(false);
      socket.emit("session_request", { session_token: state.sessionToken });
    });
    socket.on("session_confirm", function (token) {
      if (typeof token !== "string" || !token) { return; }
      if (token !== state.sessionToken) {  // a new session (first visit, or the old one expired)
        if (state.sessionToken) { state.transcript = []; log.textContent = ""; }
        state.sessionToken = token; save();
      }
      setConfirmed(true);
      while (pending.length) { socket.emit("user_uttered", pending.shift()); }
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function () { setConfirmed(false); setConnection("offline"); });
    socket.on("connect_error", function () { setConnection("offline"); });
  }

  function withClient(callback) {
    var previous = window.io;
    var tag = document.createElement("script");
    tag.src = staticBase + "/socket.io.min.js";
    tag.async = true;
    tag.onload = function () {
      var io = window.io;
      if (previous !== undefined) { window.io = previous; }  // leave the shop's own io alone
      callback(io);
    };
    tag.onerror = function () { setConnection("offline"); };
    document.head.appendChild(tag);
  }

  function start() {
    document.body.appendChild(root);
    setOpen(!!state.open);
    withClient(connect);
  }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }

  window.KefuWebchat = {
    root: root,
    lang: lang,
    open: function () { setOpen(true); },
    showRecord: function (on) { showRecord(on !== false); },
    close: function () { setOpen(false); },
    send: function (text) { send(text); },
    sendPhoto: function (file) { return sendPhoto(file); },
    maxPhotoBytes: maxPhotoBytes,
    sessionToken: function () { return state.sessionToken; },
    socket: function () { return socket; }
  };
})();
