/* The tasks page: the tenant's tasks with live progress, and the "new analysis" form (tool,
   agents, parameters from the tool's schema, file upload with progress, run). Public API only. */
"use strict";

let tools = [];
const following = new Map();  // task_id -> EventSource

function taskRow(t) {
  let row = document.querySelector(`#task-list tr[data-task-id="${t.task_id}"]`);
  if (!row) {
    row = el("tr", { "data-task-id": t.task_id },
      el("td", { class: "mono" },
        el("a", { href: `/dashboard/tasks/${encodeURIComponent(t.task_id)}`, title: t.task_id }, t.task_id.slice(0, 8))),
      el("td", {}, t.tool_id),
      el("td", { class: "task-status" }),
      el("td", { class: "task-progress" }, el("progress", { max: "100", value: "0", "aria-label": "Progress" }), el("span", { class: "pct" })),
      el("td", { class: "num task-credits" }),
      el("td", {}, fmt.time(t.created_at)));
  }
  updateRow(row, t);
  return row;
}

function updateRow(row, t) {
  badge(row.querySelector(".task-status"), t.status);
  row.dataset.status = t.status;
  row.dataset.progress = String(t.progress ?? 0);
  row.querySelector("progress").value = t.progress ?? 0;
  row.querySelector(".pct").textContent = " " + (t.progress ?? 0) + "%";
  row.querySelector(".task-credits").textContent =
    fmt.int(FINAL.has(t.status) ? t.credits_charged : t.credits_held);
}

async function loadTasks() {
  const page = await api("/v1/tasks?limit=50");
  const tbody = document.querySelector("#task-list tbody");
  tbody.replaceChildren(...page.items.map(taskRow));
  for (const t of page.items) {
    if (FINAL.has(t.status) || following.has(t.task_id)) continue;
    following.set(t.task_id, followTask(t.task_id, (u) => {
      const row = document.querySelector(`#task-list tr[data-task-id="${u.task_id}"]`);
      if (row) updateRow(row, u);
    }, () => following.delete(t.task_id)));
  }
  document.getElementById("task-list").dataset.loaded = "true";
}

/* ---- the form: everything comes from GET /v1/tools ---- */

function currentTool() { return tools.find((t) => t.tool_id === document.getElementById("tool").value); }

function paramInput(agentId, name, prop) {
  const id = `p-${agentId}-${name}`;
  const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== "null") : prop.type;
  const anyOf = (prop.anyOf || []).find((x) => x.type && x.type !== "null");
  const t = type || (anyOf && anyOf.type) || "string";
  const enumValues = prop.enum || (anyOf && anyOf.enum);
  let input;
  if (enumValues) {
    input = el("select", { id, "data-kind": "enum" },
      ...enumValues.map((v) => el("option", { value: String(v) }, String(v))));
    if (prop.default !== undefined && prop.default !== null) input.value = String(prop.default);
  } else if (t === "boolean") {
    input = el("input", { id, type: "checkbox", "data-kind": "boolean" });
    input.checked = !!prop.default;
  } else if (t === "integer" || t === "number") {
    input = el("input", { id, type: "number", step: t === "integer" ? "1" : "any", "data-kind": t,
      min: prop.minimum ?? prop.exclusiveMinimum, max: prop.maximum ?? prop.exclusiveMaximum });
    if (prop.default !== undefined && prop.default !== null) input.value = String(prop.default);
  } else if (t === "array" || t === "object") {
    input = el("textarea", { id, rows: "2", "data-kind": "json", spellcheck: "false" });
    input.value = prop.default === undefined ? "" : JSON.stringify(prop.default);
  } else {
    input = el("input", { id, type: "text", "data-kind": "string" });
    input.value = prop.default === undefined || prop.default === null ? "" : String(prop.default);
  }
  input.dataset.agent = agentId;
  input.dataset.param = name;
  input.dataset.initial = input.type === "checkbox" ? String(input.checked) : input.value;
  return el("div", { class: "param" },
    el("label", { for: id }, prop.title || name),
    input,
    prop.description ? el("p", { class: "note" }, prop.description) : "");
}

function renderTool() {
  const tool = currentTool();
  if (!tool) return;
  document.getElementById("tool-description").textContent = tool.description;
  const files = document.getElementById("files");
  files.replaceChildren(...tool.file_roles.map((r) => el("div", { class: "param" },
    el("label", { for: `file-${r.role}` }, `${r.role} file${r.required ? "" : " (optional)"}`),
    el("input", { id: `file-${r.role}`, type: "file", "data-role": r.role,
      ...(r.required ? { required: "required" } : {}) }),
    el("p", { class: "note" }, `${r.description} (${r.formats.join(", ")})`))));
  const list = document.getElementById("agent-list");
  list.replaceChildren(...tool.agents.map((a) => {
    const box = el("input", { type: "checkbox", id: `agent-${a.agent_id}`, value: a.agent_id, "data-price": String(a.price) });
    box.checked = true;
    box.addEventListener("change", updatePrice);
    return el("div", { class: "agent" }, box,
      el("label", { for: `agent-${a.agent_id}`, class: "inline", title: a.description },
        `${a.title} (${a.agent_id}) · ${fmt.int(a.price)} credits`));
  }));
  const params = document.getElementById("parameters");
  params.replaceChildren(...tool.agents
    .filter((a) => Object.keys((a.parameters && a.parameters.properties) || {}).length)
    .map((a) => el("details", { class: "params", "data-agent": a.agent_id },
      el("summary", {}, `Parameters: ${a.title}`),
      ...Object.entries(a.parameters.properties).map(([n, p]) => paramInput(a.agent_id, n, p)))));
  updatePrice();
}

