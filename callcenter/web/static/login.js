// Login form and sign-out button: JSON requests to /api/login and /api/logout, answers shown
// in the live region so screen readers announce them.
"use strict";

(function () {
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      return meta.content;
    }
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("cc_csrf="));
    return cookie ? decodeURIComponent(cookie.slice("cc_csrf=".length)) : "";
  }

  // Only a path on this site: never "//elsewhere" or "/\elsewhere" (an open redirect).
  function safeNext(value) {
    if (value && value.startsWith("/") && !value.startsWith("//") && !value.startsWith("/\\")) {
      return value;
    }
    return "/account";
  }

  const form = document.getElementById("login-form");
  if (form) {
    const status = document.getElementById("login-status");
    const button = document.getElementById("submit");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "";
      button.disabled = true;
      const headers = { "Content-Type": "application/json", Accept: "application/json" };
      const token = csrfToken();
      if (token) {
        headers["X-CSRF-Token"] = token;
      }
      let response;
      try {
        response = await fetch("/api/login", {
          method: "POST",
          headers: headers,
          credentials: "same-origin",
          body: JSON.stringify({ login: form.elements.login.value, password: form.elements.password.value }),
        });
      } catch (error) {
        status.textContent = form.dataset.errorNetwork;
        button.disabled = false;
        return;
      }
      if (response.ok) {
        window.location.assign(safeNext(new URLSearchParams(window.location.search).get("next")));
        return;
      }
      if (response.status === 429) {
        const seconds = parseInt(response.headers.get("Retry-After") || "60", 10);
        status.textContent = form.dataset.errorThrottled.replace("{minutes}", String(Math.ceil(seconds / 60)));
      } else if (response.status === 401) {
        status.textContent = form.dataset.errorCredentials;
      } else {
        status.textContent = form.dataset.errorOther;
      }
      button.disabled = false;
      form.elements.password.value = "";
      form.elements.password.focus();
    });
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      logout.disabled = true;
      try {
        const response = await fetch("/api/logout", {
          method: "POST",
          headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok || response.status === 401) {
          window.location.assign("/login");
          return;
        }
      } catch (error) {
        // fall through to the message below
      }
      document.getElementById("logout-status").textContent = logout.dataset.errorOther;
      logout.disabled = false;
    });
    logout.disabled = false; // the page ships it disabled until this handler is attached
  }
})();
