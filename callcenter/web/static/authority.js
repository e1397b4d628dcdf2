// The authority's inbox: lists the appeals sent to the user's authority and its reminders, and
// takes in work, answers, extends (with the notice to the applicant) or returns as not in
// competence through the inbox API, which runs the appeal lifecycle.
"use strict";

const STATUSES = {
  sent_to_authority: "Надіслано", in_work: "У роботі", not_in_competence: "Не в компетенції",
  answered: "Відповідь на перевірці", returned_for_rework: "На доопрацюванні", closed: "Закрито",
  registered: "Зареєстровано",
};
const ERRORS = {
  illegal_transition: "Ця дія зараз неможлива: ",
  invalid_input: "Перевірте поля.",
};
const $ = (id) => document.getElementById(id);
let current = null;

function day(iso) {
  if (!iso) return "—";
  const [y, m, d] = iso.slice(0, 10).split("-");
  return `${d}.${m}.${y}`;
}

function csrf() {
  const match = document.cookie.match(/(?:^|; )cc_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, body) {
  const options = {headers: {Accept: "application/json"}};
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRF-Token"] = csrf();
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401) { location.href = `/login?next=${encodeURIComponent(location.pathname)}`; }
  return {ok: response.ok, status: response.status, body: await response.json()};
}

function renderReminders(items) {
  const list = $("reminders");
  list.replaceChildren();
  $("reminders-none").hidden = items.length > 0;
  for (const item of items) {
    const li = document.createElement("li");
    li.textContent = item.kind === "overdue"
      ? `Звернення № ${item.number}: термін розгляду минув ${day(item.term)}. `
      : `Звернення № ${item.number}: термін розгляду спливає ${day(item.term)}. `;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Прочитано";
    button.addEventListener("click", async () => {
      await api(`/api/authority/notifications/${item.id}/read`, {});
      await refresh();
    });
    li.append(button);
    list.append(li);
  }
}

function renderList(items) {
  const body = $("appeals").querySelector("tbody");
  body.replaceChildren();
  $("appeals-none").hidden = items.length > 0;
  for (const item of items) {
    const row = document.createElement("tr");
    if (item.overdue) row.className = "overdue";
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = item.number;
    open.addEventListener("click", () => show(item.id));
    const cells = [open, STATUSES[item.status] || item.status, item.topic_code || "—",
      day(item.effective_due) + (item.overdue ? " (прострочено)" : "")];
    for (const value of cells) {
      const cell = document.createElement("td");
      if (typeof value === "string") cell.textContent = value; else cell.append(value);
      row.append(cell);
    }
    body.append(row);
  }
}

async function refresh() {
  const {ok, body} = await api("/api/authority/inbox");
  if (!ok) return;
  $("authority-name").textContent = body.authority.name;
  $("user-name").textContent = body.user.display_name || body.user.login;
  $("counts").textContent = `Усього: ${body.counts.total}, нових: ${body.counts.waiting}, прострочено: ${body.counts.overdue}.`;
  renderReminders(body.notifications);
  renderList(body.items);
}

function renderDetail(appeal) {
  current = appeal;
  $("detail").hidden = false;
  $("d-number").textContent = appeal.number;
  $("d-status").textContent = STATUSES[appeal.status] || appeal.status;
  const extended = appeal.extended_due ? ` (продовжено з ${day(appeal.due)})` : "";
  $("d-due").textContent = day(appeal.effective_due) + extended + (appeal.overdue ? " — прострочено" : "");
  const person = appeal.applicant || {};
  $("d-applicant").textContent = [person.surname, person.given_name, person.patronymic].join(" ");
  $("d-residence").textContent = person.residence || "—";
  $("d-contacts").textContent = [person.phone, person.email].filter(Boolean).join(", ") || "—";
  $("d-essence").textContent = appeal.essence || "";
  $("d-answer").textContent = appeal.answer_text || "—";
  const allowed = new Set(appeal.allowed_actions);
  $("act-take").hidden = !allowed.has("take_in_work");
  $("act-resume").hidden = !allowed.has("resume");
  $("act-answer").hidden = !allowed.has("submit_answer");
  $("act-extend").hidden = !allowed.has("extend") || Boolean(appeal.extended_due);
  $("act-nic").hidden = !allowed.has("not_in_competence");
}

async function show(id) {
  $("action-status").textContent = "";
  const {ok, body} = await api(`/api/authority/appeals/${id}`);
  if (ok) renderDetail(body);
}

async function act(action, body, done) {
  const status = $("action-status");
  status.className = "status";
  status.textContent = "";
  const answer = await api(`/api/authority/appeals/${current.id}/${action}`, body);
  if (answer.ok) {
    renderDetail(answer.body);
    status.className = "status ok";
    status.textContent = done;
    await refresh();
  } else {
    const prefix = ERRORS[answer.body.error_id];
    status.textContent = answer.body.error_id === "illegal_transition" ? prefix + answer.body.message
      : answer.body.error_id === "invalid_input" ? prefix
      : "Не вдалося виконати дію.";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("take").addEventListener("click", () => act("take", {}, "Звернення взято в роботу."));
  $("resume").addEventListener("click", () => act("resume", {}, "Роботу відновлено."));
  $("act-answer").addEventListener("submit", (event) => {
    event.preventDefault();
    act("answer", {text: $("answer-text").value}, "Відповідь надіслано на перевірку.");
  });
  $("act-extend").addEventListener("submit", (event) => {
    event.preventDefault();
    act("extend", {new_due: $("extend-due").value, notice: $("extend-notice").value},
      "Термін продовжено, повідомлення заявникові збережено.");
  });
  $("act-nic").addEventListener("submit", (event) => {
    event.preventDefault();
    act("not-in-competence", {reason: $("nic-reason").value}, "Звернення повернуто як не в компетенції.");
  });
  refresh();
});
