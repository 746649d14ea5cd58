// The queue page polls queue.json and redraws its tables. Data only ever goes in via
// textContent, never innerHTML, so whatever a person typed cannot become markup.
"use strict";

(function () {
  const POLL_MS = 4000;
  const FRESH_MS = 30000; // how long a newly arrived task stays highlighted
  const config = document.getElementById("queue-config");
  if (!config) return;
  const pollUrl = config.dataset.pollUrl;
  const loginUrl = config.dataset.loginUrl;
  const live = document.getElementById("live"); // announced: new tasks, lost connection
  const updated = document.getElementById("updated"); // not announced: it changes every poll
  const baseTitle = document.title;
  let known = null; // ids of open tasks seen on the last poll
  const arrived = new Map(); // id -> when this page first saw it

  const COLUMNS = ["Task", "Priority", "Kind", "Status", "Age", "Due", "Language", "Claimed by", "Flags"];

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function cells(r, taskUrl) {
    const link = el("a", r.id);
    link.href = taskUrl.replace("TASK_ID", encodeURIComponent(r.id));
    const priority = r.priority === "urgent" ? el("span", "Urgent", "badge urgent") : "normal";
    const age = el("time", r.age);
    age.dateTime = r.created_at;
    const due = el("time", r.due);
    due.dateTime = r.due_at;
    const flags = [];
    if (r.crisis) flags.push(el("span", r.crisis, "badge crisis"), " ");
    if (r.delivery_failed) flags.push(el("span", "Notification failed", "badge failed"), " ");
    if (r.attempts) flags.push(r.attempts + (r.attempts === 1 ? " attempt" : " attempts"));
    return [
      [link],
      [priority],
      [r.kind],
      [el("span", r.status, "status " + r.status)],
      [age],
      [due],
      [r.language],
      [r.owner || "—"],
      flags,
    ];
  }

  function render(tbody, rows, taskUrl, fresh) {
    const body = document.createDocumentFragment();
    if (rows.length === 0) {
      const tr = el("tr", null, "empty");
      const td = el("td", tbody.dataset.empty);
      td.colSpan = COLUMNS.length;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const r of rows) {
      const tr = el("tr", null, r.priority + (r.delivery_failed ? " failed" : ""));
      if (fresh.has(r.id)) tr.classList.add("fresh");
      tr.dataset.id = r.id;
      cells(r, taskUrl).forEach(function (parts, i) {
        const td = el("td");
        td.dataset.label = COLUMNS[i];
        for (const part of parts) {
          td.append(part instanceof Node ? part : document.createTextNode(String(part)));
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    tbody.replaceChildren(body);
  }

  function apply(data) {
    const ids = new Set(data.open.map(function (r) { return r.id; }));
    const fresh = new Set();
    const now = Date.now();
    if (known) ids.forEach(function (id) { if (!known.has(id)) { fresh.add(id); arrived.set(id, now); } });
    known = ids;
    const highlighted = new Set();
    arrived.forEach(function (at, id) {
      if (now - at < FRESH_MS && ids.has(id)) highlighted.add(id);
      else arrived.delete(id);
    });
    render(document.querySelector("#open-tasks tbody"), data.open, data.task_url, highlighted);
    render(document.querySelector("#done-tasks tbody"), data.done, data.task_url, new Set());
    document.querySelectorAll("[data-count]").forEach(function (node) {
      const value = node.dataset.count === "done_total" ? data.done_total : data.counts[node.dataset.count];
      node.textContent = String(value);
    });
    document.title = (data.open.length ? "(" + data.open.length + ") " : "") + baseTitle;
    updated.textContent = "Updated " + data.updated + ".";
    if (fresh.size) {
      live.textContent = fresh.size + (fresh.size === 1 ? " new task" : " new tasks") + " at " + data.updated + ".";
    } else if (live.classList.contains("offline")) {
      live.textContent = "";
    }
    live.classList.remove("offline");
  }

  function poll() {
    fetch(pollUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign(loginUrl);
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { if (data) apply(data); })
      .catch(function () {
        live.textContent = "Cannot reach the server; still trying.";
        updated.textContent = "";
        live.classList.add("offline");
      })
      .finally(function () { window.setTimeout(poll, POLL_MS); });
  }

  known = new Set(
    Array.from(document.querySelectorAll("#open-tasks tbody tr[data-id]")).map(function (tr) {
      return tr.dataset.id;
    })
  );
  window.setTimeout(poll, POLL_MS);
})();
