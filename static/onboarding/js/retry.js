// The issuer failed: try the page again by itself after the delay the portal chose (it grows with
// each attempt, so a crowd does not hammer an issuer that is coming back).
(function () {
  "use strict";
  var box = document.querySelector("[data-retry-url]");
  if (!box) { return; }
  var seconds = parseInt(box.getAttribute("data-retry-in"), 10);
  if (!(seconds > 0)) { return; }
  setTimeout(function () { window.location.assign(box.getAttribute("data-retry-url")); }, seconds * 1000);
})();
