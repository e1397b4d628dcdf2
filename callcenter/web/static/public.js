// The citizens' appeal page: fills the classifier pickers, does the form's proof of work in the
// background while the person types, sends the appeal, shows every bad field at once, and checks
// an appeal's status by number and phone.
"use strict";

const FIELDS = ["kind", "surname", "given_name", "patronymic", "residence", "email", "phone",
  "topic_code", "categories", "essence"];
// The page's texts in its language, from the non-executable JSON block the server filled.
const T = JSON.parse(document.getElementById("texts").textContent);
const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key]);
const LABELS = {
  kind: T.kind, surname: T.surname, given_name: T.given_name, patronymic: T.patronymic,
  residence: T.residence, email: T.email, phone: T.phone, topic_code: T.topic_code,
  categories: T.label_categories, essence: T.essence,
};
const INVALID = {
  email: T.invalid_email, phone: T.invalid_phone,
  surname: T.invalid_name, given_name: T.invalid_name, patronymic: T.invalid_name,
};
const REFUSALS = Object.fromEntries(
  ["too_many_requests", "too_fast", "challenge_expired", "challenge_invalid", "challenge_unsolved",
    "challenge_reused", "rejected"].map((id) => [id, T[id]]),
);
const status = (code) => T[`st_${code}`] || code;

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
      : T.unavailable;
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
    $(`e-${name}`).textContent = required ? T.required : (INVALID[name] || T.check_field);
  }
  if ("anonymous" in problems) bad.unshift("anonymous");
  const names = bad.filter((n) => n in LABELS).map((n) => LABELS[n]);
  $("form-status").textContent = fmt(T.check_fields, {names: names.join(", ")});
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
      $("form-result").textContent = fmt(T.registered, {number: answer.number, due: day(answer.due)});
      $("form-result").focus();
      await renewChallenge();
    } else if (answer.error_id === "invalid_input" && answer.details && answer.details.problems) {
      showProblems(answer.details.problems);
    } else {
      $("form-status").textContent = REFUSALS[answer.error_id] || T.send_failed;
      if (["challenge_expired", "challenge_invalid", "challenge_reused"].includes(answer.error_id)) {
        await renewChallenge();
      }
    }
  } catch (error) {
    $("form-status").textContent = T.offline;
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
    out.textContent = T.status_missing;
    return;
  }
  try {
    const response = await fetch("/api/public/appeals/status", {
      method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify({number, phone}),
    });
    const answer = await response.json();
    if (response.ok) {
      out.textContent = fmt(T.status_line, {
        number: answer.number, status: status(answer.status), registered: day(answer.registered_on),
        due: day(answer.due), extended: answer.extended ? T.extended : "",
      });
    } else {
      out.className = "result bad";
      out.textContent = response.status === 404 ? T.status_not_found
        : response.status === 429 ? REFUSALS.too_many_requests
        : answer.details && answer.details.field === "number" ? T.status_bad_number
        : T.status_failed;
    }
  } catch (error) {
    out.className = "result bad";
    out.textContent = T.offline;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("appeal-form").addEventListener("submit", submit);
  $("status-form").addEventListener("submit", checkStatus);
  load();
});
