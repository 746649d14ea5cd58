// The phone simulator: texts and calls go to the simulator's JSON endpoints, which sign them
// and post them to the real webhooks as Twilio does. What the bot says goes in via textContent
// only, never innerHTML.
"use strict";

(function () {
  const root = document.getElementById("sim");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const fromInput = $("from");
  const hiddenBox = $("hidden-id");
  const whatsappBox = $("whatsapp");
  const language = $("language");
  const speak = $("speak");
  const SWITCH = { sms: "ESPAÑOL", voice: "9" }; // how a person asks the flow for Spanish
  const TASKS_MS = 2000;
  const cookies = {}; // per From number and channel, as Twilio keeps them per conversation
  let call = null; // the call's state, as the server gave it
  let digitBuffer = "";
  let digitTimer = null;
  let busy = false;

  // One request at a time; the page says which (tests and people wait for "idle").
  function setBusy(value) {
    busy = value;
    root.dataset.state = value ? "busy" : "idle";
    $("send").disabled = value;
    controls();
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data),
    }).then((r) =>
      r.json().catch(() => ({})).then((body) => {
        if (!r.ok) throw new Error(body.error || "the simulator answered HTTP " + r.status);
        return body;
      })
    );
  }

  function textFrom() {
    return fromInput.value.trim();
  }

  function callFrom() {
    return hiddenBox.checked ? root.dataset.hidden : textFrom();
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  // --- tabs
  function showTab(which) {
    for (const name of ["text", "call"]) {
      $("tab-" + name).setAttribute("aria-selected", String(name === which));
      $(name + "-panel").hidden = name !== which;
    }
  }
  $("tab-text").addEventListener("click", () => showTab("text"));
  $("tab-call").addEventListener("click", () => showTab("call"));

  // --- texts
  const thread = $("thread");

  function bubble(who, text, meta) {
    const li = el("li", null, "bubble " + who);
    li.appendChild(el("p", text, "body"));
    if (meta) li.appendChild(el("p", meta, "meta"));
    thread.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function segments(m) {
    if (m.segments === null) return m.encoding; // WhatsApp: no SMS segments
    return m.encoding + " · " + plural(m.segments, "segment");
  }

  // One conversation (and cookie jar) per number and channel, as Twilio keeps them.
  function threadKey() {
    return (whatsappBox.checked ? "whatsapp:" : "") + textFrom();
  }

  function sendText(body) {
    const from = textFrom();
    const key = threadKey();
    const data = { from: from, body: body, cookies: cookies[key] || {}, whatsapp: whatsappBox.checked };
    return post(root.dataset.textUrl, data).then(
      (answer) => {
        cookies[key] = answer.cookies;
        bubble("me", body, segments(answer.sent));
        if (answer.replies.length === 0) bubble("note", "(no reply)");
        for (const reply of answer.replies) bubble("bot", reply.text, segments(reply));
        refreshTasks();
      }
    );
  }

  $("text-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text-body");
    const body = input.value;
    if (busy || !body.trim()) return;
    setBusy(true);
    const first = !cookies[threadKey()] && thread.querySelector(".bubble.me") === null;
    const before = first && language.value === "es" ? sendText(SWITCH.sms) : Promise.resolve();
    before
      .then(() => sendText(body))
      .then(() => {
        input.value = "";
      })
      .catch((e) => bubble("note", e.message))
      .finally(() => {
        setBusy(false);
        input.focus();
      });
  });

  // --- calls
  const log = $("call-log");
  const status = $("call-status");
  const listening = $("listening");
  const keys = Array.from(document.querySelectorAll(".key"));

  function line(text, className, meta) {
    const li = el("li", null, "line " + className);
    li.appendChild(el("p", text, "body"));
    if (meta) li.appendChild(el("p", meta, "meta"));
    log.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function utter(said) {
    if (!speak.checked || !("speechSynthesis" in window)) return;
    const u = new SpeechSynthesisUtterance(said.text);
    if (said.language) u.lang = said.language;
    window.speechSynthesis.speak(u);
  }

  function say(said) {
    line(said.text, "bot", [said.language, said.voice].filter(Boolean).join(" · "));
    utter(said);
  }

  function controls() {
    const waiting = call && !call.ended && !busy ? call.waiting : null;
    const dtmf = !!waiting && waiting.input.includes("dtmf");
    const speech = !!waiting && waiting.input.includes("speech");
    for (const k of keys) k.disabled = !dtmf;
    $("speech").disabled = !speech;
    $("say").disabled = !speech;
    $("silence").disabled = !waiting;
    $("dial").hidden = !(call && !call.ended && call.dialled) || busy;
    $("call-start").disabled = busy || !!(call && !call.ended);
    $("hang-up").disabled = !(call && !call.ended);
    if (waiting) {
      const how = [];
      if (dtmf) how.push(waiting.num_digits ? plural(waiting.num_digits, "key") : "keys, then " + waiting.finish_on_key);
      if (speech) how.push("speech (" + waiting.language + ")");
      listening.textContent = "Listening for " + how.join(" or ");
      $("hints-count").textContent = plural(waiting.hints.length, "speech hint");
      $("hints-list").textContent = waiting.hints.join(", ");
      $("hints").hidden = waiting.hints.length === 0;
    } else {
      listening.textContent = "";
      $("hints").hidden = true;
    }
  }

  function play(answer) {
    call = answer.call;
    for (const step of answer.steps) {
      if (step.kind === "say") say(step);
      else if (step.kind === "gather") step.says.forEach(say);
      else if (step.kind === "dial") line("Putting you through to " + step.number + "…", "note");
      else if (step.kind === "redirect") line("(redirected to " + step.url + ")", "note");
      else if (step.kind === "hangup") line("The call ended.", "note");
    }
    status.textContent = call.ended ? "Call ended" : call.dialled ? "Transferring" : "In a call";
    controls();
    refreshTasks();
  }

  function act(data, shown) {
    if (busy || !call) return Promise.resolve();
    setBusy(true);
    if (shown) line(shown, "me");
    return post(root.dataset.callUrl, Object.assign({ call: call }, data))
      .then(play)
      .catch((e) => line(e.message, "note"))
      .finally(() => {
        setBusy(false);
      });
  }

  $("call-start").addEventListener("click", () => {
    if (busy) return;
    setBusy(true);
    log.replaceChildren();
    status.textContent = "Ringing…";
    const from = callFrom();
    post(root.dataset.callUrl, { action: "start", from: from })
      .then((answer) => {
        line("Calling from " + (hiddenBox.checked ? "a hidden caller ID" : from), "note");
        play(answer);
      })
      .catch((e) => {
        status.textContent = "Not in a call";
        line(e.message, "note");
      })
      .finally(() => {
        setBusy(false);
        if (language.value === "es" && call && call.waiting) {
          act({ action: "press", digits: SWITCH.voice }, "You press " + SWITCH.voice);
        }
      });
  });

  function sendDigits() {
    clearTimeout(digitTimer);
    const digits = digitBuffer;
    digitBuffer = "";
    if (digits) act({ action: "press", digits: digits }, "You press " + digits);
  }

  for (const k of keys) {
    k.addEventListener("click", () => {
      const waiting = call && call.waiting;
      if (!waiting) return;
      const key = k.dataset.key;
      if (key === waiting.finish_on_key && !waiting.num_digits) {
        sendDigits(); // Twilio leaves the finishing key out of Digits
        return;
      }
      digitBuffer += key;
      if (waiting.num_digits && digitBuffer.length >= waiting.num_digits) {
        sendDigits();
      } else {
        // as Twilio does: the keys typed so far are sent after `timeout` seconds without one
        clearTimeout(digitTimer);
        digitTimer = setTimeout(sendDigits, waiting.timeout * 1000);
      }
    });
  }

  $("speech-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("speech");
    const words = input.value.trim();
    if (!words) return;
    input.value = "";
    act({ action: "say", speech: words }, "You say: " + words).then(() => input.focus());
  });

  $("silence").addEventListener("click", () => act({ action: "silence" }, "(you stay silent)"));
  $("dial-answered").addEventListener("click", () => act({ action: "dial", status: "completed" }, "(admissions answers, then the call with them ends)"));
  $("dial-unanswered").addEventListener("click", () => act({ action: "dial", status: "no-answer" }, "(nobody answers)"));
  $("hang-up").addEventListener("click", () => {
    if (!call) return;
    call.ended = true;
    clearTimeout(digitTimer);
    digitBuffer = "";
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
    line("You hung up.", "note");
    status.textContent = "Call ended";
    controls();
  });

  // --- tasks for the number in use
  const tasksBody = $("tasks");
  let tasksFor = "";

  function who() {
    return $("tab-call").getAttribute("aria-selected") === "true" ? callFrom() : textFrom();
  }

  function refreshTasks() {
    tasksFor = who();
    $("tasks-for").textContent = tasksFor === root.dataset.hidden ? "a hidden caller ID" : tasksFor;
    const url = root.dataset.tasksUrl + "?from=" + encodeURIComponent(tasksFor);
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { tasks: [] }))
      .then((data) => {
        const rows = document.createDocumentFragment();
        if (data.tasks.length === 0) {
          const tr = el("tr", null, "empty");
          const td = el("td", "No tasks yet.");
          td.colSpan = 6;
          tr.appendChild(td);
          rows.appendChild(tr);
        }
        for (const t of data.tasks) {
          const tr = el("tr");
          tr.dataset.id = t.id;
          tr.appendChild(el("td", t.id, "mono"));
          tr.appendChild(el("td", t.crisis ? t.kind + " (" + t.crisis.replace("_", " ") + ")" : t.kind));
          tr.appendChild(el("td", t.priority, t.priority === "urgent" ? "urgent" : ""));
          tr.appendChild(el("td", t.status));
          tr.appendChild(el("td", t.best_time || "—"));
          tr.appendChild(el("td", t.channel + " · " + t.language));
          rows.appendChild(tr);
        }
        tasksBody.replaceChildren(rows);
      })
      .catch(() => {});
  }

  for (const input of [fromInput, hiddenBox]) input.addEventListener("change", refreshTasks);
  $("tab-text").addEventListener("click", refreshTasks);
  $("tab-call").addEventListener("click", refreshTasks);
  refreshTasks();
  setInterval(refreshTasks, TASKS_MS);
  setBusy(false);
})();
