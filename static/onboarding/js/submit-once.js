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
      // This page runs script, and so will the next: the portal may answer with the next page
      // itself instead of a redirect to it (that page sets its own address).
      var marker = form.getAttribute("data-answer-in-place");
      if (marker && !form.elements[marker]) {
        var field = document.createElement("input");
        field.type = "hidden";
        field.name = marker;
        field.value = "1";
        form.appendChild(field);
      }
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
