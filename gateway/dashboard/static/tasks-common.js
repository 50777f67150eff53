/* Shared by the task pages: sign-in (the same session as the usage dashboard), the API with the
   session token, and following a task over its Server-Sent Events stream. */
"use strict";

const FINAL = new Set(["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED", "EXPIRED"]);
const KIND = "tenant";
let session = null;

const api = makeApi(() => session.token, () => signOut("Your session expired; sign in again."));

function showStatus(text) { document.getElementById("status").textContent = text || ""; }

function signOut(message) {
  Session.clear(KIND);
  if (message) sessionStorage.setItem("agensium.notice", message);
  window.location.reload();
}

function failed(e) {
  if (e && e.status === 401) return;
  showStatus("Could not load everything: " + (e && e.message ? e.message : e));
}

/* Follow one task: onUpdate(task) on every change, onEnd(status) once when it has ended. */
function followTask(taskId, onUpdate, onEnd) {
  const url = `/v1/tasks/${encodeURIComponent(taskId)}/events?token=${encodeURIComponent(session.token)}`;
  const es = new EventSource(url);
  let ended = false;
  const end = (status) => {
    if (ended) return;
    ended = true;
    es.close();
    onEnd(status);
  };
  es.addEventListener("progress", (ev) => {
    const t = JSON.parse(ev.data);
    onUpdate(t);
    if (FINAL.has(t.status)) end(t.status);
  });
  es.addEventListener("status", (ev) => end(JSON.parse(ev.data).status));
  es.onerror = () => { if (es.readyState === EventSource.CLOSED && !ended) end(null); };
  return es;
}

function badge(node, status) {
  node.textContent = status;
  node.className = (node.className.replace(/\bbadge\b.*$/, "").trim() + " badge " + status.toLowerCase()).trim();
}

function bootPage(onStart) {
  document.addEventListener("DOMContentLoaded", () => {
    const notice = sessionStorage.getItem("agensium.notice");
    if (notice) { showStatus(notice); sessionStorage.removeItem("agensium.notice"); }
    document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
    const start = (s) => {
      session = s;
      document.getElementById("signin").hidden = true;
      document.getElementById("app").hidden = false;
      document.getElementById("who").hidden = false;
      document.getElementById("tenant-name").textContent = s.tenant_name || s.tenant_id;
      document.getElementById("main").focus();
      const left = Date.parse(s.expires_at) - Date.now();
      setTimeout(() => signOut("Your session expired; sign in again."), Math.max(0, left));
      onStart(s);
    };
    wireSignIn({ kind: KIND, onSignedIn: start, needAdmin: false });
    const s = Session.load(KIND);
    if (s) start(s);
    else document.getElementById("api-key").focus();
  });
}
