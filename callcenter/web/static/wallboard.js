// The wallboard: the full state on connect, then updates with only what changed.
// The words come from the page (its language's texts in #wallboard-texts), as on the agent desk.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("wallboard-texts").textContent);
  const format = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  let board = { queues: {}, agents: {}, alerts: [] };
  let skew = 0; // server clock minus ours, so counted-up times match the server's
  let socket = null;

  const $ = (id) => document.getElementById(id);
  const now = () => Date.now() / 1000 + skew;
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const pct = (x) => (x === null || x === undefined ? "—" : Math.round(x * 100) + "%");
  const secs = (x) => (x === null || x === undefined ? "—" : format(T.seconds, { value: Math.round(x) }));
  const mmss = (s) => {
    s = Math.max(0, Math.floor(s));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  };
  // A time counted up from an instant; the 1 s tick updates only these, so buttons stay put.
  const timer = (since) => {
    const span = el("span", { class: "timer", "data-since": String(since) });
    span.textContent = mmss(now() - since);
    return span;
  };
  const csrf = () => {
    const m = document.cookie.match(/(?:^|; )cc_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  };

  const post = async (path, body) => {
    const r = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}) });
    return [r, await r.json().catch(() => ({}))];
  };

  async function act(path, body, done) {
    const phone = localStorage.getItem("cc_supervisor_phone");
    const spying = path.startsWith("/api/supervise/") && !/move|priority/.test(path);
    let [r, data] = await post(path, spying && phone ? { ...body, phone } : body);
    if (spying && r.status === 400 && (data.details || {}).field === "phone") {
      // No phone configured for this login (or a stale one): ask once which configured phone to ring.
      const asked = window.prompt(T.ask_phone, phone || "");
      if (asked) {
        [r, data] = await post(path, { ...body, phone: asked.trim() });
        if (r.ok) localStorage.setItem("cc_supervisor_phone", asked.trim());
      }
    }
    $("message").textContent = r.ok ? done : format(T.error, { message: data.message || r.status });
  }

  function alertText(a) {
    if (a.kind === "service_level")
      return format(T.alert_service_level, { queue: a.queue, value: pct(a.value), goal: pct(a.threshold) });
    return format(T.alert_wait, { queue: a.queue, wait: mmss(now() - a.since), limit: mmss(a.threshold) });
  }

  function renderAlerts() {
    const box = $("alerts");
    box.replaceChildren(...board.alerts.map((a) => el("strong", { class: "alert", role: "alert" }, alertText(a))));
  }

  function renderQueues() {
    const rows = Object.values(board.queues).map((q) => {
      const tr = el("tr", { "data-queue": q.name });
      const low = q.sl_goal !== null && q.service_level !== null && q.service_level < q.sl_goal;
      const cells = [
        [q.title, "name"], [String(q.waiting), "waiting"],
        [q.oldest_since === null ? "—" : "", "longest"],
        [pct(q.service_level) + (low ? T.below_goal : ""), "sl"],
        [String(q.offered), "offered"], [String(q.answered), "answered"], [String(q.abandoned), "abandoned"],
        [secs(q.asa_s), "asa"], [secs(q.aht_s), "aht"], [String(q.callbacks_pending), "callbacks"],
      ];
      for (const [text, key] of cells) {
        const td = el("td", { "data-field": key }, text);
        if (key === "longest" && q.oldest_since !== null) td.append(timer(q.oldest_since));
        if (key === "sl" && q.service_level !== null) td.className = low ? "bad" : "good";
        if (key === "sl" && q.sl_goal !== null) {
          // The goal next to the figure, smaller: "83% / 80%" reads as "83 against 80".
          td.append(el("small", { class: "goal" }, ` / ${pct(q.sl_goal)}`));
          td.title = format(T.sl_title, { goal: pct(q.sl_goal), seconds: Math.round(q.sl_target_s) });
        }
        tr.append(td);
      }
      return tr;
    });
    $("queues").tBodies[0].replaceChildren(...rows);
    const callers = [];
    for (const q of Object.values(board.queues)) {
      for (const c of q.callers || []) {
        const li = el("li", { "data-call": c.call_id });
        li.append(format(T.caller, { queue: q.title, position: c.position ?? "—" }) + " · ", timer(c.since),
          " · " + format(T.priority, { priority: c.priority }) + " ");
        const others = Object.keys(board.queues).filter((n) => n !== q.name);
        for (const other of others) {
          const b = el("button", {}, "→ " + other);
          b.onclick = () => act("/api/supervise/move", { call_id: c.call_id, queue: other }, T.moved);
          li.append(b);
        }
        const up = el("button", {}, T.priority_up);
        up.onclick = () => act("/api/supervise/priority", { call_id: c.call_id, priority: c.priority + 1 }, T.priority_done);
        li.append(up);
        callers.push(li);
      }
    }
    for (const q of Object.values(board.queues)) {
      for (const c of q.callbacks || []) {
        const li = el("li", { "data-callback": c.call_id });
        li.append(format(T.callback, { queue: q.title }) + " · ", timer(c.since),
          " · " + format(T.attempts, { attempts: c.attempts }) + " ");
        if (c.status !== "ringing") {
          const take = el("button", {}, T.take);
          take.onclick = async () => {
            const r = await fetch(`/api/callbacks/${encodeURIComponent(c.call_id)}/take`, {
              method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } });
            const data = await r.json().catch(() => ({}));
            $("message").textContent = r.ok ? format(T.take_done, { contact: data.contact || T.number_unknown })
              : format(T.error, { message: data.message || r.status });
          };
          li.append(take);
        }
        callers.push(li);
      }
    }
    $("callers").replaceChildren(...callers);
  }

  function renderAgents() {
    // Agents at work first; those logged out last and small.
    const agents = Object.values(board.agents).sort(
      (x, y) => (x.state === "logged_out") - (y.state === "logged_out") || x.name.localeCompare(y.name));
    const items = agents.map((a) => {
      const li = el("li", { class: "state-" + a.state, "data-agent": a.agent_id });
      li.append(el("span", { class: "name" }, a.name));
      const label = (T["state_" + a.state] || a.state) + (a.reason ? " (" + a.reason + ")" : "");
      const state = el("span", { class: "state" }, label);
      if (a.since !== null) state.append(" ", timer(a.since));
      li.append(state);
      li.append(el("span", { class: "calls" }, format(T.calls_today, { calls: a.calls_today })));
      if (a.state === "on_call") {
        for (const mode of ["listen", "whisper", "barge"]) {
          const b = el("button", {}, T[mode]);
          b.onclick = () => act("/api/supervise/" + mode, { agent_id: a.agent_id }, T.phone_ringing);
          li.append(b);
        }
      }
      if (a.state !== "logged_out") {
        const p = el("button", {}, T.pause);
        p.onclick = () => act(`/api/agents/${encodeURIComponent(a.agent_id)}/pause`, { reason: "meeting" }, T.pause_done);
        const o = el("button", {}, T.logout);
        o.onclick = () => act(`/api/agents/${encodeURIComponent(a.agent_id)}/logout`, {}, T.logout_done);
        li.append(p, o);
      }
      return li;
    });
    $("agents").replaceChildren(...items);
  }

  function render() { renderAlerts(); renderQueues(); renderAgents(); }

  function apply(msg) {
    if (typeof msg.at === "number") skew = msg.at - Date.now() / 1000;
    if (msg.type === "state") {
      board = { queues: msg.queues, agents: msg.agents, alerts: msg.alerts };
    } else if (msg.type === "update") {
      Object.assign(board.queues, msg.queues || {});
      Object.assign(board.agents, msg.agents || {});
      for (const id of msg.removed_agents || []) delete board.agents[id];
      for (const id of msg.removed_queues || []) delete board.queues[id];
      if (msg.alerts) board.alerts = msg.alerts;
    }
    document.body.dataset.seq = String(msg.seq);
    render();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws/wallboard`);
    socket.onopen = () => { $("link").textContent = T.link_up; $("link").className = "link-up"; };
    socket.onmessage = (e) => apply(JSON.parse(e.data));
    socket.onclose = () => {
      $("link").textContent = T.link_down; $("link").className = "link-down";
      setTimeout(connect, 2000);
    };
  }

  // Waits and times in state count up here, between updates.
  setInterval(() => {
    $("clock").textContent = new Date(now() * 1000).toLocaleTimeString(T.clock_locale, { timeZone: "Europe/Kyiv" });
    for (const t of document.querySelectorAll(".timer")) t.textContent = mmss(now() - Number(t.dataset.since));
    renderAlerts();
  }, 1000);
  connect();
})();
