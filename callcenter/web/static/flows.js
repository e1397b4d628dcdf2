// IVR flow editor: a textarea with a line-number gutter, errors checked as you type (debounced
// calls to /validate) and marked at their lines, an SVG diagram laid out from the node graph,
// a test call with simulated key presses, publish, history with diff and rollback.
// No framework and nothing loaded from elsewhere: the page's CSP allows only this site.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const VALIDATE_DELAY_MS = 300;
  const DRAFT_DELAY_MS = 3000;
  const body = document.body;
  const select = document.getElementById("flow-select");
  const source = document.getElementById("source");
  const gutter = document.getElementById("gutter");
  const errorList = document.getElementById("errors");
  const diagram = document.getElementById("diagram");
  const versionLabel = document.getElementById("flow-version");
  const publishStatus = document.getElementById("publish-status");
  const historyBody = document.getElementById("history");
  const diffView = document.getElementById("diff");
  const runOutput = document.getElementById("run-output");

  let current = null; // the flow name being edited
  let activeVersion = null;
  let validateTimer = null;
  let draftTimer = null;
  let validateSeq = 0;

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function api(method, path, payload) {
    const headers = { Accept: "application/json" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (method !== "GET") {
      headers["X-CSRF-Token"] = csrfToken();
    }
    const response = await fetch(path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function flowPath(suffix) {
    return "/api/admin/flows/" + encodeURIComponent(current) + (suffix || "");
  }

  // -- the editor ---------------------------------------------------------------------------
  function renderGutter(errors) {
    const lines = source.value.split("\n").length;
    const bad = new Map();
    for (const error of errors || []) {
      const text = bad.get(error.line);
      bad.set(error.line, text ? text + "\n" + error.message : error.message);
    }
    gutter.textContent = "";
    for (let n = 1; n <= lines; n += 1) {
      const span = document.createElement("span");
      span.className = bad.has(n) ? "ln bad" : "ln";
      span.dataset.line = String(n);
      span.textContent = String(n);
      if (bad.has(n)) {
        span.title = bad.get(n);
      }
      gutter.appendChild(span);
    }
    gutter.scrollTop = source.scrollTop;
  }

  function goToLine(line, column) {
    const lines = source.value.split("\n");
    let offset = 0;
    for (let n = 1; n < line && n <= lines.length; n += 1) {
      offset += lines[n - 1].length + 1;
    }
    offset += Math.max(0, (column || 1) - 1);
    source.focus();
    source.setSelectionRange(offset, offset);
    const lineHeight = source.scrollHeight / Math.max(1, lines.length);
    source.scrollTop = Math.max(0, (line - 5) * lineHeight);
  }

  function renderErrors(errors) {
    errorList.textContent = "";
    if (!errors.length) {
      const li = document.createElement("li");
      li.className = "ok";
      li.textContent = body.dataset.noErrors;
      errorList.appendChild(li);
    }
    for (const error of errors) {
      const li = document.createElement("li");
      li.dataset.line = String(error.line);
      li.textContent = error.line + ":" + error.column + ": " + error.message;
      li.tabIndex = 0;
      li.addEventListener("click", () => goToLine(error.line, error.column));
      li.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          goToLine(error.line, error.column);
        }
      });
      errorList.appendChild(li);
    }
    renderGutter(errors);
  }

  async function validateNow() {
    const seq = (validateSeq += 1);
    const answer = await api("POST", flowPath("/validate"), { source: source.value });
    if (seq !== validateSeq || !answer.data) {
      return; // a newer text is being checked already
    }
    if (!answer.ok) {
      renderErrors([{ line: 1, column: 1, message: answer.data.message || String(answer.status) }]);
      return;
    }
    renderErrors(answer.data.errors);
    if (answer.data.graph) {
      renderDiagram(answer.data.graph);
    }
  }

  function scheduleValidate() {
    renderGutter([]);
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validateNow, VALIDATE_DELAY_MS);
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => {
      api("PUT", flowPath("/draft"), { source: source.value, base_version: activeVersion });
    }, DRAFT_DELAY_MS);
  }

  source.addEventListener("input", scheduleValidate);
  source.addEventListener("scroll", () => {
    gutter.scrollTop = source.scrollTop;
  });
  source.addEventListener("keydown", (event) => {
    // Tab inserts two spaces (YAML has no tabs) instead of leaving the editor.
    if (event.key === "Tab" && !event.shiftKey) {
      event.preventDefault();
      source.setRangeText("  ", source.selectionStart, source.selectionEnd, "end");
      scheduleValidate();
    }
  });

  // -- the diagram --------------------------------------------------------------------------
  function svgElement(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      element.setAttribute(key, String(value));
    }
    if (parent) {
      parent.appendChild(element);
    }
    return element;
  }

  // Layers by breadth-first distance from the start node; unreachable nodes go last.
  function layout(graph) {
    const outgoing = new Map(graph.nodes.map((n) => [n.id, []]));
    for (const edge of graph.edges) {
      if (outgoing.has(edge.from)) {
        outgoing.get(edge.from).push(edge.to);
      }
    }
    const depth = new Map();
    const queue = [];
    if (outgoing.has(graph.start)) {
      depth.set(graph.start, 0);
      queue.push(graph.start);
    }
    while (queue.length) {
      const id = queue.shift();
      for (const next of outgoing.get(id) || []) {
        if (!depth.has(next) && outgoing.has(next)) {
          depth.set(next, depth.get(id) + 1);
          queue.push(next);
        }
      }
    }
    const last = Math.max(-1, ...depth.values()) + 1;
    const rows = [];
    for (const node of graph.nodes) {
      const row = depth.has(node.id) ? depth.get(node.id) : last;
      (rows[row] = rows[row] || []).push(node);
    }
    return rows.filter((row) => row && row.length);
  }

  function renderDiagram(graph) {
    const boxW = 150;
    const boxH = 34;
    const gapX = 24;
    const gapY = 56;
    const rows = layout(graph);
    const widest = Math.max(1, ...rows.map((r) => r.length));
    const width = widest * (boxW + gapX) + gapX;
    const height = rows.length * (boxH + gapY) + gapY;
    const svg = svgElement("svg", {
      width: width,
      height: height,
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": graph.name,
    });
    const defs = svgElement("defs", {}, svg);
    const marker = svgElement(
      "marker",
      { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      defs,
    );
    svgElement("path", { d: "M0,0 L10,5 L0,10 z" }, marker);
    const at = new Map();
    rows.forEach((row, r) => {
      const offset = (width - row.length * (boxW + gapX) + gapX) / 2;
      row.forEach((node, i) => {
        at.set(node.id, { x: offset + i * (boxW + gapX), y: gapY / 2 + r * (boxH + gapY) });
      });
    });
    const edges = svgElement("g", { class: "edges" }, svg);
    for (const edge of graph.edges) {
      const a = at.get(edge.from);
      const b = at.get(edge.to);
      if (!a || !b) {
        continue;
      }
      const x1 = a.x + boxW / 2;
      const y1 = a.y + boxH;
      const x2 = b.x + boxW / 2;
      const y2 = b.y;
      let d;
      if (y2 > y1) {
        d = "M" + x1 + "," + y1 + " L" + x2 + "," + y2;
      } else {
        // A way back up (a loop): curve round the right-hand side of the boxes.
        const side = Math.max(a.x, b.x) + boxW + gapX / 2;
        d = "M" + (a.x + boxW) + "," + (a.y + boxH / 2) + " C" + side + "," + (a.y + boxH / 2) + " " +
          side + "," + (b.y + boxH / 2) + " " + (b.x + boxW) + "," + (b.y + boxH / 2);
      }
      const path = svgElement("path", { d: d, class: "edge", "marker-end": "url(#arrow)" }, edges);
      svgElement("title", {}, path).textContent = edge.from + " → " + edge.to + (edge.label ? " (" + edge.label + ")" : "");
      if (edge.label) {
        const label = svgElement("text", { x: (x1 + x2) / 2 + 3, y: (y1 + y2) / 2, class: "edge-label" }, edges);
        label.textContent = edge.label;
      }
    }
    const nodes = svgElement("g", { class: "nodes" }, svg);
    for (const node of graph.nodes) {
      const p = at.get(node.id);
      const classes = ["node", node.missing ? "missing" : "", node.id === graph.start ? "start" : ""];
      const g = svgElement("g", { class: classes.join(" ").trim(), "data-node": node.id }, nodes);
      svgElement("rect", { x: p.x, y: p.y, width: boxW, height: boxH, rx: 5 }, g);
      const name = svgElement("text", { x: p.x + 6, y: p.y + 14 }, g);
      name.textContent = node.id.length > 22 ? node.id.slice(0, 21) + "…" : node.id;
      const kind = svgElement("text", { x: p.x + 6, y: p.y + 28, class: "kind" }, g);
      kind.textContent = node.type + (node.detail ? " · " + node.detail : "");
      svgElement("title", {}, g).textContent = node.id + " (" + node.type + (node.line ? ", line " + node.line : "") + ")";
      if (node.line) {
        g.addEventListener("click", () => goToLine(node.line, 1));
      }
    }
    diagram.textContent = "";
    diagram.appendChild(svg);
    // A wide flow opens on its start node, not on the drawing's empty corner; once the admin has
    // scrolled the pane, redrawing after an edit leaves the view where they put it.
    const startAt = at.get(graph.start);
    if (startAt && diagram.scrollLeft === 0 && diagram.scrollTop === 0) {
      diagram.scrollLeft = Math.max(0, startAt.x + boxW / 2 - diagram.clientWidth / 2);
      diagram.scrollTop = Math.max(0, startAt.y + boxH / 2 - diagram.clientHeight / 2);
    }
  }

  // -- test call ----------------------------------------------------------------------------
  function prompts(list) {
    return (list || []).map((p) => p.text || p.file || "").join(" | ");
  }

  function describe(command) {
    switch (command.type) {
      case "Play":
        return "Play: " + prompts(command.prompts);
      case "WaitDigit":
        return "WaitDigit (" + command.timeout_ms + " ms)";
      case "CollectDigits":
        return "CollectDigits ≤" + command.max_digits + ": " + prompts(command.prompts);
      case "Say":
        return "Say " + command.kind + ": " + command.value;
      case "SetVariable":
        return "Set " + command.name + " = " + command.value;
      case "Lookup":
        return "Lookup " + command.kind + ": " + command.key;
      case "Record":
        return "Record ≤" + command.max_seconds + " s";
      case "Queue":
        return "Queue " + command.queue + " (priority " + command.priority + ")";
      case "Transfer":
        return "Transfer " + command.number;
      case "Hangup":
        return "Hangup (" + command.reason + ")";
      default:
        return command.type;
    }
  }

  document.getElementById("run").addEventListener("click", async () => {
    const keys = document.getElementById("keys").value.split(/\s+/).filter((k) => k).map((k) => (k === "-" ? null : k));
    const answer = await api("POST", flowPath("/test-run"), { source: source.value, keys: keys });
    runOutput.textContent = "";
    if (!answer.ok) {
      if (answer.data && answer.data.details && answer.data.details.errors) {
        renderErrors(answer.data.details.errors);
      }
      const li = document.createElement("li");
      li.className = "end";
      li.textContent = answer.data ? answer.data.message : String(answer.status);
      runOutput.appendChild(li);
      return;
    }
    for (const command of answer.data.commands) {
      const li = document.createElement("li");
      li.dataset.type = command.type;
      li.textContent = describe(command);
      runOutput.appendChild(li);
    }
    const end = document.createElement("li");
    end.className = "end";
    end.textContent = answer.data.outcome ? "→ " + answer.data.outcome.reason : "… " + answer.data.waiting;
    runOutput.appendChild(end);
  });

  // -- publish and history ------------------------------------------------------------------
  function say(text, ok) {
    publishStatus.textContent = text;
    publishStatus.classList.toggle("ok", ok);
  }

  document.getElementById("publish").addEventListener("click", async () => {
    const note = document.getElementById("note");
    const answer = await api("POST", flowPath("/publish"), { source: source.value, note: note.value });
    if (answer.ok) {
      clearTimeout(draftTimer); // the draft is gone with the publish; do not bring it back
      activeVersion = answer.data.version;
      versionLabel.textContent = "v" + activeVersion;
      note.value = "";
      say(body.dataset.publishedOk.replace("{version}", String(answer.data.version)), true);
      await loadHistory();
      return;
    }
    if (answer.data && answer.data.details && answer.data.details.errors) {
      renderErrors(answer.data.details.errors);
      say(body.dataset.publishFailed, false);
    } else {
      say(answer.data ? answer.data.message : String(answer.status), false);
    }
  });

  async function showDiff(version) {
    const answer = await api("GET", flowPath("/versions/" + version));
    diffView.textContent = answer.ok ? answer.data.diff : "";
  }

  async function rollBack(version) {
    const answer = await api("POST", flowPath("/rollback"), { version: version });
    if (!answer.ok) {
      if (answer.data && answer.data.details && answer.data.details.errors) {
        renderErrors(answer.data.details.errors);
      }
      say(answer.data ? answer.data.message : String(answer.status), false);
      return;
    }
    activeVersion = answer.data.version;
    versionLabel.textContent = "v" + activeVersion;
    source.value = answer.data.source;
    say(body.dataset.rolledBack.replace("{from}", String(version)).replace("{version}", String(answer.data.version)), true);
    await validateNow();
    await loadHistory();
  }

  function button(text, action) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.addEventListener("click", action);
    return element;
  }

  async function loadHistory() {
    const answer = await api("GET", flowPath("/versions"));
    historyBody.textContent = "";
    if (!answer.ok) {
      return;
    }
    for (const version of answer.data.versions) {
      const row = document.createElement("tr");
      row.dataset.version = String(version.version);
      if (version.version === answer.data.active_version) {
        row.className = "active";
      }
      const published = new Date(version.published_at).toLocaleString();
      for (const text of ["v" + version.version, version.author, published, version.note]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      }
      const actions = document.createElement("td");
      actions.appendChild(button(body.dataset.diff, () => showDiff(version.version)));
      if (version.version !== answer.data.active_version) {
        actions.appendChild(button(body.dataset.rollback, () => rollBack(version.version)));
      }
      row.appendChild(actions);
      historyBody.appendChild(row);
    }
  }

  // -- choosing a flow ----------------------------------------------------------------------
  async function openFlow(name) {
    current = name;
    runOutput.textContent = "";
    diffView.textContent = "";
    say("", true);
    const answer = await api("GET", flowPath(""));
    if (!answer.ok) {
      return;
    }
    activeVersion = answer.data.active ? answer.data.active.version : null;
    versionLabel.textContent = activeVersion ? "v" + activeVersion : "";
    source.value = answer.data.draft ? answer.data.draft.source : answer.data.active.source;
    renderGutter([]);
    if (answer.data.graph) {
      renderDiagram(answer.data.graph);
    }
    await validateNow();
    await loadHistory();
    body.dataset.ready = name;
  }

  select.addEventListener("change", () => openFlow(select.value));

  (async function start() {
    const answer = await api("GET", "/api/admin/flows");
    if (!answer.ok) {
      return;
    }
    const wanted = new URLSearchParams(window.location.search).get("flow");
    for (const flow of answer.data.flows) {
      const option = document.createElement("option");
      option.value = flow.name;
      option.textContent = flow.name + " (v" + flow.active_version + ")";
      select.appendChild(option);
    }
    // Open the flow asked for in the address, else the main hotline flow, else the first.
    const preferred = wanted || "hotline";
    if (answer.data.flows.some((f) => f.name === preferred)) {
      select.value = preferred;
    }
    if (select.value) {
      await openFlow(select.value);
    }
  })();
})();
