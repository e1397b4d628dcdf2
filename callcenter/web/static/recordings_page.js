/* The supervisors' recordings page: find a call's or an appeal's recordings and play them; list
 * the recordings flagged with a problem (missing, empty or broken files, skipped captures).
 * The words come from the page (its language's texts in #recordings-texts); the player takes the
 * page's language from <html lang>. */
(function () {
  "use strict";
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var T = JSON.parse(document.getElementById("recordings-texts").textContent);
  // Kyiv time, whatever the browser's zone: the recordings' times as the rest of the system shows them.
  var KYIV = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Kyiv", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return key in values ? String(values[key]) : ""; });
  }

  function when(iso) {
    if (!iso) return "";
    var parts = {};
    KYIV.formatToParts(new Date(iso)).forEach(function (part) { parts[part.type] = part.value; });
    return format(T.datetime, parts);
  }

  function player(attribute, value) {
    var el = document.createElement("div");
    el.className = "cc-recordings";
    el.setAttribute(attribute, value);
    return el;
  }

  document.getElementById("find").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = document.getElementById("key").value.trim();
    var found = document.getElementById("found");
    found.textContent = "";
    var el = player(UUID.test(key) ? "data-appeal" : "data-linkedid", key);
    found.appendChild(el);
    window.ccRecordings.mount(el);
  });

  fetch("/api/recordings/flagged", { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
    .then(function (body) {
      var list = document.getElementById("flagged");
      list.textContent = "";
      var items = body.recordings || [];
      if (!items.length) {
        list.appendChild(document.createElement("li")).textContent = T.none;
        return;
      }
      items.forEach(function (rec) {
        var li = document.createElement("li");
        var title = document.createElement("div");
        title.textContent = when(rec.started_at) + " · " + (rec.queue || "—") + " · " + (rec.agent || "—") + " · ";
        var problem = document.createElement("span");
        problem.className = "problem";
        // The problem itself is the server's technical note (English), after the status in words.
        problem.textContent = (T["status_" + rec.status] || rec.status) + (rec.problem ? ": " + rec.problem : "");
        title.appendChild(problem);
        li.appendChild(title);
        var el = player("data-linkedid", rec.linkedid);
        li.appendChild(el);
        list.appendChild(li);
        if (window.ccRecordings) window.ccRecordings.mount(el);
      });
    })
    .catch(function () {
      document.getElementById("flagged").textContent = T.load_failed;
    });
})();
