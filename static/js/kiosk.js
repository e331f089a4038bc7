// The signature box of the consent kiosk and the countersignature: signature_pad draws the
// strokes; on submit they are sent as vector data ([[x, y, ms since the stroke began], …] per
// stroke) and as a PNG, in hidden fields. The canvas follows the box's size (portrait and
// landscape) and keeps what was drawn when the tablet turns.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector(".js-signature-form");
  var canvas = form && form.querySelector(".js-signature-canvas");
  if (!canvas || typeof SignaturePad === "undefined") {
    return;
  }
  var pad = new SignaturePad(canvas, { minWidth: 1, maxWidth: 3, penColor: "#0d1b4c" });

  function fit() {
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var data = pad.toData();
    var box = canvas.parentElement.getBoundingClientRect();
    canvas.width = Math.floor(box.width * ratio);
    canvas.height = Math.floor(box.height * ratio);
    canvas.style.width = box.width + "px";
    canvas.style.height = box.height + "px";
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }

  function strokes() {
    return pad.toData().map(function (group) {
      var start = group.points.length ? group.points[0].time : 0;
      return group.points.map(function (p) {
        return [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10, Math.round(p.time - start)];
      });
    });
  }

  window.addEventListener("resize", fit);
  window.addEventListener("orientationchange", fit);
  fit();

  var clear = form.querySelector(".js-signature-clear");
  if (clear) {
    clear.addEventListener("click", function () {
      pad.clear();
    });
  }
  form.addEventListener("submit", function () {
    var empty = pad.isEmpty();
    form.querySelector(".js-signature-strokes").value = empty ? "" : JSON.stringify(strokes());
    form.querySelector(".js-signature-image").value = empty ? "" : pad.toDataURL("image/png");
  });
});
