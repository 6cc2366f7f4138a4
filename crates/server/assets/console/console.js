// Palisade console: keyboard navigation of the incident queue and the queue's refresh.
// Loaded as a file (the Content-Security-Policy allows no inline script); every page works
// without it.
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr.row"));
  }

  function current() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("tr.row") : null;
  }

  function focusRow(row) {
    if (!row) return;
    var link = row.querySelector("a.open");
    if (link) link.focus();
  }

  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
    var list = rows();
    var row = current();
    var i = row ? list.indexOf(row) : -1;
    if (e.key === "j") {
      focusRow(list[Math.min(i + 1, list.length - 1)]);
      e.preventDefault();
    } else if (e.key === "k") {
      focusRow(list[Math.max(i - 1, 0)]);
      e.preventDefault();
    } else if (e.key === "x" && row) {
      var box = row.querySelector("input.pick");
      if (box) box.checked = !box.checked;
      e.preventDefault();
    } else if (e.key === "/") {
      var q = document.getElementById("f-q");
      if (q) {
        q.focus();
        e.preventDefault();
      }
    }
  });

  // The queue's rows refresh every few seconds; not while incidents are selected or a row
  // has the keyboard focus (the refresh would drop the selection).
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail && e.detail.elt;
    if (!el || el.id !== "rows") return;
    if (document.querySelector("#queue input.pick:checked") || current()) {
      e.preventDefault();
    }
  });
})();
