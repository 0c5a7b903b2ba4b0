// Gatehouse: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // "Select all" checkboxes: <input type=checkbox data-select-all="name">.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.dataset && t.dataset.selectAll) {
      document.querySelectorAll('input[type=checkbox][name="' + t.dataset.selectAll + '"]').forEach(function (c) { c.checked = t.checked; });
    }
  });
  // htmx requests carry the session's anti-forgery token.
  document.addEventListener("htmx:configRequest", function (e) {
    var m = document.querySelector('meta[name="csrf-token"]');
    if (m) { e.detail.headers["X-CSRF-Token"] = m.content; }
  });
  // "/" focuses the page's search field.
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      var s = document.querySelector("[data-search]");
      if (s) { e.preventDefault(); s.focus(); }
    }
  });
})();
