// Background Jobs page: one WebSocket to /ws/background_jobs, a form that sends
// {"action":"job","payload":{"type","content"}}, and one card per job id listing
// every job_status frame of that job in arrival order, but for "progress" frames: those move the
// card's progress bar (and show a streaming job's text so far) instead. Each card has a Cancel button
// ({"action":"cancel"}), disabled once its job is final; a second form sends {"action":"job_lookup"},
// whose answer lands on that job's card (made if this page has none, e.g. after a reload).
//
// With token authentication on, the socket carries a JWT: one given in the page's address as
// "/#token=<JWT>" (kept for this tab in sessionStorage, and taken out of the address bar), passed as the
// "token" query parameter, or else an "access_token" cookie, which the browser sends by itself. A
// handshake refused without one makes the page ask /auth.json whether the server wants a token, and say so;
// so does a socket the server closes because its token has expired (4401): the page asks for a fresh token
// instead of reconnecting with the expired one.
//
// Safety rule for this file: text that comes from the server (or the user) is only
// ever put in the page with textContent / createTextNode, never as HTML.
(function () {
  "use strict";

  var WS_URL = (location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + "/ws/background_jobs";
  var TOKEN_KEY = "background-jobs-token";
  var BACKOFF_START_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  // The close code of a socket whose token has expired.
  var TOKEN_EXPIRED = 4401;
  // A job with one of these statuses will get no more frames about it: nothing left to cancel.
  var FINAL_STATUSES = ["result", "error", "cancelled"];

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
  var reconnectTimer = null;
  var cards = new Map(); // job id -> {card, type, status, events, cancel, final, cancelling}

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
      delete el.status.dataset.auth;
      setState("connected", "connected");
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
        scheduleReconnect();
        return;
      }
      explainRefusal(expired).then(function (needsToken) {
        if (!needsToken) scheduleReconnect();
      });
    });
    // An "error" event is always followed by "close"; reconnecting happens there.
  }

  function scheduleReconnect() {
    if (reconnectTimer !== null) return;
    var delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    setState("disconnected", "disconnected — reconnecting in " + Math.ceil(delay / 1000) + " s");
    reconnectTimer = setTimeout(connect, delay);
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
      status: status,
      meter: meter,
      bar: bar,
      percent: percent,
      partial: partial,
      progress: -1,
      events: events,
      cancel: cancel,
      final: false,
      cancelling: false,
    };
    cards.set(jobId, entry);

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
      return;
    }
    if (payload.progress !== undefined) showProgress(entry, payload); // an in_progress lookup

    if (payload.job_type !== undefined) {
      entry.type.textContent = asText(payload.job_type);
      entry.card.dataset.jobType = asText(payload.job_type);
    }
    entry.card.dataset.status = status;
    entry.status.textContent = status;
    // Final once, final for good (a cancel's answer is always final: cancelled, or error saying why).
    if (FINAL_STATUSES.indexOf(status) !== -1) {
      entry.final = true;
      showEnd(entry, status);
    }
    updateCancel(entry);

    var line = make("li", "job-event");
    line.dataset.status = status;
    line.append(
      make("time", "job-event-time", timeNow()),
      make("span", "job-event-status", status),
      make("span", "job-event-message", payload.message === undefined ? "" : asText(payload.message))
    );
    entry.events.append(line);
    line.scrollIntoView({ block: "nearest" });
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

  connect();
})();
