// Content-analysis page: acknowledge an alert (POST with the session's CSRF token), then show it done.
"use strict";

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
    button.replaceWith(document.createTextNode(`acknowledged by ${alert.acknowledged_by}`));
    status.textContent = `Alert ${id} acknowledged.`;
  } catch (error) {
    button.disabled = false;
    status.textContent = `Could not acknowledge alert ${id}: ${error.message}`;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.ack");
  if (button) {
    acknowledge(button);
  }
});
