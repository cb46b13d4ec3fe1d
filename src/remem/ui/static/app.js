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

// -- the time sliders: show the date a slider points at while it moves -----------------
window.rememSliders = (root) => {
  root.querySelectorAll(".sliders input[type=range]").forEach((input) => {
    const label = document.querySelector(`output[data-for="${input.name}"]`);
    if (!label || input.dataset.wired) return;
    input.dataset.wired = "1";
    input.addEventListener("input", () => {
      label.textContent = new Date(Number(input.value) * 86400000).toISOString().slice(0, 10);
    });
  });
};

// -- the entity graph: cytoscape over /ui/graph.json; a click lists the facts ----------
function link(memoryId, text) {
  const item = document.createElement("li");
  const anchor = document.createElement("a");
  anchor.href = `/ui/memories/${encodeURIComponent(memoryId)}`;
  anchor.textContent = text; // text, never HTML: memory text is data
  item.appendChild(anchor);
  return item;
}

function showFacts(panel, title, edges) {
  panel.replaceChildren();
  const heading = document.createElement("h2");
  heading.textContent = title;
  const list = document.createElement("ul");
  list.id = "panel-facts";
  const seen = new Set();
  edges.forEach((edge) => {
    const data = edge.data();
    if (seen.has(data.memory)) return;
    seen.add(data.memory);
    list.appendChild(link(data.memory, data.text));
  });
  panel.append(heading, list);
}

window.rememGraph = async (root) => {
  const box = root.querySelector ? root.querySelector("#graph[data-src]") : null;
  if (!box || box.dataset.drawn || !window.cytoscape) return;
  box.dataset.drawn = "1";
  const summary = document.getElementById("graph-summary");
  const panel = document.getElementById("graph-panel");
  let data;
  try {
    const answer = await fetch(box.dataset.src, { headers: { Accept: "application/json" } });
    if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
    data = await answer.json();
  } catch (error) {
    summary.textContent = `The graph could not be loaded: ${error.message}`;
    summary.classList.add("error");
    return;
  }
  const elements = [
    ...data.nodes.map((n) => ({ data: { id: n.id, label: n.label, kind: n.kind } })),
    ...data.edges.map((e) => ({ data: e })),
  ];
  const cy = window.cytoscape({
    container: box,
    elements,
    layout: { name: "cose", animate: false, randomize: false },
    style: [
      { selector: "node", style: { label: "data(label)", "background-color": "#7fb3e6", "font-size": 11, "text-valign": "bottom" } },
      { selector: "node[kind = 'user']", style: { "background-color": "#d1495b" } },
      { selector: "edge", style: { width: 2, "line-color": "#9aa5b1", "curve-style": "bezier" } },
      { selector: "edge[kind = 'fact']", style: { "line-color": "#2a9d8f" } },
      { selector: ":selected", style: { "border-width": 3, "border-color": "#f0a500", "line-color": "#f0a500" } },
    ],
  });
  box.dataset.nodes = String(cy.nodes().length);
  box.dataset.edges = String(cy.edges().length);
  const facts = new Set(data.edges.map((e) => e.memory)).size;
  summary.textContent = `${data.nodes.length - 1} entities, ${facts} memories linking them.`;
  cy.on("tap", "node", (event) => showFacts(panel, event.target.data("label"), event.target.connectedEdges()));
  cy.on("tap", "edge", (event) => showFacts(panel, "Link", event.target));
  window.rememCy = cy; // for the browser tests and the curious
};
