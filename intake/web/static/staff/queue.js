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

  const COLUMNS = ["Waiting", "Person", "Best time", "Task", "Status", "Flags", "Channel"];
  const CLASSES = ["wait-cell", "who-cell", "best-cell", "task-cell", "status-cell", "flags-cell", "channel-cell"];
  const UNCLAIMED = ["new", "reopened"];
  const SOON = 0.75; // as present.SOON: amber past this share of the claim target
  const TICK_MS = 1000;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // As present.age: 'just now', '3 min', '2 h 5 min', '4 d'.
  function age(ms) {
    let minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    return Math.floor(hours / 24) + " d";
  }

  // As present.wait_state, so the colour moves on between polls.
  function waitState(status, created, target, now) {
    if (UNCLAIMED.indexOf(status) < 0) return "held";
    if (now >= target) return "late";
    const allowed = target - created;
    return allowed > 0 && now - created >= SOON * allowed ? "soon" : "ok";
  }

  function cells(r, taskUrl) {
    function link(id, text, className) {
      const a = el("a", text, className);
      a.href = taskUrl.replace("TASK_ID", encodeURIComponent(id));
      return a;
    }
    const wait = el("time", r.age, "wait " + r.wait);
    wait.dateTime = r.created_at;
    wait.dataset.target = r.target_at;
    wait.title = "Target: claimed within " + r.target;
    const task = [link(r.id, r.id, "mono")];
    if (r.priority === "urgent") task.push(" ", el("span", "Urgent", "badge urgent"));
    if (r.crisis) task.push(" ", el("span", r.crisis, "badge crisis"));
    else if (r.kind !== "callback") task.push(" " + r.kind);
    for (const t of r.related) {
      const a = link(t.id, "↔ " + t.id, "related mono");
      a.title = "Same person (" + t.kind + ")";
      task.push(" ", a);
    }
    const status = [el("span", r.status, "status " + r.status)];
    if (r.owner) status.push(" ", el("span", r.owner, "owner"));
    const flags = [];
    if (r.overdue) {
      const badge = el("span", "Overdue", "badge overdue");
      badge.dataset.opens = r.opens_at;
      flags.push(badge, " ");
    }
    if (r.escalated) flags.push(el("span", "Escalated", "badge escalated"), " ");
    if (r.delivery_failed) flags.push(el("span", "Notification failed", "badge failed"), " ");
    if (r.attempts) flags.push(r.attempts + (r.attempts === 1 ? " attempt" : " attempts"));
    return [
      [wait, el("span", "target " + r.target, "target")],
      [el("span", r.who || "—", "who-name"), " ", el("span", r.number, "number mono")],
      [r.best || "—"],
      task,
      status,
      flags,
      [r.channel + " · " + r.language],
    ];
  }

  // Waiting times count on every second; the colour and "Overdue" follow without a poll.
  function tick() {
    const now = Date.now();
    document.querySelectorAll("tr[data-id]").forEach(function (tr) {
      const wait = tr.querySelector("time.wait");
      if (!wait) return;
      const created = Date.parse(wait.dateTime);
      const target = Date.parse(wait.dataset.target);
      const text = age(now - created);
      if (wait.textContent !== text) wait.textContent = text;
      wait.className = "wait " + waitState(tr.dataset.status, created, target, now);
      const flags = tr.querySelector(".flags-cell");
      const opens = tr.dataset.opens ? Date.parse(tr.dataset.opens) : NaN;
      if (flags && !isNaN(opens) && now >= opens && !flags.querySelector(".badge.overdue")) {
        const badge = el("span", "Overdue", "badge overdue");
        flags.prepend(badge, " ");
        tr.classList.add("overdue");
      }
    });
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
      const tr = el("tr", null, r.priority + (r.delivery_failed ? " failed" : "") + (r.overdue ? " overdue" : ""));
      if (fresh.has(r.id)) tr.classList.add("fresh");
      tr.dataset.id = r.id;
      tr.dataset.status = r.status;
      // Not yet overdue but waiting for its window: tick() marks it when the window opens.
      if (!r.overdue && r.attempts === 0 && r.status !== "done") tr.dataset.opens = r.opens_at;
      cells(r, taskUrl).forEach(function (parts, i) {
        const td = el("td");
        td.dataset.label = COLUMNS[i];
        td.className = CLASSES[i];
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
  window.setInterval(tick, TICK_MS);
})();
