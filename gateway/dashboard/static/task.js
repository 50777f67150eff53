/* One task: status and progress live (SSE), agents with status and duration, credits held and
   charged, download links, and the HTML report in a sandboxed frame (no script, opaque origin:
   it cannot reach this page, and its policy forbids every request). */
"use strict";

const taskId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
let ended = false;

function duration(t) {
  if (!t.started_at) return null;
  const end = t.finished_at ? Date.parse(t.finished_at) : Date.now();
  return Math.max(0, end - Date.parse(t.started_at));
}

function render(t) {
  document.getElementById("task-id").textContent = t.task_id;
  document.getElementById("task-tool").textContent = t.tool_id;
  badge(document.getElementById("task-status"), t.status);
  document.getElementById("app").dataset.status = t.status;
  setStat("task-progress-text", t.progress, (t.progress ?? 0) + "%");
  document.getElementById("task-progress").value = t.progress ?? 0;
  setStat("task-held", t.credits_held);
  setStat("task-charged", t.credits_charged);
  const ms = duration(t);
  setStat("task-duration", ms, fmt.ms(ms));
  setStat("task-rows", t.rows_processed);
  document.getElementById("task-error").textContent =
    t.error ? `${t.error.code}: ${t.error.message || ""}` : "";
  const tbody = document.querySelector("#task-agents tbody");
  tbody.replaceChildren(...t.agents.map((a) => el("tr", { "data-agent": a.agent_id, "data-status": a.status },
    el("th", { scope: "row" }, a.agent_id),
    el("td", { class: "badge " + a.status }, a.status),
    num(a.duration_ms, fmt.ms(a.duration_ms)),
    num(a.credits),
    el("td", {}, a.error ? `${a.error.code || ""} ${a.error.message || ""}`.trim() : ""))));
}

async function loadOutputs() {
  const outputs = await api(`/v1/tasks/${encodeURIComponent(taskId)}/outputs`);
  const list = document.getElementById("outputs");
  list.replaceChildren(...outputs.map((o) => el("li", { "data-name": o.name },
    el("a", { href: o.url, download: o.name, rel: "noopener noreferrer" }, o.name),
    el("span", { class: "note" }, ` ${o.kind} · ${fmt.bytes(o.size)}`))));
  document.getElementById("outputs-note").textContent = outputs.length
    ? "Links expire after an hour; reload the page for fresh ones." : "This task has no output files.";
  list.dataset.loaded = "true";
}

async function loadReport() {
  const note = document.getElementById("report-note");
  const r = await fetch(`/v1/tasks/${encodeURIComponent(taskId)}/report.html`, {
    headers: { Authorization: "Bearer " + session.token }, cache: "no-store",
  });
  if (!r.ok) {
    note.textContent = r.status === 409 ? "This task has no HTML report." : `The report could not load (HTTP ${r.status}).`;
    return;
  }
  const frame = document.getElementById("report-frame");
  frame.srcdoc = await r.text();
  frame.hidden = false;
  note.textContent = "";
  frame.addEventListener("load", () => { frame.dataset.loaded = "true"; }, { once: true });
}

function onEnd() {
  if (ended) return;
  ended = true;
  api(`/v1/tasks/${encodeURIComponent(taskId)}`).then(render).catch(failed);
  Promise.all([loadOutputs(), loadReport()]).catch(failed);
}

bootPage(async () => {
  try {
    const t = await api(`/v1/tasks/${encodeURIComponent(taskId)}`);
    render(t);
    document.title = `Task ${t.task_id.slice(0, 8)} · Agensium`;
    document.getElementById("app").dataset.loaded = "true";
    if (FINAL.has(t.status)) onEnd();
    else followTask(taskId, render, onEnd);
  } catch (e) {
    failed(e);
  }
});
