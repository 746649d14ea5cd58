// Signed Twilio webhook traffic for bench/load.py, sent with autocannon.
//
// Usage: node load.mjs '<json options>'; prints one JSON object of results.
// Options: url (where to send), base (PUBLIC_BASE_URL: what Twilio signs), token (auth token),
// channel ("sms" | "voice"), connections, duration (s), rate (req/s overall; 0: as fast as it
// goes), numbers (distinct senders, used in turn), active (conversations at once), areaCode
// (keeps each phase's numbers apart), callbackShare (1 in N conversations is a callback).
//
// As fast as it goes: autocannon, `connections` requests in flight. At a rate: not autocannon's
// overallRate, which sends each connection's share of a second back to back at the start of
// the second and then waits (a burst at full speed every second), and which back-fills its
// latency histogram as if a request were due every millisecond. Here requests leave at even
// intervals (every 5 ms at 200/s), over at most `connections` kept-alive connections, and each
// one's latency runs from the moment it was due, so a wait for a free connection counts too.
//
// A number never has two requests in flight, so every number's conversation arrives in order
// (hi -> OPIOIDS -> ...), as it would from one phone; `active` conversations (64) go on at
// once, round-robin, and each finished one is followed by the next number's.
import crypto from "node:crypto";
import http from "node:http";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";

const o = JSON.parse(process.argv[2]);

const SMS_TOPICS = ["hi", "OPIOIDS", "EFFECTS", "DEPRESSION", "ANXIETY", "MENU"];
const SMS_CALLBACK = ["hi", "CALL", "Sam", "YES", "evening", "ME", "NO", "YES", "YES"];
// Keys pressed after the greeting: topics (side effects, again, main menu, anxiety), or a
// callback at this number in the evening, for me, voicemail yes, texts yes, confirmed.
const VOICE_TOPICS = ["1", "2", "*", "0", "1", "4"];
const VOICE_CALLBACK = ["2", "1", "3", "1", "1", "1", "1"];

// What Twilio's RequestValidator computes: HMAC-SHA1 of the URL and the sorted params, base64.
function sign(url, params) {
  let data = url;
  for (const key of Object.keys(params).sort()) data += key + params[key];
  return crypto.createHmac("sha1", o.token).update(data).digest("base64");
}

function form(params) {
  return new URLSearchParams(params).toString();
}

function hex(n) {
  return crypto.randomBytes(n).toString("hex");
}

let conversations = 0;
let sent = 0;
let withCookie = 0;

function number(i) {
  return `+1${o.areaCode}555${String(i).padStart(4, "0")}`;
}

// The conversations going on at once (each a number with its state); a finished one hands its
// place to the next of the `numbers` senders, so every conversation runs whole, in order.
const ACTIVE = Math.min(o.active || 64, o.numbers);
const people = [];
let nextNumber = 0;
for (let i = 0; i < ACTIVE; i++) people.push(newPerson());
let turn = 0;

function newPerson() {
  conversations++;
  const callback = o.callbackShare > 0 && conversations % o.callbackShare === 0;
  let script;
  if (o.channel === "sms") script = callback ? SMS_CALLBACK : SMS_TOPICS;
  else script = callback ? VOICE_CALLBACK : VOICE_TOPICS;
  const from = number(nextNumber++ % o.numbers);
  return { from, step: 0, script, call: "CA" + hex(16), next: "", cookie: "", busy: false };
}

function finished(person) {
  return person.step >= person.script.length + (o.channel === "voice" ? 1 : 0);
}

// The next conversation with nothing in flight: a number never has two requests out at once.
function nextPerson() {
  let slot = turn++ % people.length;
  while (people[slot].busy) slot = turn++ % people.length;
  if (finished(people[slot])) people[slot] = newPerson();
  const person = people[slot];
  person.busy = true;
  return person;
}

function setupRequest(req, context) {
  const person = nextPerson();
  context.current = person;
  let url;
  let params;
  if (o.channel === "sms") {
    const sid = "SM" + hex(16);
    params = {
      MessageSid: sid,
      SmsSid: sid,
      AccountSid: o.account,
      From: person.from,
      To: o.to,
      Body: person.script[person.step],
      NumMedia: "0",
      ApiVersion: "2010-04-01",
    };
    url = o.base + "/sms";
  } else {
    params = { CallSid: person.call, AccountSid: o.account, From: person.from, To: o.to };
    if (person.step === 0 || !person.next) {
      url = o.base + "/voice";
      person.step = 0;
    } else {
      url = person.next;
      const key = person.script[person.step - 1];
      if (key) params.Digits = key;
    }
  }
  person.step++;
  const path = url.slice(o.base.length);
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    "x-twilio-signature": sign(url, params),
  };
  sent++;
  if (person.cookie) {
    headers.cookie = person.cookie; // Twilio sends back an SMS webhook's cookies
    withCookie++;
  }
  return { ...req, method: "POST", path, headers, body: form(params) };
}

