// Polls a waiting page's status endpoint and moves on when the flow does.
// The URL comes from the element's data-poll-url; each request has a timeout, and failures back
// off so that a struggling portal or issuer is not hammered. Every change the visitor should know
// about goes through the page's aria-live region (.status-message) first.
(function () {
  "use strict";
  // A page that came as the answer to a form shows its own address: a reload asks for the page,
  // not for the form again.
  var own = document.querySelector("[data-address]");
  var address = own && own.getAttribute("data-address");
  if (address && window.location.pathname !== address && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", address);
  }
  var box = document.querySelector("[data-poll-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-poll-url");
  var base = parseInt(box.getAttribute("data-poll-interval"), 10) || 1500;
  var maxDelay = 30000;
  var timeoutMs = 10000;
  // Long enough for a screen reader to start the announcement before the page changes.
  var announceMs = 400;
  var delay = base;
  var timer = null;
  var inFlight = false;
  var stopped = false;
  var message = box.querySelector(".status-message");

  function say(text) {
    if (message && text && message.textContent !== text) { message.textContent = text; }
  }

  function schedule(ms) {
    if (stopped) { return; }
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function show(selector, visible) {
    document.querySelectorAll(selector).forEach(function (element) { element.hidden = !visible; });
  }

  // The start page: an expired invitation is offered again in place, without leaving the page.
  function offerFreshQr(text) {
    stopped = true;
    clearTimeout(timer);
    say(text);
    document.querySelectorAll("[data-invitation]").forEach(function (element) {
      element.classList.add("expired");
    });
    show("[data-while-valid]", false);
    show("[data-fresh-qr]", true);
  }

  // The flow moved on: the page says so first, long enough for a screen reader to start, then acts.
  function afterAnnouncing(then) {
    stopped = true;
    clearTimeout(timer);
    var text = box.getAttribute("data-moved-message");
    if (text && message && message.textContent !== text) {
      say(text);
      setTimeout(then, announceMs);
    } else {
      then();
    }
  }

  function moveOn(next) {
    afterAnnouncing(function () { window.location.assign(next); });
  }

  // The flow moved on to a step this page carries (the details form on the start page, "done" on
  // the loading page): it takes the page's place, at that step's address and with its title and
  // step marked, without loading a page.
  function showInPlace(next) {
    var section = null;
    document.querySelectorAll("[data-in-place]").forEach(function (element) {
      if (element.getAttribute("data-in-place") === next) { section = element; }
    });
    if (!section || !window.history || !window.history.replaceState) { return false; }
    afterAnnouncing(function () {
      show("[data-waiting]", false);
      section.hidden = false;
      var reached = false;
      document.querySelectorAll(".steps li").forEach(function (item) {
        var current = item.getAttribute("data-step") === section.getAttribute("data-in-place-step");
        reached = reached || current;
        item.className = current ? "current" : (reached ? "" : "done");
        if (current) { item.setAttribute("aria-current", "step"); } else { item.removeAttribute("aria-current"); }
      });
      arrive(section, section.getAttribute("data-in-place-title"), next);
    });
    return true;
  }

  // What was shown in place is the page now: its title, its address, and the focus on its heading.
  function arrive(container, title, address) {
    if (title) { document.title = title; }
    window.history.replaceState(null, "", address);
    var heading = container.querySelector("h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }

  // The line's page when the visitor's turn comes: the answer carries the start page's content,
  // which takes the page's place at the start page's address; its scripts then run for it (this
  // one too, polling for the wallet), as for a page loaded.
  function takeOver(data) {
    afterAnnouncing(function () {
      var main = document.getElementById("main");
      if (!main || !window.history || !window.history.replaceState) {
        window.location.assign(data.next);
        return;
      }
      main.innerHTML = data.html;
      var titled = main.querySelector("[data-page-title]");
      arrive(main, titled && titled.getAttribute("data-page-title"), data.next);
      (data.scripts || []).forEach(function (src) {
        var script = document.createElement("script");
        script.src = src;
        document.body.appendChild(script);
      });
    });
  }

  function handle(data) {
    if (data.state === "failed" && box.getAttribute("data-on-failure") === "fresh-qr") {
      offerFreshQr(data.message);
      return;
    }
    if (data.in_place && data.html && data.next) { takeOver(data); return; }
    if (data.in_place && data.next && showInPlace(data.next)) { return; }
    if (data.next) { moveOn(data.next); return; }
    say(data.message);
    // The line at the door says how soon to ask again: often near the front, less further back.
    var next = parseInt(data.poll_after_ms, 10);
    if (next > 0) { base = next; }
    delay = data.issuer === "ok" ? base : Math.min(delay * 2, maxDelay);
    schedule(delay);
  }

  function poll() {
    if (inFlight || stopped) { return; }
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
      handle(data);
    }).catch(function () {
      inFlight = false;
      clearTimeout(abort);
      delay = Math.min(delay * 2, maxDelay);
      schedule(delay);
    });
  }

  // When the invitation runs out, ask at once: the portal decides (a wallet that connected just
  // before the end still completes).
  var expiresIn = parseInt(box.getAttribute("data-expires-in"), 10);
  if (expiresIn > 0) { setTimeout(function () { delay = base; schedule(0); }, expiresIn + 500); }

  // No progress for a while: "start again" becomes the page's main action.
  var stuckIn = parseInt(box.getAttribute("data-stuck-in"), 10);
  if (stuckIn > 0) {
    setTimeout(function () {
      show("[data-stuck-help]", true);
      show("[data-not-stuck]", false);
    }, stuckIn);
  }

  // Back from the wallet app on the same phone: look at once instead of waiting for the timer.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { delay = base; schedule(0); }
  });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { schedule(0); } });
  // A page waiting for a wallet may ask first sooner than its interval: a wallet app already open
  // scans the code within a second, and from then on the portal's answers set the pace.
  var first = parseInt(box.getAttribute("data-poll-first"), 10);
  schedule(first >= 0 && first < base ? first : base);
})();
