// Shared by the agent desk and the dashboard (loaded first by both pages):
// element lookup, the JSON API call and safe element creation.
"use strict";

const $ = (id) => document.getElementById(id);

class HttpError extends Error {
  constructor(status, code) { super(code); this.status = status; this.code = code; }
}

// A page that can log the agent in again sets api.onUnauthorized; the
// dashboard leaves it unset and shows its own "log in on the desk" notice.
async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { /* empty */ }
  if (response.status === 401 && path !== "/api/login" && api.onUnauthorized) { api.onUnauthorized(); }
  if (!response.ok) { throw new HttpError(response.status, data.error || String(response.status)); }
  return data;
}

// Text goes in with textContent only, never innerHTML: shopper text is untrusted.
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
