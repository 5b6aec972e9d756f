// Forms marked data-submit-once are sent once: a double click on "Send" makes one request. The
// server holds without this script too (one offer, every request lands on the waiting page).
(function () {
  "use strict";
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    var buttons = form.querySelectorAll("button[type=submit], input[type=submit]");
    var sent = false;
    form.addEventListener("submit", function (event) {
      if (sent) { event.preventDefault(); return; }
      sent = true;
      form.setAttribute("aria-busy", "true");
      // Disabled after this turn: a button disabled inside its own submit event is still sent.
      setTimeout(function () {
        buttons.forEach(function (button) { button.disabled = true; });
      }, 0);
    });
    // Back to this page from the history (the browser's page cache): the form may be sent again.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) { return; }
      sent = false;
      form.removeAttribute("aria-busy");
      buttons.forEach(function (button) { button.disabled = false; });
    });
  });
})();
