"use strict";
// fcaudit report: sort tables by a column; unfold every finding before printing.
// Everything shown is already in the page; this script only reorders and unfolds it.
(function () {
  function sortBy(table, heads, col) {
    const th = heads[col];
    const numeric = th.dataset.type === "number";
    const state = th.getAttribute("aria-sort");
    // first click: numbers largest first, text A to Z; later clicks flip
    const ascending = state ? state === "descending" : !numeric;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = a.cells[col];
      const y = b.cells[col];
      const d = numeric
        ? Number(x.dataset.v) - Number(y.dataset.v)
        : x.textContent.localeCompare(y.textContent);
      return ascending ? d : -d;
    });
    for (const h of heads) {
      h.removeAttribute("aria-sort");
    }
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    for (const row of rows) {
      body.appendChild(row);
    }
  }

  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = Array.from(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      const button = th.querySelector("button");
      if (button) {
        button.addEventListener("click", function () {
          sortBy(table, heads, col);
        });
      }
    });
  }

  const folded = [];
  window.addEventListener("beforeprint", function () {
    for (const d of document.querySelectorAll("details:not([open])")) {
      folded.push(d);
      d.open = true;
    }
  });
  window.addEventListener("afterprint", function () {
    for (const d of folded.splice(0)) {
      d.open = false;
    }
  });
  document.documentElement.dataset.script = "ready";
})();
