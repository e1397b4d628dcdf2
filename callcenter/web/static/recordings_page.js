/* The supervisors' recordings page: find a call's or an appeal's recordings and play them; list
 * the recordings flagged with a problem (missing, empty or broken files, skipped captures). */
(function () {
  "use strict";
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
        list.appendChild(document.createElement("li")).textContent = "Немає.";
        return;
      }
      items.forEach(function (rec) {
        var li = document.createElement("li");
        var title = document.createElement("div");
        title.textContent = (rec.started_at || "") + " · " + (rec.queue || "—") + " · " + (rec.agent || "—") + " · ";
        var problem = document.createElement("span");
        problem.className = "problem";
        problem.textContent = rec.status + (rec.problem ? ": " + rec.problem : "");
        title.appendChild(problem);
        li.appendChild(title);
        var el = player("data-linkedid", rec.linkedid);
        li.appendChild(el);
        list.appendChild(li);
        if (window.ccRecordings) window.ccRecordings.mount(el);
      });
    })
    .catch(function () {
      document.getElementById("flagged").textContent = "Не вдалося завантажити список.";
    });
})();
