// The inspector's own script: keyboard shortcuts and the views that draw (graph, timeline).
// No inline scripts anywhere (the CSP forbids them): pages mark elements with data-*
// attributes and this file wires them up after each load or htmx swap.
"use strict";

function initShortcuts() {
  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
    if (event.key === "/" && !typing) {
      const box = document.querySelector("input[type=search]");
      if (box) { event.preventDefault(); box.focus(); } else { window.location.href = "/ui/search"; }
    }
  });
}

function init(root) {
  if (window.rememGraph) window.rememGraph(root);
  if (window.rememSliders) window.rememSliders(root);
}

document.addEventListener("DOMContentLoaded", () => {
  initShortcuts();
  init(document);
});
document.addEventListener("htmx:afterSettle", (event) => init(event.target));
