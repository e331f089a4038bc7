// Small first-party behaviour; every page also works without it.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // The language applies as soon as it is picked; the button remains for use without JavaScript.
  document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.requestSubmit();
    });
  });
  document.querySelectorAll(".js-hide").forEach(function (el) {
    el.hidden = true;
  });
});
