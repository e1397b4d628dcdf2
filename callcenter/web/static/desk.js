// The agent desk: state controls, the wrap-up timer, the call card popped by /ws/desk and the
// appeal form. Plain modern JS, no build step. Every fact shown comes from the server: the
// desk socket, the appeals API and the ACD's agent API; the page invents nothing.
"use strict";

(() => {
  const T = JSON.parse(document.getElementById("desk-texts").textContent);
  const lang = document.documentElement.lang;
  const $ = (id) => document.getElementById(id);
  let csrfToken = "";
  let currentAppealId = null;
  let wrapUpTimer = null;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  function formatDate(isoDay) {
    if (!isoDay) return "";
    const [y, m, d] = isoDay.slice(0, 10).split("-");
    return lang === "uk" ? `${d}.${m}.${y}` : `${y}-${m}-${d}`;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, body: { message: T.error_network } };
    }
    if (response.status === 401) {
      window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    return { ok: response.ok, status: response.status, body: data };
  }

  // -- agent state -------------------------------------------------------------------------------

  // ``wrap`` is {total, elapsed} in seconds: the wrap-up time of the agent's last queue (null when
  // unknown: the timer then counts up) and how much of it has passed already (a reloaded page).
  function showState(state, reason, wrap) {
    const element = $("agent-state");
    element.dataset.state = state || "";
    let text = T[`state_${state}`] || state || T.state_unknown;
    if (state === "paused" && reason) text += ` (${T[`reason_${reason}`] || reason})`;
    element.textContent = text;
    if (state === "wrap_up") startWrapUp(wrap || { total: null, elapsed: 0 });
    else stopWrapUp();
  }

  function clock(seconds) {
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function startWrapUp(wrap) {
    if (wrapUpTimer !== null) return;
    const started = performance.now() - (wrap.elapsed || 0) * 1000;
    const countDown = typeof wrap.total === "number";
    $("wrap-up").hidden = false;
    $("wrap-up").dataset.mode = countDown ? "left" : "elapsed";
    text("wrap-up-label", countDown ? T.wrap_up_left : T.wrap_up_timer);
    const tick = () => {
      const elapsed = Math.floor((performance.now() - started) / 1000);
      const shown = countDown ? Math.max(0, Math.ceil(wrap.total - elapsed)) : elapsed;
      $("wrap-up-time").textContent = clock(shown);
    };
    tick();
    wrapUpTimer = setInterval(tick, 1000);
  }

  function stopWrapUp() {
    if (wrapUpTimer !== null) clearInterval(wrapUpTimer);
    wrapUpTimer = null;
    $("wrap-up").hidden = true;
  }

  // The state on load (and after a reconnect), so the page never shows "unknown" while the ACD
  // knows better. 404: the user is no agent of the queue files; the state stays unknown.
  async function loadState() {
    const result = await api("GET", "/api/agents/me");
    if (!result.ok || !result.body.agent) return;
    const agent = result.body.agent;
    stopWrapUp();
    showState(agent.state, agent.reason, {
      total: agent.wrap_up_s,
      elapsed: agent.state === "wrap_up" ? agent.time_in_state_s : 0,
    });
  }

  async function agentAction(action) {
    $("state-error").textContent = "";
    const body = action === "pause" ? { reason: $("pause-reason").value } : {};
    const result = await api("POST", `/api/agents/me/${action}`, body);
    if (!result.ok) {
      $("state-error").textContent = format(T.error_state, { message: result.body.message || result.status });
      return;
    }
    // The ACD's agent API answers {"agent": {"agent_id", "state", "reason", ...}}.
    const agent = result.body.agent;
    if (agent && agent.state) showState(agent.state, agent.reason);
  }

  // -- the classifier pickers --------------------------------------------------------------------

  function fillSelect(select, entries, withBlank) {
    select.replaceChildren();
    if (withBlank) select.append(new Option(T.not_chosen, ""));
    for (const entry of entries) select.append(new Option(`${entry.code} ${entry.name}`, entry.code));
  }

  async function loadClassifier() {
    const result = await api("GET", "/api/classifier");
    if (!result.ok) return;
    const lists = result.body.lists;
    fillSelect($("f-topic_code"), lists.topics, true);
    fillSelect($("f-categories"), lists.applicant_categories, false);
    fillSelect($("f-social_status"), lists.social_statuses, true);
    fillSelect($("f-sex"), lists.sexes, true);
  }

  // -- the card ----------------------------------------------------------------------------------

  function text(id, value) {
    $(id).textContent = value;
  }

  function showEarlier(earlier) {
    const table = $("earlier");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const item of earlier) {
      const row = body.insertRow();
      row.insertCell().textContent = item.number || "";
      row.insertCell().textContent = formatDate(item.registered_at || item.arrived_at);
      row.insertCell().textContent = item.topic_code || "";
      row.insertCell().textContent = T[`status_${item.status}`] || item.status;
      const due = row.insertCell();
      due.textContent = formatDate(item.effective_due);
      if (item.overdue) {
        due.classList.add("overdue");
        due.textContent += ` (${T.overdue})`;
      }
    }
    table.hidden = earlier.length === 0;
    $("earlier-none").hidden = earlier.length !== 0;
  }

  function resetForm() {
    const form = $("appeal-form");
    form.reset();
    for (const element of form.elements) {
      element.removeAttribute("aria-invalid");
      element.disabled = false;
    }
    text("form-error", "");
    text("form-result", "");
  }

  function prefillForm(message) {
    const call = message.call;
    resetForm();
    $("f-phone").value = call.caller || "";
    if (call.topic) $("f-topic_code").value = call.topic;
    $("f-language").value = call.language ? T[`language_${call.language}`] || call.language : "";
    const offered = new Set(call.categories.map((c) => c.code));
    for (const option of $("f-categories").options) option.selected = offered.has(option.value);
    const parts = (message.known_name || "").split(" ");
    if (parts.length === 3) {
      [$("f-surname").value, $("f-given_name").value, $("f-patronymic").value] = parts;
    }
  }

  // -- the call's recording ----------------------------------------------------------------------

  // The recording is checked and linked after the call (a few seconds), so the player is mounted
  // once the call has finished, and again a little later in case the first look was too early.
  function showRecordings(linkedid) {
    const holder = $("call-recordings");
    if (!linkedid || !window.ccRecordings) return;
    holder.className = "cc-recordings";
    holder.dataset.linkedid = linkedid;
    $("recordings").hidden = false;
    const mount = () => {
      if (holder.dataset.linkedid === linkedid) window.ccRecordings.mount(holder);
    };
    setTimeout(mount, 1500);
    setTimeout(mount, 8000);
  }

  function hideRecordings() {
    const holder = $("call-recordings");
    holder.className = "";
    holder.dataset.linkedid = "";
    holder.replaceChildren();
    $("recordings").hidden = true;
  }

  function showCall(message) {
    const call = message.call;
    hideRecordings();
    currentAppealId = message.appeal ? message.appeal.id : null;
    $("no-call").hidden = true;
    $("call").hidden = false;
    $("card").classList.add("ringing");
    text("call-phase", call.is_callback ? `${T.card_ringing} (${T.callback})` : T.card_ringing);
    text("call-caller", call.caller || T.caller_hidden);
    text("call-name", message.known_name || T.name_unknown);
    text("call-topic", call.topic ? `${call.topic} ${call.topic_name || ""}`.trim() : "");
    text("call-ivr-path", call.ivr_path.join(" → "));
    text("call-language", call.language ? T[`language_${call.language}`] || call.language : "");
    text("call-queue", call.queue);
    text("call-waited", `${Math.round(call.waited_s)} ${T.seconds_short}`);
    const categories = call.categories.map((c) => c.name || c.code);
    text("call-priority", categories.length ? categories.join(", ") : T.priority_none);
    showEarlier(message.earlier);
    $("appeal").hidden = false;
    prefillForm(message);
    if (!message.appeal) text("form-error", T.error_no_record);
  }

  // -- the form ----------------------------------------------------------------------------------

  function formBody() {
    const value = (id) => $(id).value.trim();
    const optional = (id) => value(id) || null;
    return {
      kind: value("f-kind"),
      surname: value("f-surname"),
      given_name: value("f-given_name"),
      patronymic: value("f-patronymic"),
      residence: value("f-residence"),
      essence: value("f-essence"),
      topic_code: value("f-topic_code"),
      phone: optional("f-phone"),
      email: optional("f-email"),
      sex: optional("f-sex"),
      social_status: optional("f-social_status"),
      categories: Array.from($("f-categories").selectedOptions, (o) => o.value),
      requires_study: $("f-requires_study").checked,
    };
  }

  function showProblems(result) {
    const form = $("appeal-form");
    for (const element of form.elements) element.removeAttribute("aria-invalid");
    const details = result.body.details || {};
    const problems = details.problems || (details.field ? { [details.field]: result.body.message } : {});
    const labels = [];
    for (const field of Object.keys(problems)) {
      const input = $(`f-${field}`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        labels.push(T[field] || field);
      }
    }
    text(
      "form-error",
      labels.length ? format(T.error_fields, { fields: labels.join(", ") }) : format(T.error_other, { message: result.body.message || result.status }),
    );
    const first = Object.keys(problems).map((f) => $(`f-${f}`)).find(Boolean);
    if (first) first.focus();
  }

  function lockForm() {
    for (const element of $("appeal-form").elements) element.disabled = true;
  }

  async function submit(kind) {
    text("form-error", "");
    if (!currentAppealId) {
      text("form-error", T.error_no_record);
      return;
    }
    const body = formBody();
    const result =
      kind === "register"
        ? await api("POST", `/api/appeals/${currentAppealId}/register`, body)
        : await api("POST", `/api/appeals/${currentAppealId}/actions/consult`, {
            note: body.essence,
            topic_code: body.topic_code || undefined,
          });
    if (!result.ok) {
      showProblems(result);
      return;
    }
    lockForm();
    text(
      "form-result",
      kind === "register"
        ? format(T.registered_as, { number: result.body.number, due: formatDate(result.body.effective_due) })
        : T.consulted,
    );
  }

  // -- the socket --------------------------------------------------------------------------------

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/desk`);
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      switch (message.type) {
        case "hello":
          delay = 1000;
          $("connection").classList.remove("lost");
          text("connection", T.connection_live);
          loadState(); // state changes during a lost connection were not seen
          break;
        case "call_offered":
          showCall(message);
          break;
        case "call_connected":
          $("card").classList.remove("ringing");
          text("call-phase", T.card_connected);
          break;
        case "call_finished":
          $("card").classList.remove("ringing");
          text("call-phase", T.card_finished);
          showRecordings(message.linkedid);
          break;
        case "agent_state":
          showState(message.state, message.reason, { total: message.wrap_up_s, elapsed: 0 });
          break;
        case "missed":
          text("connection", T.events_missed);
          break;
      }
    });
    socket.addEventListener("close", () => {
      $("connection").classList.add("lost");
      text("connection", T.connection_lost);
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    });
  }

  async function start() {
    const me = await api("GET", "/api/me");
    if (me.ok) csrfToken = me.body.csrf_token;
    for (const button of document.querySelectorAll("[data-agent-action]")) {
      button.addEventListener("click", () => agentAction(button.dataset.agentAction));
    }
    $("sign-out").addEventListener("click", async () => {
      await api("POST", "/api/logout", {});
      window.location.assign("/login");
    });
    $("appeal-form").addEventListener("submit", (event) => {
      event.preventDefault();
      submit("register");
    });
    $("consult").addEventListener("click", () => submit("consult"));
    await loadState();
    await loadClassifier();
    connect(1000);
  }

  start();
})();