function chosenAgents() {
  return [...document.querySelectorAll("#agent-list input:checked")].map((b) => b.value);
}

function updatePrice() {
  const total = [...document.querySelectorAll("#agent-list input:checked")]
    .reduce((s, b) => s + Number(b.dataset.price), 0);
  const node = document.getElementById("price");
  node.textContent = fmt.int(total);
  node.dataset.value = String(total);
}

/* Only the parameters the person changed are sent; the rest keep the agents' defaults. */
function chosenParameters(agents) {
  const out = {};
  for (const input of document.querySelectorAll("#parameters [data-param]")) {
    if (!agents.includes(input.dataset.agent)) continue;
    const now = input.type === "checkbox" ? String(input.checked) : input.value;
    if (now === input.dataset.initial) continue;
    let value;
    const kind = input.dataset.kind;
    if (kind === "boolean") value = input.checked;
    else if (kind === "integer" || kind === "number") value = input.value === "" ? null : Number(input.value);
    else if (kind === "json") {
      try { value = input.value.trim() === "" ? null : JSON.parse(input.value); }
      catch (e) { throw new Error(`${input.dataset.agent} ${input.dataset.param}: not valid JSON`); }
    } else value = input.value;
    (out[input.dataset.agent] = out[input.dataset.agent] || {})[input.dataset.param] = value;
  }
  return out;
}

/* Raw-body upload with progress (XMLHttpRequest: fetch has no upload progress). */
function upload(taskId, role, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/v1/tasks/${encodeURIComponent(taskId)}/files/${encodeURIComponent(role)}?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("Authorization", "Bearer " + session.token);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error("The upload failed (network)"));
    xhr.send(file);
  });
}

async function run(ev) {
  ev.preventDefault();
  const error = document.getElementById("new-error");
  const button = document.getElementById("run");
  const bar = document.getElementById("upload-progress");
  const text = document.getElementById("upload-text");
  error.textContent = "";
  const tool = currentTool();
  const files = [...document.querySelectorAll("#files input[type=file]")].filter((i) => i.files.length);
  const missing = tool.file_roles.filter((r) => r.required && !files.some((i) => i.dataset.role === r.role));
  const agents = chosenAgents();
  if (missing.length) { error.textContent = `Choose the ${missing.map((r) => r.role).join(", ")} file.`; return; }
  if (!agents.length) { error.textContent = "Choose at least one agent."; return; }
  let parameters;
  try { parameters = chosenParameters(agents); } catch (e) { error.textContent = e.message; return; }
  button.disabled = true;
  try {
    const filenames = Object.fromEntries(files.map((i) => [i.dataset.role, i.files[0].name]));
    const created = await api("/v1/tasks", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tool_id: tool.tool_id, agents, parameters, filenames }),
    });
    const total = files.reduce((s, i) => s + i.files[0].size, 0) || 1;
    let done = 0;
    for (const input of files) {
      const f = input.files[0];
      await upload(created.task_id, input.dataset.role, f, (loaded) => {
        const pct = Math.round(((done + loaded) / total) * 100);
        bar.value = pct;
        text.textContent = `${pct}% of ${fmt.bytes(total)}`;
      });
      done += f.size;
    }
    bar.value = 100;
    text.textContent = `Uploaded ${fmt.bytes(total)}; starting…`;
    await api(`/v1/tasks/${encodeURIComponent(created.task_id)}/process`, { method: "POST" });
    window.location.assign(`/dashboard/tasks/${encodeURIComponent(created.task_id)}`);
  } catch (e) {
    error.textContent = e.code ? `${e.message} (${e.code})` : e.message;
    button.disabled = false;
  }
}

async function loadTools() {
  tools = await api("/v1/tools");
  const select = document.getElementById("tool");
  select.replaceChildren(...tools.map((t) => el("option", { value: t.tool_id }, `${t.title} (${t.tool_id})`)));
  const wanted = new URLSearchParams(location.search).get("tool");
  if (wanted && tools.some((t) => t.tool_id === wanted)) select.value = wanted;
  renderTool();
}

bootPage(() => {
  document.getElementById("tool").addEventListener("change", renderTool);
  document.getElementById("new-form").addEventListener("submit", run);
  Promise.all([loadTools(), loadTasks()])
    .then(() => { document.getElementById("app").dataset.loaded = "true"; })
    .catch(failed);
  setInterval(() => loadTasks().catch(failed), 5000);
});
