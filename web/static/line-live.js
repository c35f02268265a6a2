// The line screen updates itself: it asks /line/live every second and swaps the parts that
// changed. When the server cannot be reached it says so, greys the figures and keeps trying.
(function () {
  "use strict";
  var screen = document.querySelector("[data-live-url]");
  if (!screen || !window.fetch) { return; }
  var url = screen.getAttribute("data-live-url");
  var banner = document.getElementById("connection");
  var offlineText = screen.getAttribute("data-offline-text");
  var period = 1000, failures = 0, lostSince = null, timer = null;

  function clock(date) {
    return date.toLocaleTimeString(document.documentElement.lang || undefined);
  }

  function showOffline() {
    if (!lostSince) { lostSince = new Date(); }
    screen.classList.add("offline");
    banner.textContent = "\u26a0 " + offlineText.replace("{time}", clock(lostSince));
    banner.hidden = false;
  }

  function showOnline() {
    lostSince = null;
    screen.classList.remove("offline");
    banner.hidden = true;
  }

  function apply(data) {
    Object.keys(data.sections).forEach(function (id) {
      var node = document.getElementById(id);
      if (node && node.innerHTML !== data.sections[id]) {
        var focused = document.activeElement && node.contains(document.activeElement);
        node.innerHTML = data.sections[id];
        if (focused) { var first = node.querySelector("button"); if (first) { first.focus(); } }
      }
    });
    screen.setAttribute("data-updated", data.at);
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, delay);
  }

  function poll() {
    var controller = window.AbortController ? new AbortController() : null;
    var timeout = window.setTimeout(function () { if (controller) { controller.abort(); } }, 4000);
    fetch(url, {
      headers: { "Accept": "application/json" },
      cache: "no-store",
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (data) {
      window.clearTimeout(timeout);
      failures = 0;
      showOnline();
      apply(data);
      schedule(period);
    }).catch(function () {
      window.clearTimeout(timeout);
      failures += 1;
      showOffline();
      schedule(Math.min(period * Math.pow(2, failures), 5000));
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("ack-form")) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) { button.disabled = true; }
    var token = document.querySelector("meta[name=csrf-token]");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json", "X-CSRFToken": token ? token.content : "" },
      credentials: "same-origin"
    }).then(function () { poll(); }).catch(function () {
      if (button) { button.disabled = false; }
      showOffline();
    });
  });

  schedule(period);
})();
