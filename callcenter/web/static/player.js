/* Call recording player: a small snippet the agent desk, the appeal card and the wallboard embed.
 *
 * Markup:   <div class="cc-recordings" data-linkedid="1718000000.8"></div>
 *      or   <div class="cc-recordings" data-appeal="<appeal uuid>"></div>
 * Script:   <script src="/static/recordings/player.js" defer></script>
 *           (optional) <link rel="stylesheet" href="/static/recordings/player.css">
 *
 * Every such element is filled on load with one <audio> per recording of the call or appeal. The
 * audio URL answers HTTP Range requests, so the browser seeks without downloading the whole
 * file. The server decides who may hear what and audits every listen; this script only shows
 * what the API returns. Call window.ccRecordings.mount(element) for elements added later.
 */
(function () {
  "use strict";

  var TEXT = {
    uk: { none: "Записів немає", denied: "Немає доступу до запису", error: "Не вдалося завантажити записи",
          download: "Завантажити", leg: "Розмова", flagged: "Проблема із записом" },
    en: { none: "No recordings", denied: "You may not hear this recording", error: "Could not load the recordings",
          download: "Download", leg: "Conversation", flagged: "Recording problem" },
  };

  function texts(el) {
    var lang = el.getAttribute("data-lang") || document.documentElement.lang || "uk";
    return TEXT[lang.slice(0, 2)] || TEXT.uk;
  }

  function seconds(ms) {
    if (ms === null || ms === undefined) return "";
    var s = Math.round(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function node(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function renderOne(rec, t) {
    var item = node("div", "cc-recording" + (rec.flagged ? " cc-recording--flagged" : ""));
    item.setAttribute("data-recording-id", String(rec.id));
    var title = t.leg + (rec.leg > 1 ? " " + rec.leg : "") + " · " + seconds(rec.duration_ms);
    item.appendChild(node("div", "cc-recording__title", title));
    if (rec.flagged) {
      item.appendChild(node("div", "cc-recording__problem", t.flagged + ": " + (rec.problem || rec.status)));
    }
    if (rec.audio_url && rec.status === "ok") {
      var audio = node("audio", "cc-recording__audio");
      audio.controls = true;
      audio.preload = "metadata";  // only the header: the rest comes by range as it plays
      audio.src = rec.audio_url;
      item.appendChild(audio);
    }
    if (rec.download_url) {
      var link = node("a", "cc-recording__download", t.download);
      link.href = rec.download_url;
      link.setAttribute("download", "");
      item.appendChild(link);
    }
    return item;
  }

  function mount(el) {
    var t = texts(el);
    var query = el.getAttribute("data-appeal")
      ? "appeal=" + encodeURIComponent(el.getAttribute("data-appeal"))
      : "linkedid=" + encodeURIComponent(el.getAttribute("data-linkedid") || "");
    el.textContent = "";
    return fetch("/api/recordings?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 403) { el.appendChild(node("div", "cc-recordings__note", t.denied)); return; }
        if (!response.ok) { el.appendChild(node("div", "cc-recordings__note", t.error)); return; }
        return response.json().then(function (body) {
          if (!body.recordings.length) { el.appendChild(node("div", "cc-recordings__note", t.none)); return; }
          body.recordings.forEach(function (rec) { el.appendChild(renderOne(rec, t)); });
        });
      })
      .catch(function () { el.appendChild(node("div", "cc-recordings__note", t.error)); });
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".cc-recordings"), mount);
  }

  window.ccRecordings = { mount: mount, mountAll: mountAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
