// Polls a waiting page's status endpoint and moves on when the flow does.
// The URL comes from the element's data-poll-url; each request has a timeout, and failures back
// off so that a struggling portal or issuer is not hammered.
(function () {
  "use strict";
  var box = document.querySelector("[data-poll-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-poll-url");
  var base = parseInt(box.getAttribute("data-poll-interval"), 10) || 1500;
  var maxDelay = 30000;
  var timeoutMs = 10000;
  var delay = base;
  var timer = null;
  var inFlight = false;
  var message = box.querySelector(".status-message");

  function say(text) {
    if (message && text && message.textContent !== text) { message.textContent = text; }
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function poll() {
    if (inFlight) { return; }
    inFlight = true;
    var controller = window.AbortController ? new AbortController() : null;
    var abort = controller ? setTimeout(function () { controller.abort(); }, timeoutMs) : null;
    fetch(url, {
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      inFlight = false;
      clearTimeout(abort);
      if (data.next) { window.location.assign(data.next); return; }
      say(data.message);
      delay = data.issuer === "ok" ? base : Math.min(delay * 2, maxDelay);
      schedule(delay);
    }).catch(function () {
      inFlight = false;
      clearTimeout(abort);
      delay = Math.min(delay * 2, maxDelay);
      schedule(delay);
    });
  }

  // Back from the wallet app on the same phone: look at once instead of waiting for the timer.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { delay = base; schedule(0); }
  });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { schedule(0); } });
  schedule(base);
})();
