// Content-analysis page: acknowledge an alert (POST with the session's CSRF token), then show it done.
// The words come from the page (its language's texts in #content-texts), as on the agent desk.
"use strict";

const T = JSON.parse(document.getElementById("content-texts").textContent);

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
}

function csrf() {
  const match = document.cookie.match(/(?:^|; )cc_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function acknowledge(button) {
  const id = button.dataset.alert;
  const status = document.getElementById("ack-status");
  button.disabled = true;
  try {
    const response = await fetch(`/api/content/alerts/${id}/ack`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    const alert = await response.json();
    const row = document.getElementById(`alert-${id}`);
    row.classList.replace("open", "done");
    button.replaceWith(document.createTextNode(format(T.acknowledged_by, { login: alert.acknowledged_by })));
    status.textContent = format(T.ack_done, { id });
  } catch (error) {
    button.disabled = false;
    status.textContent = format(T.ack_failed, { id, message: error.message });
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.ack");
  if (button) {
    acknowledge(button);
  }
});
