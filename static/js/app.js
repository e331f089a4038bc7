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
  // A refused save opens on its summary, so keyboard and screen-reader users start there too.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
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
  // Tell the server which answers changed since its last answer arrived (a newer change cancels
  // a request still on its way): it then redraws only the sections those answers can touch.
  // Without a name (a re-evaluation asked by this script), the whole form comes back.
  var changedSince = new Set();
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "crf") {
      return;
    }
    var cause = event.detail.triggeringEvent;
    var name = cause && cause.target && cause.target.name;
    if (!name) {
      changedSince.clear();
      return;
    }
    changedSince.add(name);
    event.detail.headers["X-CRF-Changed"] = Array.from(changedSince).join(" ");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "crf" && event.detail.successful) {
      changedSince.clear();
    }
  });
  // Reasons and confirmations are not answers: typing them re-evaluates nothing.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.form && el.form.id === "crf" && el.name && el.name.indexOf(":") !== -1) {
      event.stopPropagation();
    }
  }, true);
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

// Nothing typed into a CRF is lost to a timeout or an interrupted page: this tab keeps a draft
// (sessionStorage: this tab only, gone when it closes or at sign-out) and puts it back when the
// same person opens the same form again with nothing saved since. If someone else saved since,
// the draft comes back with the version it was typed against, so saving shows the conflict view.
(function () {
  var PREFIX = "crf-draft:";
  var SKIP = { csrf_token: true, row_version: true, action: true };

  function storageKey(form) {
    return form && form.dataset.draft ? PREFIX + form.dataset.draft : null;
  }
  function read(key) {
    try { return JSON.parse(window.sessionStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function fields(form) {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      // Answers only: reasons and confirmations belong to the page that asked for them.
      if (!SKIP[name] && name.indexOf(":") === -1 && typeof value === "string") { pairs.push([name, value]); }
    });
    return pairs;
  }
  function version(form) {
    var input = form.querySelector('input[name="row_version"]');
    return input ? input.value : "";
  }
  function keep(form, submitted) {
    var key = storageKey(form);
    if (!key) { return; }
    var draft = read(key);
    var base = draft && !draft.submitted ? draft.version : version(form);
    try {
      window.sessionStorage.setItem(key, JSON.stringify({ version: base, submitted: submitted, values: fields(form) }));
    } catch (e) { /* storage full or disabled: the server still keeps input on every error */ }
  }
  function same(a, b) {
    return JSON.stringify(a.slice().sort()) === JSON.stringify(b.slice().sort());
  }
  function restore(form, draft) {
    var byName = new Map();
    draft.values.forEach(function (pair) {
      if (!byName.has(pair[0])) { byName.set(pair[0], []); }
      byName.get(pair[0]).push(pair[1]);
    });
    form.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (!el.name || SKIP[el.name] || el.name.indexOf(":") !== -1) { return; }
      var wanted = byName.get(el.name) || [];
      if (el.type === "radio" || el.type === "checkbox") {
        el.checked = wanted.indexOf(el.value) !== -1;
      } else if (el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = wanted.indexOf(o.value) !== -1; });
      } else if (wanted.length || el.value) {
        el.value = wanted.length ? wanted[0] : "";
      }
    });
    var versionInput = form.querySelector('input[name="row_version"]');
    if (versionInput) { versionInput.value = draft.version; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("crf");
    var key = storageKey(form);
    if (!key) { return; }
    var draft = read(key);
    var current = version(form);
    if (form.dataset.echo) {
      // The server's answer to this tab's own post (a refused save, a row added or removed):
      // it holds what was posted, so it is the draft now; nothing to put back.
      window.sessionStorage.removeItem(key);
      keep(form, false);
    } else if (draft && draft.version !== current && draft.submitted) {
      window.sessionStorage.removeItem(key); // our own save went through
    } else if (draft && !same(draft.values, fields(form))) {
      restore(form, draft);
      var notice = document.getElementById("draft-restored");
      if (notice) { notice.hidden = false; }
      if (window.htmx) { window.htmx.trigger(form, "change"); }
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.form && event.target.form.id === "crf") { keep(event.target.form, false); }
  }, true);
  document.addEventListener("change", function (event) {
    if (event.target.form && event.target.form.id === "crf") { keep(event.target.form, false); }
  }, true);
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "crf") {
      keep(form, true);
    } else if (form.action && /\/logout$/.test(form.action)) {
      Object.keys(window.sessionStorage).forEach(function (k) {
        if (k.indexOf(PREFIX) === 0) { window.sessionStorage.removeItem(k); }
      });
    }
  }, true);
  document.addEventListener("click", function (event) {
    if (event.target.classList && event.target.classList.contains("js-draft-discard")) {
      var key = storageKey(document.getElementById("crf"));
      if (key) { window.sessionStorage.removeItem(key); }
      window.location.reload();
    }
  });
})();

// Dates are typed as the portal's language writes them (the placeholder shows how: jj/mm/aaaa),
// never as the device's locale would. A tablet's numeric keypad has no "/": the separators come
// by themselves after the digits. Typing them anyway, or typing ISO (2026-12-31), still works;
// the server reads what arrives and is the judge.
(function () {
  function isLetter(c) { return /[A-Za-z]/.test(c); }
  function fitsShape(value, shape) {
    if (value.length >= shape.length) { return false; }
    for (var i = 0; i < value.length; i++) {
      var s = shape.charAt(i), c = value.charAt(i);
      if (isLetter(s) ? !/[0-9]/.test(c) : c !== s) { return false; }
    }
    return true;
  }
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (!el.hasAttribute || !el.hasAttribute("data-date") || event.inputType !== "insertText") {
      return;
    }
    var shape = el.getAttribute("placeholder") || "";
    var value = el.value;
    var n = value.length;
    if (el.selectionStart !== n) { return; } // a correction in the middle: leave it alone
    var typed = event.data || "";
    if (typed === "-" && /^[0-9]{2}[^0-9][0-9]{2}[^0-9]?-$/.test(value)) {
      el.value = value.replace(/[^0-9]/g, "") + "-"; // the start of an ISO date: 2026-
    } else if (/[^0-9]/.test(typed) && n >= 2 && value.charAt(n - 2) === typed &&
               shape.charAt(n - 2) === typed && value.charAt(n - 1) === typed) {
      el.value = value.slice(0, -1); // the separator was already there
    } else if (/[0-9]$/.test(value) && fitsShape(value, shape) && !isLetter(shape.charAt(n))) {
      el.value = value + shape.charAt(n);
    }
  });
})();
