// Background Jobs page: one WebSocket to /ws/background_jobs, a form that sends
// {"action":"job","payload":{"type","content"}}, and one card per job id listing
// every job_status frame of that job in arrival order, but for "progress" frames: those move the
// card's progress bar (and show a streaming job's text so far) instead. Each card has a Cancel button
// ({"action":"cancel"}), disabled once its job is final; a second form sends {"action":"job_lookup"},
// whose answer lands on that job's card (made if this page has none).
//
// The page resumes by itself. It keeps its cards for the tab in sessionStorage (id, type, status, the
// lines shown with their times, progress and text so far, final or not), so a reload redraws them. It
// keeps the newest MAX_KEPT_JOBS (100, the server's MAX_WATCHES by default) cards: past that, the oldest
// finished card goes, from the page and from storage (a storage that is full gets fewer, the oldest
// finished first; one that is off keeps nothing, and the page works as before). Each time its socket
// opens, the page sends {"action":"job_watch"} for every card whose job it last knew queued or running:
// the answer lands on the card as a lookup's does, and the job's progress and outcome follow on the new
// socket (the server sends each outcome once). A watch answered "not_found" ends its card.
//
// Reconnecting: a socket the server closes with 1012 (Service Restart: uvicorn on SIGTERM) is no failure,
// and the page reconnects after a delay drawn uniformly in [50 ms, 450 ms): 250 ms on average, spread over
// 400 ms so that 10,000 pages make some 25 handshakes a millisecond instead of 10,000 at once. Any other
// loss (or a handshake that fails) waits the backoff: 500 ms, doubling to 10 s, each delay drawn uniformly
// between half and all of it ([250 ms, 500 ms) the first time, 375 ms on average, so a restart's first
// reconnect comes sooner on average); it starts again at 500 ms once a socket opens. After a 1012, until a
// socket opens, that backoff stops at 2 s (RESTART_BACKOFF_MAX_MS): a restarting server is back in seconds, and
// a page should not sleep 8 s past it.
//
// With token authentication on, the socket carries a JWT: one given in the page's address as
// "/#token=<JWT>" (kept for this tab in sessionStorage, and taken out of the address bar), passed as the
// "token" query parameter, or else an "access_token" cookie, which the browser sends by itself. A
// handshake refused without one makes the page ask /auth.json whether the server wants a token, and say so;
// so does a socket the server closes because its token has expired (4401): the page asks for a fresh token
// instead of reconnecting with the expired one.
//
// Safety rule for this file: text that comes from the server (or the user, or storage) is only
// ever put in the page with textContent / createTextNode, never as HTML.
(function () {
  "use strict";

  var WS_URL = (location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + "/ws/background_jobs";
  var TOKEN_KEY = "background-jobs-token";
  var JOBS_KEY = "background-jobs-jobs";
  // After a failure: 500 ms, doubling to 10 s; each delay drawn uniformly between half and all of it.
  var BACKOFF_START_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  // After the server restarts (1012): a delay drawn uniformly in [50 ms, 450 ms).
  var RESTART_DELAY_MIN_MS = 50;
  var RESTART_DELAY_MAX_MS = 450;
  // After a 1012, until a socket opens again, the failure backoff goes no higher than this: a restart is short.
  var RESTART_BACKOFF_MAX_MS = 2000;
  // The close code of a socket whose token has expired.
  var TOKEN_EXPIRED = 4401;
  // The close code of a server restarting (uvicorn's, on SIGTERM).
  var SERVICE_RESTART = 1012;
  // Cards the page keeps (and watches at most, after a reconnect): the server's MAX_WATCHES by default.
  var MAX_KEPT_JOBS = 100;
  // Lines of one card kept in storage (the newest).
  var MAX_KEPT_LINES = 50;
  // A job with one of these statuses will get no more frames about it: nothing left to cancel.
  var FINAL_STATUSES = ["result", "error", "cancelled"];
  // A card with one of these statuses (and not final) is a job last known queued or running: watched anew.
  var LIVE_STATUSES = ["queuing", "queued", "progress", "in_progress"];

  var el = {
    status: document.getElementById("connection-status"),
    label: document.getElementById("connection-label"),
    connectedMessage: document.getElementById("connection-message"),
    form: document.getElementById("job-form"),
    type: document.getElementById("job-type"),
    content: document.getElementById("job-content"),
    submit: document.getElementById("submit-job"),
    lookupForm: document.getElementById("lookup-form"),
    lookupId: document.getElementById("lookup-id"),
    lookupSubmit: document.getElementById("lookup-submit"),
    jobs: document.getElementById("jobs"),
    jobsEmpty: document.getElementById("jobs-empty"),
    errors: document.getElementById("errors"),
    messages: document.getElementById("messages"),
  };

  var socket = null;
  var backoffMs = BACKOFF_START_MS;
  var serverRestarting = false; // a 1012 came, and no socket has opened since
  var reconnectTimer = null;
  var cards = new Map(); // job id -> {card, type, status, events, cancel, final, cancelling, watching, ...}; oldest first

  // ---- small DOM helpers (text only) -------------------------------------------

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function asText(value) {
    if (typeof value === "string") return value;
    try {
      return JSON.stringify(value, null, 2);
    } catch (_err) {
      return String(value);
    }
  }

  function timeNow() {
    return new Date().toLocaleTimeString();
  }

  // ---- connection ---------------------------------------------------------------

  function isConnected() {
    return socket !== null && socket.readyState === WebSocket.OPEN;
  }

  function setState(state, label) {
    el.status.dataset.state = state;
    el.label.textContent = label;
    el.submit.disabled = state !== "connected";
    el.lookupSubmit.disabled = state !== "connected";
    cards.forEach(function (entry) {
      if (state !== "connected") entry.cancelling = false; // an answer lost with the socket
      updateCancel(entry);
    });
  }

  function send(action, payload) {
    if (!isConnected()) return false;
    socket.send(JSON.stringify({ action: action, payload: payload }));
    return true;
  }

  // ---- token (authentication on) ---------------------------------------------------

  function tokenFromAddress() {
    var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (!match) return null;
    var token = decodeURIComponent(match[1]);
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch (_err) {
      // storage off: the token lasts as long as this page
    }
    history.replaceState(null, "", location.pathname + location.search); // not left in the address bar
    return token;
  }

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (_err) {
      return null;
    }
  }

  var token = tokenFromAddress() || storedToken();

  function socketUrl() {
    return token ? WS_URL + "?token=" + encodeURIComponent(token) : WS_URL;
  }

  function hasCookieToken() {
    return document.cookie.split(";").some(function (part) {
      return part.trim().indexOf("access_token=") === 0;
    });
  }

  // A handshake refused before the socket opened, or a socket closed as its token expired: if the server
  // wants a token, ask for one instead of retrying.
  function explainRefusal(expired) {
    return fetch("/auth.json")
      .then(function (response) {
        return response.json();
      })
      .then(function (auth) {
        if (!auth || !auth.token_required) return false;
        if (expired) {
          setState("disconnected", "your token has expired: open /#token=<a new JWT>");
        } else if (!token && !hasCookieToken()) {
          setState("disconnected", "this server needs a token: open this page as /#token=<your JWT>");
        } else {
          setState("disconnected", "the server refused this page's token (expired or not valid): open /#token=<a new JWT>");
        }
        el.status.dataset.auth = "needed";
        return true;
      })
      .catch(function () {
        return false;
      });
  }

  // A new token given in the address ("/#token=…" again): use it from the next handshake on.
  window.addEventListener("hashchange", function () {
    var fresh = tokenFromAddress();
    if (!fresh) return;
    token = fresh;
    if (socket !== null) {
      socket.close(); // reconnects with the new token
    } else if (reconnectTimer === null) {
      connect();
    }
  });

  function connect() {
    reconnectTimer = null;
    setState("connecting", "connecting…");
    var ws;
    var opened = false;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    socket = ws;

    ws.addEventListener("open", function () {
      if (socket !== ws) return;
      opened = true;
      backoffMs = BACKOFF_START_MS;
      serverRestarting = false;
      delete el.status.dataset.auth;
      setState("connected", "connected");
      watchUnfinished();
    });

    ws.addEventListener("message", function (event) {
      if (socket !== ws) return;
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_err) {
        logMessage("unparsable frame", event.data);
        return;
      }
      handleFrame(frame);
    });

    ws.addEventListener("close", function (event) {
      if (socket !== ws) return;
      socket = null;
      var expired = event.code === TOKEN_EXPIRED;
      if (opened && !expired) {
        scheduleReconnect(event.code === SERVICE_RESTART);
        return;
      }
      explainRefusal(expired).then(function (needsToken) {
        if (!needsToken) scheduleReconnect();
      });
    });
    // An "error" event is always followed by "close"; reconnecting happens there.
  }

  // The next attempt: soon and spread out after a restart; after a failure, the backoff's next delay (jittered).
  function scheduleReconnect(restarting) {
    if (reconnectTimer !== null) return;
    var delay;
    if (restarting) {
      serverRestarting = true;
      delay = RESTART_DELAY_MIN_MS + Math.random() * (RESTART_DELAY_MAX_MS - RESTART_DELAY_MIN_MS);
    } else {
      delay = backoffMs / 2 + Math.random() * (backoffMs / 2);
      backoffMs = Math.min(backoffMs * 2, serverRestarting ? RESTART_BACKOFF_MAX_MS : BACKOFF_MAX_MS);
    }
    var why = restarting || serverRestarting ? "the server is restarting" : "disconnected";
    setState("disconnected", why + " — reconnecting in " + Math.ceil(delay / 1000) + " s");
    reconnectTimer = setTimeout(connect, delay);
  }

  // After a reconnect or a reload: bring every job last known queued or running back to this socket.
  function watchUnfinished() {
    var live = [];
    cards.forEach(function (entry, jobId) {
      entry.watching = false;
      if (!entry.final && LIVE_STATUSES.indexOf(entry.card.dataset.status) !== -1) live.push(jobId);
    });
    live.slice(-MAX_KEPT_JOBS).forEach(function (jobId) {
      cards.get(jobId).watching = send("job_watch", { job_id: jobId });
    });
  }

  // ---- incoming frames ---------------------------------------------------------

  function handleFrame(frame) {
    if (!frame || typeof frame !== "object") {
      logMessage("unexpected frame", frame);
      return;
    }
    var action = frame.action;
    var payload = frame.payload;

    if (action === "job_status" && payload && typeof payload === "object") {
      if (payload.job_id !== undefined && payload.job_id !== null) {
        addJobEvent(payload);
      } else if (payload.status === "connected") {
        el.connectedMessage.textContent = asText(payload.message);
      } else {
        logMessage("job_status " + asText(payload.status), payload.message !== undefined ? payload.message : payload);
      }
    } else if (action === "error") {
      addErrors(payload);
    } else if (action === "pong") {
      logMessage("pong", "");
    } else {
      logMessage(asText(action), payload);
    }
  }

  function jobCard(jobId, jobType) {
    var entry = cards.get(jobId);
    if (entry) return entry;

    var card = make("li", "job");
    card.dataset.jobId = jobId;

    var head = make("div", "job-head");
    var type = make("span", "job-type", jobType || "job");
    var id = make("code", "job-id", jobId);
    var status = make("span", "job-status");
    var cancel = make("button", "job-cancel", "Cancel");
    cancel.type = "button";
    cancel.setAttribute("aria-label", "Cancel job " + jobId);
    head.append(type, id, status, cancel);

    // How far the job is: a bar (0 to 100) with its percentage, and a streaming job's text so far.
    var meter = make("div", "job-meter");
    var bar = make("progress", "job-progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Progress of job " + jobId);
    var percent = make("span", "job-percent", "");
    meter.append(bar, percent);
    meter.hidden = true;
    var partial = make("p", "job-partial");
    partial.hidden = true;

    var events = make("ol", "job-events");
    card.append(head, meter, partial, events);

    el.jobs.append(card);
    el.jobsEmpty.hidden = true;
    entry = {
      card: card,
      type: type,
      typeName: jobType || "",
      status: status,
      meter: meter,
      bar: bar,
      percent: percent,
      partial: partial,
      partialText: null,
      progress: -1,
      events: events,
      lines: [], // what the events list shows, as {status, message, time}: what storage keeps
      cancel: cancel,
      final: false,
      cancelling: false,
      watching: false, // a job_watch sent on this socket, its answer not yet here
    };
    cards.set(jobId, entry);
    dropOldFinishedCards();

    cancel.addEventListener("click", function () {
      if (entry.final || entry.cancelling) return;
      if (send("cancel", { job_id: jobId })) {
        entry.cancelling = true; // until its answer (or the socket's end): one click, one cancel
        updateCancel(entry);
      }
    });
    updateCancel(entry);
    return entry;
  }

  function updateCancel(entry) {
    entry.cancel.disabled = entry.final || entry.cancelling || !isConnected();
  }

  // The bar shows the highest percentage heard; the text so far goes with it.
  function showProgress(entry, payload) {
    var value = Number(payload.progress);
    if (!isFinite(value) || value < entry.progress) return;
    entry.progress = Math.max(0, Math.min(100, Math.round(value)));
    entry.bar.value = entry.progress;
    entry.percent.textContent = entry.progress + "%";
    entry.meter.hidden = false;
    if (typeof payload.partial === "string") {
      entry.partialText = payload.partial;
      entry.partial.textContent = payload.partial;
      entry.partial.hidden = false;
    }
  }

  // A finished card's bar says how it ended: full for a result, stopped where it was otherwise.
  function showEnd(entry, status) {
    if (status === "result") {
      entry.bar.value = 100;
      entry.percent.textContent = "100%";
    }
    if (entry.progress >= 0 || status === "result") entry.meter.hidden = false;
    entry.partial.hidden = true; // the result (or why there is none) is in the card's last line
  }

  function addJobEvent(payload) {
    var jobId = asText(payload.job_id);
    var status = payload.status === undefined ? "unknown" : asText(payload.status);
    var entry = jobCard(jobId, payload.job_type === undefined ? "" : asText(payload.job_type));

    if (status === "progress") {
      if (entry.final) return; // nothing moves a finished card
      entry.card.dataset.status = status;
      entry.status.textContent = "running";
      showProgress(entry, payload);
      saveJobs();
      return;
    }
    // The answer to this socket's job_watch (a watch's further frames come after it).
    var answersWatch = entry.watching;
    entry.watching = false;
    var ends = FINAL_STATUSES.indexOf(status) !== -1;
    if (answersWatch && entry.final && ends) return; // ended here meanwhile (by a cancel's answer): said once
    if (payload.progress !== undefined) showProgress(entry, payload); // an in_progress lookup

    if (payload.job_type !== undefined) {
      entry.typeName = asText(payload.job_type);
      entry.type.textContent = entry.typeName;
      entry.card.dataset.jobType = entry.typeName;
    }
    entry.card.dataset.status = status;
    entry.status.textContent = status;
    // Final once, final for good (a cancel's answer is always final: cancelled, or error saying why). A job this
    // page thought queued or running that its watch does not find any more is over too, whatever its end was.
    if (ends || (answersWatch && status === "not_found")) {
      entry.final = true;
      showEnd(entry, status);
    }
    updateCancel(entry);

    addLine(entry, status, payload.message === undefined ? "" : asText(payload.message), timeNow());
    entry.events.lastChild.scrollIntoView({ block: "nearest" });
    saveJobs();
  }

  function addLine(entry, status, message, time) {
    var line = make("li", "job-event");
    line.dataset.status = status;
    line.append(
      make("time", "job-event-time", time),
      make("span", "job-event-status", status),
      make("span", "job-event-message", message)
    );
    entry.events.append(line);
    entry.lines.push({ status: status, message: message, time: time });
  }

  // ---- the jobs kept for this tab (sessionStorage) ---------------------------------------

  // Past MAX_KEPT_JOBS cards, the oldest finished ones go (unfinished ones stay: their frames are still coming).
  function dropOldFinishedCards() {
    var excess = cards.size - MAX_KEPT_JOBS;
    if (excess <= 0) return;
    var gone = [];
    cards.forEach(function (entry, jobId) {
      if (gone.length < excess && entry.final) gone.push(jobId);
    });
    gone.forEach(function (jobId) {
      cards.get(jobId).card.remove();
      cards.delete(jobId);
    });
  }

  function recordOf(jobId, entry) {
    return {
      id: jobId,
      type: entry.typeName,
      status: entry.card.dataset.status || "",
      progress: entry.progress,
      partial: entry.partialText,
      final: entry.final,
      lines: entry.lines.slice(-MAX_KEPT_LINES),
    };
  }

  // ``records`` but ``count`` of them: the oldest finished first, then the oldest unfinished.
  function withoutOldest(records, count) {
    var gone = new Set();
    records.forEach(function (record) {
      if (gone.size < count && record.final) gone.add(record);
    });
    records.forEach(function (record) {
      if (gone.size < count) gone.add(record);
    });
    return records.filter(function (record) {
      return !gone.has(record);
    });
  }

  function saveJobs() {
    var records = [];
    cards.forEach(function (entry, jobId) {
      records.push(recordOf(jobId, entry));
    });
    if (records.length > MAX_KEPT_JOBS) records = withoutOldest(records, records.length - MAX_KEPT_JOBS);
    for (;;) {
      try {
        if (records.length === 0) {
          sessionStorage.removeItem(JOBS_KEY);
        } else {
          sessionStorage.setItem(JOBS_KEY, JSON.stringify(records));
        }
        return;
      } catch (_err) {
        // storage full (keep fewer: a quarter fewer each time) or off (nothing kept: the page works as before)
        if (records.length === 0) return;
        records = withoutOldest(records, Math.ceil(records.length / 4));
      }
    }
  }

  function loadJobs() {
    var records;
    try {
      records = JSON.parse(sessionStorage.getItem(JOBS_KEY) || "[]");
    } catch (_err) {
      return []; // storage off, or not ours
    }
    return Array.isArray(records) ? records.slice(-MAX_KEPT_JOBS) : [];
  }

  function textOf(value) {
    return typeof value === "string" ? value : "";
  }

  // A kept card drawn again as it was (storage is read as untrusted as the server: text only).
  function redraw(record) {
    if (!record || typeof record !== "object" || typeof record.id !== "string" || !record.id) return;
    if (cards.has(record.id)) return;
    var entry = jobCard(record.id, textOf(record.type));
    if (entry.typeName) entry.card.dataset.jobType = entry.typeName;
    var status = textOf(record.status);
    if (status) {
      entry.card.dataset.status = status;
      entry.status.textContent = status === "progress" ? "running" : status;
    }
    if (typeof record.progress === "number" && record.progress >= 0) {
      showProgress(entry, { progress: record.progress, partial: record.partial });
    }
    (Array.isArray(record.lines) ? record.lines : []).forEach(function (line) {
      if (line && typeof line === "object") addLine(entry, textOf(line.status), textOf(line.message), textOf(line.time));
    });
    if (record.final === true) {
      entry.final = true;
      showEnd(entry, status);
    }
    updateCancel(entry);
  }

  function addErrors(payload) {
    var item = make("li", "error-entry");
    item.append(make("time", "log-time", timeNow()));
    var body = make("div", "error-body");

    if (Array.isArray(payload)) {
      // chanx's validation errors: [{type, loc, msg, ...}, ...]
      payload.forEach(function (detail) {
        var line = make("div", "error-detail");
        if (detail && typeof detail === "object") {
          var loc = Array.isArray(detail.loc) ? detail.loc.join(".") : asText(detail.loc === undefined ? "" : detail.loc);
          if (loc) line.append(make("code", "error-loc", loc));
          line.append(make("span", "error-msg", asText(detail.msg === undefined ? detail : detail.msg)));
          if (detail.type !== undefined) line.append(make("span", "error-type", "(" + asText(detail.type) + ")"));
        } else {
          line.append(make("span", "error-msg", asText(detail)));
        }
        body.append(line);
      });
    } else if (payload && typeof payload === "object" && "detail" in payload) {
      body.append(make("div", "error-detail", asText(payload.detail)));
    } else {
      body.append(make("div", "error-detail", asText(payload)));
    }
    item.append(body);
    el.errors.append(item);
  }

  function logMessage(title, body) {
    var item = make("li", "log-entry");
    item.append(make("time", "log-time", timeNow()), make("strong", "log-title", title));
    var text = body === undefined || body === "" ? "" : asText(body);
    if (text) item.append(make("span", "log-body", text));
    el.messages.append(item);
  }

  // ---- outgoing ------------------------------------------------------------------

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!send("job", { type: el.type.value, content: el.content.value })) return;
    el.content.value = "";
    el.content.focus();
  });

  el.lookupForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var jobId = el.lookupId.value.trim();
    if (!jobId) return;
    send("job_lookup", { job_id: jobId });
  });

  loadJobs().forEach(redraw);
  connect(); // once open, it watches the jobs redrawn that were not over
})();
