/* The tenant dashboard: wallet, usage totals, credits per day, by tool and agent, recent tasks
   with live status (SSE), the ledger and top-ups. Reads only with a session token. */
"use strict";

const FINAL = new Set(["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED", "EXPIRED"]);
const KIND = "tenant";
let session = null;
const streams = new Map();   // task_id -> EventSource
let pollTimer = null;
let refreshTimer = null;

const api = makeApi(() => session.token, () => signOut("Your session expired; sign in again."));

function showStatus(text) { document.getElementById("status").textContent = text || ""; }

function signOut(message) {
  Session.clear(KIND);
  if (message) sessionStorage.setItem("agensium.notice", message);
  // A reload drops every stream, timer and number of the previous tenant.
  window.location.reload();
}

function period() { return Number(document.getElementById("period").value); }

async function loadWallet() {
  const w = await api("/v1/billing/wallet");
  setStat("wallet-balance", w.balance);
  setStat("wallet-held", w.held);
  setStat("wallet-available", w.available);
}

function breakdown(tableId, label, groups) {
  const table = document.getElementById(tableId);
  table.replaceChildren();
  const head = el("tr", {},
    el("th", { scope: "col" }, label), el("th", { scope: "col" }, "Credits"),
    el("th", { scope: "col" }, "Tasks"), el("th", { scope: "col" }, "Completed"),
    el("th", { scope: "col" }, "Failed"), el("th", { scope: "col" }, "Rows"),
    el("th", { scope: "col" }, "Bytes"), el("th", { scope: "col" }, "p50"),
    el("th", { scope: "col" }, "p95"));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  if (!groups.length) {
    body.append(el("tr", {}, el("td", { colspan: "9" }, "Nothing in this period.")));
  }
  for (const g of groups) {
    body.append(el("tr", { "data-key": g.key },
      el("th", { scope: "row" }, g.key),
      num(g.credits), num(g.tasks_total), num(g.tasks.COMPLETED), num(g.tasks.FAILED),
      num(g.rows_processed), num(g.bytes_processed, fmt.bytes(g.bytes_processed)),
      num(g.duration_ms_p50, fmt.ms(g.duration_ms_p50)),
      num(g.duration_ms_p95, fmt.ms(g.duration_ms_p95))));
  }
  table.append(body);
}

function chart(days) {
  const box = document.getElementById("chart");
  const W = 720, H = 220, padL = 48, padB = 28, padT = 12, padR = 8;
  const max = Math.max(1, ...days.map((d) => d.credits));
  const total = days.reduce((a, d) => a + d.credits, 0);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label",
    `Bar chart of credits charged per day: ${fmt.int(total)} credits over ${days.length} days, at most ${fmt.int(max)} in one day.`);
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  const plotW = W - padL - padR, plotH = H - padT - padB;
  add("line", { x1: padL, y1: padT + plotH, x2: W - padR, y2: padT + plotH, class: "axis" });
  add("text", { x: padL - 6, y: padT + 10, class: "tick", "text-anchor": "end" }, fmt.int(max));
  add("text", { x: padL - 6, y: padT + plotH, class: "tick", "text-anchor": "end" }, "0");
  const step = plotW / Math.max(1, days.length);
  const every = Math.ceil(days.length / 8);
  days.forEach((d, i) => {
    const h = Math.round((d.credits / max) * plotH);
    const bar = add("rect", {
      x: (padL + i * step + step * 0.15).toFixed(1), y: padT + plotH - h,
      width: Math.max(1, step * 0.7).toFixed(1), height: h, class: "bar",
      "data-day": d.key, "data-credits": d.credits,
    });
    const t = document.createElementNS(ns, "title");
    t.textContent = `${d.key}: ${fmt.int(d.credits)} credits`;
    bar.append(t);
    if (i % every === 0) {
      add("text", { x: (padL + i * step + step / 2).toFixed(1), y: H - 8, class: "tick", "text-anchor": "middle" },
        d.key.slice(5));
    }
  });
  box.replaceChildren(svg);
  const tbody = document.querySelector("#days-table tbody");
  tbody.replaceChildren(...days.map((d) => el("tr", { "data-key": d.key },
    el("th", { scope: "row" }, d.key), num(d.credits), num(d.tasks_total))));
}

async function loadUsage() {
  const from = new Date(Date.now() - period() * 86400000).toISOString();
  const q = (g) => api(`/v1/usage?group_by=${g}&from=${encodeURIComponent(from)}`);
  const [byDay, byTool, byAgent] = await Promise.all([q("day"), q("tool"), q("agent")]);
  const t = byDay.totals;
  const totals = document.getElementById("totals");
  totals.dataset.from = byDay.from;
  totals.dataset.to = byDay.to;
  setStat("total-credits", t.credits);
  setStat("total-tasks", t.tasks_total);
  setStat("total-completed", t.tasks.COMPLETED);
  setStat("total-failed", t.tasks.FAILED);
  setStat("total-rows", t.rows_processed);
  setStat("total-bytes", t.bytes_processed, fmt.bytes(t.bytes_processed));
  setStat("total-p50", t.duration_ms_p50, fmt.ms(t.duration_ms_p50));
  setStat("total-p95", t.duration_ms_p95, fmt.ms(t.duration_ms_p95));
  chart(byDay.groups);
  breakdown("by-tool", "Tool", byTool.groups);
  breakdown("by-agent", "Agent", byAgent.groups);
}

async function loadLedger() {
  const page = await api("/v1/billing/ledger?limit=25");
  const tbody = document.querySelector("#ledger tbody");
  tbody.replaceChildren(...page.items.map((e) => el("tr", { "data-id": e.id },
    el("td", {}, fmt.time(e.created_at)), el("td", {}, e.kind),
    num(e.amount, fmt.signed(e.amount)), num(e.held_delta, fmt.signed(e.held_delta)),
    el("td", {}, e.tool_id || "–"), el("td", {}, e.agent_id || "–"),
    el("td", { class: "mono" }, e.task_id ? e.task_id.slice(0, 8) : "–"))));
}

