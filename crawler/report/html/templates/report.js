"use strict";
// fcaudit report: the worklist (every finding, grouped per function, filtered and paged); sorting the
// services table; unfolding everything before printing. Everything shown is already in the page: the
// worklist's findings are the JSON document in #worklist-data, and every value from it is shown with
// textContent, never as markup. Nothing is fetched.
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

  // --- the worklist ----------------------------------------------------------------------------------
  const SEVERITIES = ["info", "low", "medium", "high"];
  const ICONS = { high: "\u25b2", medium: "\u25c6", low: "\u25cf", info: "\u25cb" };
  const PAGE_SIZE = 50;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function badge(severity) {
    const name = SEVERITIES[severity];
    const node = el("span", "badge sev-" + name);
    const icon = el("span", "icon", ICONS[name]);
    icon.setAttribute("aria-hidden", "true");
    node.append(icon, name);
    return node;
  }

  function number(n) {
    return n.toLocaleString("en-US");
  }

  function worklist() {
    const holder = document.getElementById("worklist-data");
    const list = document.getElementById("wl-list");
    if (!holder || !list) {
      return;
    }
    const data = JSON.parse(holder.textContent);
    if (data.version !== 1) {
      return;
    }
    const S = data.strings;
    const F = data.findings; // one array per field: F.rule[i] is finding i's rule
    const FN = F.function;
    const RULE = F.rule;
    const SEV = F.severity;
    const functions = data.functions;
    const count = FN.length;
    // the findings of function k are [starts[k], starts[k + 1]): the document keeps them together
    const starts = [];
    for (let i = 0, previous = -1; i < count; i++) {
      if (FN[i] !== previous) {
        previous = FN[i];
        starts.push(i);
      }
    }
    starts.push(count);
    let lower = null; // S in lower case, made on the first search
    const ruleLower = data.rules.map(function (r) {
      return r.id.toLowerCase();
    });

    const controls = {
      severity: document.getElementById("wl-severity"),
      rule: document.getElementById("wl-rule"),
      service: document.getElementById("wl-service"),
      text: document.getElementById("wl-text"),
      clear: document.getElementById("wl-clear"),
      status: document.getElementById("wl-status"),
      pager: document.getElementById("wl-pager"),
      page: document.getElementById("wl-page"),
    };

    // the service filter: every service with a finding, by name (one entry for a name used in several
    // accounts or regions), with its count
    const perService = new Map();
    for (let i = 0; i < count; i++) {
      const service = functions[FN[i]][2];
      perService.set(service, (perService.get(service) || 0) + 1);
    }
    Array.from(perService.keys())
      .sort(function (a, b) {
        return S[a].localeCompare(S[b]);
      })
      .forEach(function (service) {
        const option = el("option", "", S[service] + " (" + number(perService.get(service)) + ")");
        option.value = String(service);
        controls.service.appendChild(option);
      });

    const state = { severities: new Set([0, 1, 2, 3]), rule: -1, service: -1, text: "", page: 0 };
    let shown = []; // [function index, [finding indexes]] of the current filter

    function textMatches(i) {
      const t = state.text;
      const fn = functions[FN[i]];
      if (lower === null) {
        lower = S.map(function (s) {
          return s.toLowerCase();
        });
      }
      if (
        lower[fn[2]].includes(t) ||
        lower[fn[3]].includes(t) ||
        lower[fn[0]].includes(t) ||
        lower[fn[1]].includes(t) ||
        ruleLower[RULE[i]].includes(t) ||
        lower[F.qualifier[i]].includes(t) ||
        lower[F.message[i]].includes(t)
      ) {
        return true;
      }
      for (const s of data.evidence[F.evidence[i]]) {
        if (lower[s].includes(t)) {
          return true;
        }
      }
      return false;
    }

    function matches(i) {
      if (!state.severities.has(SEV[i])) {
        return false;
      }
      if (state.rule >= 0 && RULE[i] !== state.rule) {
        return false;
      }
      if (state.service >= 0 && functions[FN[i]][2] !== state.service) {
        return false;
      }
      return state.text === "" || textMatches(i);
    }

    function filter() {
      shown = [];
      let findings = 0;
      for (let k = 0; k + 1 < starts.length; k++) {
        const kept = [];
        for (let i = starts[k]; i < starts[k + 1]; i++) {
          if (matches(i)) {
            kept.push(i);
          }
        }
        if (kept.length) {
          shown.push([k, kept]);
          findings += kept.length;
        }
      }
      return findings;
    }

    function evidence(index) {
      const pairs = data.evidence[index];
      const dl = el("dl", "evidence");
      for (let j = 0; j + 1 < pairs.length; j += 2) {
        dl.append(el("dt", "", S[pairs[j]]), el("dd", "mono", S[pairs[j + 1]]));
      }
      return dl;
    }

    function findingRow(i) {
      const rule = data.rules[RULE[i]];
      const row = el("tr");
      row.dataset.rule = rule.id;
      const sev = el("td", "sev");
      sev.appendChild(badge(SEV[i]));
      const what = el("td", "rule");
      what.appendChild(el("code", "", rule.id));
      if (S[F.qualifier[i]]) {
        what.append(el("div", "small muted", "qualifier " + S[F.qualifier[i]]));
      }
      const message = el("td");
      message.appendChild(el("div", "message", S[F.message[i]]));
      const fix = F.remediation[i] > 0 ? S[F.remediation[i] - 1] : rule.remediation;
      if (fix) {
        message.appendChild(el("div", "fix", fix));
      }
      if (data.commands && F.command[i] > 0) {
        const command = el("details", "command");
        command.append(
          el("summary", "small", "the aliyun command (FC 2.0)"),
          el("pre", "mono small fix-command", data.commands[F.command[i] - 1])
        );
        message.appendChild(command);
      }
      const ev = el("td", "ev");
      ev.appendChild(evidence(F.evidence[i]));
      row.append(sev, what, message, ev);
      return row;
    }

    function functionCard(entry) {
      const fn = functions[entry[0]];
      const kept = entry[1];
      let worst = 0;
      for (const i of kept) {
        worst = Math.max(worst, SEV[i]);
      }
      const card = el("article", "fn sev-" + SEVERITIES[worst]);
      const head = el("h4");
      const target = el("span", "target");
      target.append(el("span", "name", S[fn[2]]), "/", el("span", "name", S[fn[3]]));
      head.append(badge(worst), target, el("span", "where", S[fn[0]] + " \u00b7 " + S[fn[1]]));
      head.appendChild(el("span", "count", kept.length === 1 ? "1 finding" : number(kept.length) + " findings"));
      const wrap = el("div", "table-wrap");
      const table = el("table", "findings");
      const body = el("tbody");
      for (const i of kept) {
        body.appendChild(findingRow(i));
      }
      table.appendChild(body);
      wrap.appendChild(table);
      card.append(head, wrap);
      return card;
    }

    let matched = 0;

    function show() {
      const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      const from = state.page * PAGE_SIZE;
      const slice = shown.slice(from, from + PAGE_SIZE);
      const fragment = document.createDocumentFragment();
      for (const entry of slice) {
        fragment.appendChild(functionCard(entry));
      }
      list.replaceChildren(fragment);
      let status;
      if (shown.length === 0) {
        status = "No finding matches.";
      } else {
        status =
          "Functions " + number(from + 1) + "\u2013" + number(from + slice.length) + " of " +
          number(shown.length) + " \u00b7 " + number(matched) + " of " + number(count) + " findings match";
      }
      if (!data.commands) {
        status += " (the aliyun command that fixes each finding is in --findings FILE, remediation.aliyun)";
      }
      if (!data.complete) {
        status += " (this page holds " + number(count) + " of the audit's " + number(data.total) + " findings)";
      }
      controls.status.textContent = status + ".";
      controls.page.textContent = "page " + number(state.page + 1) + " of " + number(pages);
      controls.pager.hidden = pages <= 1;
      for (const button of controls.pager.querySelectorAll("button")) {
        const where = button.dataset.page;
        button.disabled =
          ((where === "first" || where === "prev") && state.page === 0) ||
          ((where === "next" || where === "last") && state.page >= pages - 1);
      }
    }

    function update() {
      state.severities = new Set(
        Array.from(controls.severity.querySelectorAll("input:checked"), function (box) {
          return SEVERITIES.indexOf(box.value);
        })
      );
      state.rule = data.rules.findIndex(function (r) {
        return r.id === controls.rule.value;
      });
      if (controls.rule.value && state.rule < 0) {
        state.rule = data.rules.length; // a rule with no finding in this document: nothing matches
      }
      state.service = controls.service.value === "" ? -1 : Number(controls.service.value);
      state.text = controls.text.value.trim().toLowerCase();
      state.page = 0;
      matched = filter();
      show();
      list.dataset.findings = String(matched);
    }

    controls.severity.addEventListener("change", update);
    controls.rule.addEventListener("change", update);
    controls.service.addEventListener("change", update);
    let typing = 0;
    controls.text.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(update, 150);
    });
    controls.clear.addEventListener("click", function () {
      for (const box of controls.severity.querySelectorAll("input")) {
        box.checked = true;
      }
      controls.rule.value = "";
      controls.service.value = "";
      controls.text.value = "";
      update();
    });
    controls.pager.addEventListener("click", function (event) {
      const button = event.target.closest("button");
      if (!button) {
        return;
      }
      const where = button.dataset.page;
      const pages = Math.ceil(shown.length / PAGE_SIZE);
      state.page = where === "first" ? 0 : where === "prev" ? state.page - 1 : where === "next" ? state.page + 1 : pages - 1;
      show();
      document.getElementById("worklist").scrollIntoView();
    });
    for (const button of document.querySelectorAll("button[data-rule]")) {
      button.hidden = false;
      button.addEventListener("click", function () {
        controls.clear.click();
        controls.rule.value = button.dataset.rule;
        update();
        document.getElementById("worklist").scrollIntoView();
      });
    }
    for (const button of document.querySelectorAll("button[data-function]")) {
      button.hidden = false;
      button.addEventListener("click", function () {
        controls.clear.click();
        controls.text.value = button.dataset.function;
        update();
        document.getElementById("worklist").scrollIntoView();
      });
    }
    document.getElementById("wl-filters").hidden = false;
    update();
    document.documentElement.dataset.worklist = "ready";
  }

  const started = performance.now();
  worklist();
  // how long the worklist took to read its document and show its first page (docs/report.md)
  document.documentElement.dataset.worklistMs = String(Math.round(performance.now() - started));
  document.documentElement.dataset.script = "ready";
})();
