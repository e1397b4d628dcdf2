// The citizens' appeal page: fills the classifier pickers, does the form's proof of work in the
// background while the person types, sends the appeal, shows every bad field at once, and checks
// an appeal's status by number and phone.
"use strict";

const FIELDS = ["kind", "surname", "given_name", "patronymic", "residence", "email", "phone",
  "topic_code", "categories", "essence"];
const LABELS = {
  kind: "Вид звернення", surname: "Прізвище", given_name: "Ім’я", patronymic: "По батькові",
  residence: "Місце проживання", email: "Електронна пошта", phone: "Телефон",
  topic_code: "Тема звернення", categories: "Категорія заявника", essence: "Суть звернення",
};
const INVALID = {
  email: "Це не схоже на адресу електронної пошти.",
  phone: "Вкажіть номер телефону (від 9 до 15 цифр).",
  surname: "Лише літери, апостроф, дефіс і пробіл.",
  given_name: "Лише літери, апостроф, дефіс і пробіл.",
  patronymic: "Лише літери, апостроф, дефіс і пробіл.",
};
const REFUSALS = {
  too_many_requests: "Забагато звернень з вашої адреси. Спробуйте пізніше.",
  too_fast: "Форму надіслано надто швидко. Зачекайте кілька секунд і надішліть ще раз.",
  challenge_expired: "Форма була відкрита надто довго. Ми її оновили — надішліть ще раз.",
  challenge_invalid: "Перевірку форми пошкоджено. Ми її оновили — надішліть ще раз.",
  challenge_unsolved: "Перевірка браузера не завершилась. Зачекайте мить і надішліть ще раз.",
  challenge_reused: "Цю форму вже надіслано. Ми її оновили — можна надіслати нове звернення.",
  rejected: "Звернення не вдалося прийняти.",
};
const STATUSES = {
  registered: "Зареєстровано", sent_to_authority: "Надіслано до органу, що розглядає звернення",
  in_work: "У роботі", not_in_competence: "Передається до компетентного органу",
  answered: "Відповідь на перевірці", returned_for_rework: "На доопрацюванні",
  closed: "Розгляд завершено", returned_to_applicant: "Повернуто заявникові",
  not_considered: "Не підлягає розгляду",
};

const $ = (id) => document.getElementById(id);
let challenge = null;
let work = null; // a promise of the solution for `challenge`

function day(iso) {
  if (!iso) return "—";
  const [y, m, d] = iso.split("-");
  return `${d}.${m}.${y}`;
}

function zeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) { bits += 8; continue; }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

async function solve(token, difficulty) {
  const encoder = new TextEncoder();
  for (let n = 0; ; n++) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(`${token}:${n}`)));
    if (zeroBits(digest) >= difficulty) return n;
  }
}

function startWork(next) {
  challenge = next;
  work = solve(next.token, next.difficulty);
}

async function renewChallenge() {
  const response = await fetch("/api/public/challenge", {headers: {Accept: "application/json"}});
  if (response.ok) startWork(await response.json());
}

function fill(select, items) {
  for (const item of items) {
    const option = document.createElement("option");
    option.value = item.code;
    option.textContent = select.id === "f-kind" ? item.name : `${item.code} ${item.name}`;
    select.append(option);
  }
}

async function load() {
  const response = await fetch("/api/public/form", {headers: {Accept: "application/json"}});
  if (!response.ok) {
    $("form-status").textContent = response.status === 429 ? REFUSALS.too_many_requests
      : "Форма тимчасово недоступна. Спробуйте пізніше.";
    return;
  }
  const form = await response.json();
  fill($("f-kind"), form.kinds);
  fill($("f-topic_code"), form.topics);
  fill($("f-categories"), form.categories);
  startWork(form.challenge);
}

function clearErrors() {
  for (const name of FIELDS) {
    $(`f-${name}`).removeAttribute("aria-invalid");
    $(`e-${name}`).textContent = "";
  }
  $("form-status").textContent = "";
}

function showProblems(problems) {
  const bad = FIELDS.filter((name) => name in problems);
  for (const name of bad) {
    const required = /^required/.test(problems[name]);
    $(`f-${name}`).setAttribute("aria-invalid", "true");
    $(`e-${name}`).textContent = required ? "Обов’язкове поле." : (INVALID[name] || "Перевірте це поле.");
  }
  if ("anonymous" in problems) bad.unshift("anonymous");
  const names = bad.filter((n) => n in LABELS).map((n) => LABELS[n]);
  $("form-status").textContent = `Перевірте поля: ${names.join(", ")}.`;
  if (bad.length && bad[0] in LABELS) $(`f-${bad[0]}`).focus();
}

function formBody() {
  const body = {};
  for (const name of FIELDS) {
    const input = $(`f-${name}`);
    body[name] = name === "categories" ? [...input.selectedOptions].map((o) => o.value) : input.value;
  }
  body.website = $("f-website").value;
  return body;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const button = $("submit");
  button.disabled = true;
  $("form-status").textContent = "";
  $("form-result").textContent = "";
  try {
    if (!work) await renewChallenge();
    const body = formBody();
    body.challenge = challenge.token;
    body.solution = await work;
    const response = await fetch("/api/public/appeals", {
      method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (response.status === 201) {
      $("appeal-form").reset();
      $("form-result").textContent =
        `Звернення зареєстровано: № ${answer.number}, термін розгляду до ${day(answer.due)}. ` +
        "Збережіть номер, щоб перевірити стан звернення.";
      $("form-result").focus();
      await renewChallenge();
    } else if (answer.error_id === "invalid_input" && answer.details && answer.details.problems) {
      showProblems(answer.details.problems);
    } else {
      $("form-status").textContent = REFUSALS[answer.error_id] || "Не вдалося надіслати звернення. Спробуйте пізніше.";
      if (["challenge_expired", "challenge_invalid", "challenge_reused"].includes(answer.error_id)) {
        await renewChallenge();
      }
    }
  } catch (error) {
    $("form-status").textContent = "Немає зв’язку з сервером. Перевірте підключення і спробуйте ще раз.";
  } finally {
    button.disabled = false;
  }
}

async function checkStatus(event) {
  event.preventDefault();
  const out = $("status-result");
  out.className = "result";
  out.textContent = "";
  const number = $("s-number").value.trim();
  const phone = $("s-phone").value.trim();
  if (!number || !phone) {
    out.className = "result bad";
    out.textContent = "Вкажіть номер звернення і телефон.";
    return;
  }
  try {
    const response = await fetch("/api/public/appeals/status", {
      method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify({number, phone}),
    });
    const answer = await response.json();
    if (response.ok) {
      const extended = answer.extended ? " (продовжено)" : "";
      out.textContent = `Звернення № ${answer.number}: ${STATUSES[answer.status] || answer.status}. ` +
        `Зареєстровано ${day(answer.registered_on)}, термін розгляду до ${day(answer.due)}${extended}.`;
    } else {
      out.className = "result bad";
      out.textContent = response.status === 404 ? "Звернення з таким номером і телефоном не знайдено."
        : response.status === 429 ? REFUSALS.too_many_requests
        : answer.details && answer.details.field === "number" ? "Номер має вигляд ЗВ-2026-000123."
        : "Не вдалося перевірити. Спробуйте пізніше.";
    }
  } catch (error) {
    out.className = "result bad";
    out.textContent = "Немає зв’язку з сервером. Перевірте підключення і спробуйте ще раз.";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("appeal-form").addEventListener("submit", submit);
  $("status-form").addEventListener("submit", checkStatus);
  load();
});