function taskRow(t) {
  let row = document.querySelector(`#tasks tr[data-task-id="${t.task_id}"]`);
  if (!row) {
    row = el("tr", { "data-task-id": t.task_id },
      el("td", { class: "mono", title: t.task_id },
        el("a", { href: `/dashboard/tasks/${encodeURIComponent(t.task_id)}` }, t.task_id.slice(0, 8))),
      el("td", {}, t.tool_id),
      el("td", { class: "task-status" }),
      el("td", { class: "num task-progress" }),
      el("td", { class: "num task-credits" }),
      el("td", {}, fmt.time(t.created_at)));
  }
  updateTask(row, t);
  return row;
}

function updateTask(row, t) {
  const status = row.querySelector(".task-status");
  status.textContent = t.status;
  status.className = "task-status badge " + t.status.toLowerCase();
  row.dataset.status = t.status;
  row.querySelector(".task-progress").textContent = (t.progress ?? 0) + "%";
  row.querySelector(".task-credits").textContent =
    fmt.int(FINAL.has(t.status) ? t.credits_charged : t.credits_held);
}

function watch(taskId) {
  if (streams.has(taskId)) return;
  const url = `/v1/tasks/${encodeURIComponent(taskId)}/events?token=${encodeURIComponent(session.token)}`;
  const es = new EventSource(url);
  streams.set(taskId, es);
  es.addEventListener("progress", (ev) => {
    const t = JSON.parse(ev.data);
    const row = document.querySelector(`#tasks tr[data-task-id="${t.task_id}"]`);
    if (row) updateTask(row, t);
    if (FINAL.has(t.status)) finished(taskId);
  });
  es.addEventListener("status", () => finished(taskId));
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) streams.delete(taskId); };
}

function finished(taskId) {
  const es = streams.get(taskId);
  if (es) { es.close(); streams.delete(taskId); }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => Promise.all([loadWallet(), loadUsage(), loadLedger()]).catch(report), 300);
}

async function loadTasks() {
  const page = await api("/v1/tasks?limit=15");
  const tbody = document.querySelector("#tasks tbody");
  const rows = page.items.map(taskRow);
  tbody.replaceChildren(...rows);
  for (const t of page.items) if (!FINAL.has(t.status)) watch(t.task_id);
  document.getElementById("tasks").dataset.loaded = "true";
}

async function loadPackages() {
  const select = document.getElementById("package");
  const r = await fetch("/dashboard/config.json", { cache: "no-store" });
  const cfg = r.ok ? await r.json() : { packages: [] };
  select.replaceChildren(...cfg.packages.map((p) => el("option", { value: p.id },
    `${p.id}: ${fmt.int(p.credits)} credits ($${(p.price_cents / 100).toFixed(2)})`)));
  document.getElementById("topup").disabled = cfg.packages.length === 0;
}

async function topUp(ev) {
  ev.preventDefault();
  const msg = document.getElementById("topup-message");
  const button = document.getElementById("topup");
  button.disabled = true;
  msg.textContent = "Starting the payment…";
  try {
    const body = await api("/v1/billing/top-ups", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ package_id: document.getElementById("package").value }),
    });
    const url = body && (body.url || body.checkout_url);
    if (url && /^https?:\/\//.test(url)) {
      msg.textContent = "Redirecting to Stripe Checkout…";
      window.location.assign(url);
    } else if (body && body.client_secret) {
      msg.textContent = "Payment started. Complete it with Stripe; credits arrive when it succeeds.";
    } else {
      msg.textContent = "The payment was started.";
    }
  } catch (e) {
    msg.textContent = (e.status === 404 || e.status === 503 || e.status === 501)
      ? "Top-ups are not available right now. Please try again later or contact support."
      : "The top-up could not start: " + e.message;
  } finally {
    button.disabled = false;
  }
}

function report(e) {
  if (e && e.status === 401) return;
  showStatus("Could not load everything: " + (e && e.message ? e.message : e));
}

async function loadAll() {
  showStatus("Loading…");
  document.getElementById("app").setAttribute("aria-busy", "true");
  try {
    await Promise.all([loadWallet(), loadUsage(), loadTasks(), loadLedger()]);
    showStatus("");
    document.getElementById("app").dataset.loaded = "true";
  } catch (e) {
    report(e);
  } finally {
    document.getElementById("app").removeAttribute("aria-busy");
  }
}

function start(s) {
  session = s;
  document.getElementById("signin").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("tenant-name").textContent = s.tenant_name || s.tenant_id;
  document.getElementById("main").focus();
  loadPackages().catch(() => {});
  loadAll();
  pollTimer = setInterval(() => loadTasks().catch(report), 4000);
  const left = Date.parse(s.expires_at) - Date.now();
  setTimeout(() => signOut("Your session expired; sign in again."), Math.max(0, left));
}

document.addEventListener("DOMContentLoaded", () => {
  const notice = sessionStorage.getItem("agensium.notice");
  if (notice) { showStatus(notice); sessionStorage.removeItem("agensium.notice"); }
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  document.getElementById("period").addEventListener("change", () => loadUsage().catch(report));
  document.getElementById("refresh").addEventListener("click", loadAll);
  document.getElementById("topup-form").addEventListener("submit", topUp);
  wireSignIn({ kind: KIND, onSignedIn: start, needAdmin: false });
  const s = Session.load(KIND);
  if (s) start(s);
  else document.getElementById("api-key").focus();
});
