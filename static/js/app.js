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

// CRF live evaluation replaces the form with the server's answer. Anything typed while that
// answer was on its way must survive the swap: remember it, put it back, and re-evaluate.
(function () {
  var typed = new Map();
  function key(el) {
    return el.type === "radio" || el.type === "checkbox" ? el.name + "=" + el.value : el.name;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "crf") {
      typed = new Map();
    }
  });
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (el.form && el.form.id === "crf" && el.name) {
      typed.set(key(el), { checked: el.checked, value: el.value, checkable: el.type === "radio" || el.type === "checkbox" });
    }
  }, true);
  document.addEventListener("htmx:afterSwap", function () {
    var form = document.getElementById("crf");
    if (!form || typed.size === 0) {
      return;
    }
    var pending = typed;
    typed = new Map();
    var changed = false;
    form.querySelectorAll("input, select, textarea").forEach(function (el) {
      var saved = pending.get(key(el));
      if (!saved) {
        return;
      }
      if (saved.checkable) {
        if (el.checked !== saved.checked) { el.checked = saved.checked; changed = true; }
      } else if (el.value !== saved.value) {
        el.value = saved.value;
        changed = true;
      }
    });
    if (changed && window.htmx) {
      window.htmx.trigger(form, "change");
    }
  });
})();
