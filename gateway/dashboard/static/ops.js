/* The operator page: per tool queue depth, active tasks, workers and failure rate; usage
   across tenants; the link to Flower. Signed in with the operator key (as a session). */
"use strict";

const KIND = "ops";
let session = null;
const api = makeApi(() => session.token, () => signOut("Your session expired; sign in again."));

function signOut(message) {
  Session.clear(KIND);
  if (message) sessionStorage.setItem("agensium.notice", message);
  window.location.reload();
}

/* Depth, processing and workers from GET /v1/admin/queues; failures over the last 24 hours
   from GET /v1/admin/usage grouped by tool. */
async function loadQueues() {
  const from = new Date(Date.now() - 86400000).toISOString();
  const [q, u] = await Promise.all([
    api("/v1/admin/queues"),
    api(`/v1/admin/usage?group_by=tool&from=${encodeURIComponent(from)}`),
  ]);
  const ended = Object.fromEntries(u.groups.map((g) => [g.key, g]));
  const link = document.getElementById("flower");
  if (u.flower_url) { link.href = u.flower_url; link.hidden = false; }
  const tbody = document.querySelector("#queues tbody");
  tbody.replaceChildren(...q.queues.filter((t) => t.tool_id).map((t) => {
    const g = ended[t.tool_id];
    const total = g ? g.tasks_total : 0;
    const failed = g ? g.tasks.FAILED : 0;
    const rate = total ? failed / total : null;
    return el("tr", { "data-tool": t.tool_id },
      el("th", { scope: "row" }, t.tool_id),
      num(t.depth), num(t.active),
      el("td", { class: "workers" }, !q.workers_responded ? "unknown"
        : (t.workers.length ? t.workers.join(", ") : "none")),
      num(total), num(failed), num(rate, fmt.pct(rate)));
  }));
}

async function loadUsage() {
  const u = await api("/v1/admin/usage?group_by=tool&top=10");
  setStat("total-credits", u.totals.credits);
  setStat("total-tasks", u.totals.tasks_total);
  setStat("total-failed", u.totals.tasks.FAILED);
  setStat("total-rows", u.totals.rows_processed);
  const tbody = document.querySelector("#top tbody");
  tbody.replaceChildren(...(u.top_tenants || []).map((t) => el("tr", { "data-tenant": t.tenant_id },
    el("th", { scope: "row" }, t.name || "–"), el("td", { class: "mono" }, t.tenant_id), num(t.credits))));
}

async function refresh() {
  try {
    await Promise.all([loadQueues(), loadUsage()]);
    document.getElementById("status").textContent = "";
    document.getElementById("app").dataset.loaded = "true";
  } catch (e) {
    if (e.status !== 401) document.getElementById("status").textContent = "Could not load: " + e.message;
  }
}

function start(s) {
  session = s;
  document.getElementById("signin").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("main").focus();
  refresh();
  setInterval(refresh, 5000);
  setTimeout(() => signOut("Your session expired; sign in again."), Math.max(0, Date.parse(s.expires_at) - Date.now()));
}

document.addEventListener("DOMContentLoaded", () => {
  const notice = sessionStorage.getItem("agensium.notice");
  if (notice) { document.getElementById("status").textContent = notice; sessionStorage.removeItem("agensium.notice"); }
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  wireSignIn({ kind: KIND, onSignedIn: start, needAdmin: true });
  const s = Session.load(KIND);
  if (s) start(s); else document.getElementById("api-key").focus();
});