function onResponse(status, body, context, headers) {
  const person = context.current;
  if (!person) return;
  person.busy = false;
  if (o.channel === "sms") {
    keepCookie(person, headers);
    return;
  }
  // Twilio posts the next key press to the Gather's action (the session rides in its query).
  const match = /<Gather[^>]* action="([^"]+)"/.exec(body || "");
  person.next = match ? match[1].replaceAll("&amp;", "&") : "";
  if (!match) person.step = person.script.length + 1; // the call ended
}

// Twilio's cookie jar, for one From/To pair: what Set-Cookie said last (removed when deleted).
function keepCookie(person, headers) {
  let set = headers ? headers["set-cookie"] || headers["Set-Cookie"] : undefined;
  if (!set) return;
  if (!Array.isArray(set)) set = [set];
  for (const line of set) {
    const [pair] = line.split(";");
    const deleted = /max-age=0|expires=thu, 01 jan 1970/i.test(line);
    person.cookie = deleted || pair.endsWith("=") ? "" : pair.trim();
  }
}

// Requests at even intervals for `duration` seconds; results as autocannon reports them.
async function atFixedRate() {
  const target = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const interval = 1000 / o.rate;
  const latencies = [];
  const counts = { non2xx: 0, errors: 0, timeouts: 0 };
  const kinds = {};
  const failed = (kind) => (kinds[kind] = (kinds[kind] || 0) + 1);
  let inFlight = 0;
  let due = 0;
  const start = performance.now();
  const end = start + o.duration * 1000;
  await new Promise((resolve) => {
    const settle = () => {
      inFlight--;
      if (inFlight === 0 && start + due * interval >= end) resolve();
    };
    const send = (at) => {
      if (people.every((p) => p.busy)) {
        counts.errors++; // no conversation free: the app is hopelessly behind
        failed("no conversation free");
        return;
      }
      const context = {};
      const req = setupRequest({}, context); // takes the next free conversation
      const person = context.current;
      inFlight++;
      let finished = false;
      const finish = (outcome) => {
        if (finished) return;
        finished = true;
        if (outcome !== "ok") person.busy = false;
        settle();
      };
      const headers = { ...req.headers, "content-length": Buffer.byteLength(req.body) };
      const options = { host: target.hostname, port: target.port, path: req.path };
      const attempt = (again) => {
        const request = http.request({ ...options, method: "POST", headers, agent }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => {
            if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - at);
            else counts.non2xx++;
            onResponse(res.statusCode, body, context, res.headers);
            finish("ok");
          });
        });
        request.setTimeout(20000, () => {
          counts.timeouts++;
          request.destroy(new Error("timeout"));
        });
        request.on("error", (error) => {
          // A kept-alive connection the server closed as this request went out: the server
          // never read it, so it goes again on another connection (as Node's docs advise).
          if (!again && request.reusedSocket && error.code === "ECONNRESET") return attempt(true);
          if (error.message !== "timeout") counts.errors++;
          failed(error.code || error.message);
          finish("failed");
        });
        request.end(req.body);
      };
      attempt(false);
    };
    const tick = () => {
      // Every request whose time has come leaves now, also after a late timer.
      while (start + due * interval <= performance.now() && start + due * interval < end) {
        send(start + due * interval);
        due++;
      }
      if (start + due * interval >= end) {
        if (inFlight === 0) resolve();
        return;
      }
      setTimeout(tick, Math.max(0, start + due * interval - performance.now()));
    };
    tick();
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] || 0;
  const seconds = (performance.now() - start) / 1000;
  return {
    requests: { total: latencies.length + counts.non2xx, average: latencies.length / seconds },
    latency: { p50: at(0.5), p99: at(0.99), max: latencies.length ? latencies[latencies.length - 1] : 0 },
    non2xx: counts.non2xx,
    errors: counts.errors,
    timeouts: counts.timeouts,
    duration: seconds,
    failures: kinds,
  };
}

const options = {
  url: o.url,
  connections: o.connections,
  duration: o.duration,
  pipelining: 1,
  timeout: 20,
  requests: [{ setupRequest, onResponse }],
  initialContext: {},
};
const result = o.rate > 0 ? await atFixedRate() : await autocannon(options);
process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    duration: result.duration,
    failures: result.failures || {},
    cookieShare: sent ? withCookie / sent : 0,
    conversations,
  }) + "\n",
);
