/* Shared by the dashboard pages: the session (a short-lived token, never the API key),
   API calls, formatting and small DOM helpers. No dependencies. */
"use strict";

const Session = {
  storageKey: "agensium.session",
  load(kind) {
    try {
      const s = JSON.parse(sessionStorage.getItem(this.storageKey + "." + kind) || "null");
      if (s && s.token && Date.parse(s.expires_at) > Date.now() + 5000) return s;
    } catch (e) { /* corrupted: sign in again */ }
    this.clear(kind);
    return null;
  },
  save(kind, s) { sessionStorage.setItem(this.storageKey + "." + kind, JSON.stringify(s)); },
  clear(kind) { sessionStorage.removeItem(this.storageKey + "." + kind); },
};

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || ("HTTP " + status));
    this.status = status;
    this.code = err.code || "HTTP_" + status;
  }
}

/* Exchange the API key for a session token; the key lives only in this call. */
async function startSession(apiKey) {
  const r = await fetch("/v1/auth/session", {
    method: "POST",
    headers: { "Authorization": "Bearer " + apiKey },
    cache: "no-store",
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  return {
    token: body.token, expires_at: body.expires_at, tenant_name: body.tenant_name,
    tenant_id: body.tenant_id, is_admin: body.is_admin,
  };
}

function makeApi(getToken, onUnauthorized) {
  return async function api(path, options) {
    const opts = Object.assign({ cache: "no-store" }, options || {});
    opts.headers = Object.assign({ "Authorization": "Bearer " + getToken() }, opts.headers || {});
    const r = await fetch(path, opts);
    const body = await r.json().catch(() => null);
    if (r.status === 401) { onUnauthorized(new ApiError(r.status, body)); }
    if (!r.ok) throw new ApiError(r.status, body);
    return body;
  };
}

const fmt = {
  int(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); },
  signed(n) { return (n > 0 ? "+" : "") + Number(n).toLocaleString("en-US"); },
  bytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let v = Number(n), i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toString() : v.toFixed(1)) + " " + units[i];
  },
  ms(n) {
    if (n === null || n === undefined) return "–";
    return n >= 1000 ? (n / 1000).toFixed(2) + " s" : Math.round(n) + " ms";
  },
  time(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace(/(\+00:00|Z)$/, "") : "–"; },
  pct(x) { return x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%"; },
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/* A number cell: formatted text, the raw value in data-value. */
function num(value, text) {
  return el("td", { class: "num", "data-value": value === null || value === undefined ? "" : String(value) },
    text === undefined ? fmt.int(value) : text);
}

function setStat(id, value, text) {
  const node = document.getElementById(id);
  node.textContent = text === undefined ? fmt.int(value) : text;
  node.dataset.value = value === null || value === undefined ? "" : String(value);
}

function isoDaysAgo(days) {
  const d = new Date(Date.now() - days * 86400000);
  return d.toISOString().slice(0, 10);
}

function wireSignIn({ kind, onSignedIn, needAdmin }) {
  const form = document.getElementById("signin-form");
  const input = document.getElementById("api-key");
  const error = document.getElementById("signin-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const key = input.value.trim();
    input.value = "";  // the key never stays in the page
    try {
      const s = await startSession(key);
      if (needAdmin && !s.is_admin) throw new ApiError(403, { error: { message: "This page needs the operator key." } });
      if (!needAdmin && s.is_admin) throw new ApiError(403, { error: { message: "Use a tenant API key here; operators have /dashboard/ops." } });
      Session.save(kind, s);
      onSignedIn(s);
    } catch (e) {
      error.textContent = e.status === 401 ? "That API key was not accepted." : e.message;
      input.focus();
    }
  });
}
