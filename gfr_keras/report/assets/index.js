/* The index: every cell in a sortable, filterable table, and summary figures
 * that follow the filter. Data: window.GFR_INDEX (columns, one value per cell),
 * so filtering is a loop over arrays and only one page of rows is in the DOM. */
(function () {
  "use strict";
  var D = window.GFR_INDEX, P = window.GFRPlot, C = D.configurations, N = D.cell_id.length;
  var PAGE_ROWS = 50, EVR_RANGE = [-0.2, 1.0], EVR_BINS = 24, PARAM_BINS = 20;
  var state = { species: -1, cre: -1, configuration: -1, evrKind: "test_evr", evrMin: null, evrMax: null,
                passing: false, sortKey: "cell_id", sortConfiguration: -1, sortDir: 1, page: 0 };
  var matched = [];
  var $ = function (id) { return document.getElementById(id); };
  var label = function (c) { return "(" + c.bin_size + ", " + c.actv_bin_size + ")"; };
  var allConfigurations = C.map(function (_, k) { return k; });

  function matches(i) {
    if (state.species >= 0 && D.species[i] !== state.species) return false;
    if (state.cre >= 0 && D.cre_line[i] !== state.cre) return false;
    var shown = state.configuration >= 0 ? [state.configuration] : allConfigurations;
    for (var j = 0; j < shown.length; j++) {
      var c = C[shown[j]];
      if (c.passes[i] === null) continue;  // no record at this configuration
      var v = c[state.evrKind][i];
      if (state.evrMin !== null && !(v !== null && v >= state.evrMin)) continue;
      if (state.evrMax !== null && !(v !== null && v <= state.evrMax)) continue;
      if (state.passing && !c.passes[i]) continue;
      return true;
    }
    return false;
  }

  function sortValue(i) {
    if (state.sortKey === "cell_id") return D.cell_id[i];
    if (state.sortKey === "species") return D.species_names[D.species[i]];
    if (state.sortKey === "cre_line") return D.cre_line_names[D.cre_line[i]];
    return C[state.sortConfiguration][state.sortKey][i];
  }

  function sortMatched() {
    var values = {};
    matched.forEach(function (i) { values[i] = sortValue(i); });
    matched.sort(function (a, b) {
      var va = values[a], vb = values[b];
      if (va === null || vb === null) return va === null ? (vb === null ? 0 : 1) : -1;  // missing last
      if (va < vb) return -state.sortDir;
      if (va > vb) return state.sortDir;
      return D.cell_id[a] - D.cell_id[b];
    });
  }

  // Every string from the data reaches the page as text (GFRPlot.node: textContent), never as markup.
  var node = P.node;

  function evrCell(row, v) { node("td", { class: "num" }, row, v === null ? "–" : v.toFixed(3)); }

  function passCell(row, passes) {
    if (passes === null) node("td", { class: "none" }, row);
    else node("td", { class: passes ? "pass" : "fail" }, row, passes ? "pass" : "fail");
  }

  function renderRows() {
    var pages = Math.max(1, Math.ceil(matched.length / PAGE_ROWS));
    state.page = Math.min(state.page, pages - 1);
    var rows = document.createDocumentFragment();
    matched.slice(state.page * PAGE_ROWS, (state.page + 1) * PAGE_ROWS).forEach(function (i) {
      var id = D.cell_id[i], row = node("tr", { "data-cell": String(id) }, rows);
      node("a", { href: "cells/" + encodeURIComponent(String(id)) + ".html" }, node("td", {}, row), String(id));
      node("td", {}, row, D.species_names[D.species[i]]);
      node("td", {}, row, D.cre_line_names[D.cre_line[i]] || "–");
      C.forEach(function (c) {
        evrCell(row, c.val_evr[i]);
        evrCell(row, c.test_evr[i]);
        passCell(row, c.passes[i]);
      });
    });
    $("rows").replaceChildren(rows);
    $("count").textContent = matched.length + " of " + N + " cells match";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    document.querySelectorAll("th[data-sort]").forEach(function (th) {
      var on = th.dataset.sort === state.sortKey && Number(th.dataset.config || -1) === state.sortConfiguration;
      th.setAttribute("aria-sort", on ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    });
  }

  function figure(id, spec) {
    var box = $(id);
    box.textContent = "";
    spec.id = id;
    P.chart(box, spec);
  }

  function renderFigures() {
    var kindName = state.evrKind === "test_evr" ? "test EVR (Noise 2)" : "validation EVR (Noise 1)";
    figure("fig-evr", { title: kindName + " per configuration", xName: kindName.split(" (")[0], xUnit: "ratio",
      yName: "cells", yUnit: "count", yMin: 0, series: C.map(function (c) {
        var h = P.histogram(matched.map(function (i) { return c[state.evrKind][i]; }), EVR_RANGE[0], EVR_RANGE[1], EVR_BINS);
        return { name: label(c), type: "line", x: h.x.map(function (x) { return x + h.width / 2; }), y: h.y };
      }) });
    var shown = state.configuration >= 0 ? [state.configuration] : allConfigurations;
    [["threshold_pa", "threshold b", "pA"], ["max_current_pa", "max current σ", "pA"], ["max_rate_hz", "max rate γ", "Hz"]].forEach(function (p) {
      var values = [], all = [];
      shown.forEach(function (k) {
        C[k][p[0]].forEach(function (v, i) { if (v !== null) all.push(v); });
        matched.forEach(function (i) { if (C[k][p[0]][i] !== null) values.push(C[k][p[0]][i]); });
      });
      var lo = Math.min.apply(null, all.length ? all : [0]), hi = Math.max.apply(null, all.length ? all : [1]);
      var h = P.histogram(values, lo, hi > lo ? hi : lo + 1, PARAM_BINS);
      figure("fig-" + p[0], { title: p[1] + (state.configuration >= 0 ? " at " + label(C[state.configuration]) : ", all configurations"),
        xName: p[1], xUnit: p[2], yName: "cells", yUnit: "count", yMin: 0,
        series: [{ name: "", type: "bars", x: h.x, y: h.y, width: h.width }] });
    });
    var fractions = C.map(function (c) {
      var n = 0, kept = 0;
      matched.forEach(function (i) { if (c.passes[i] !== null) { n += 1; kept += c.passes[i]; } });
      return n ? (100 * kept) / n : null;
    });
    figure("fig-passing", { title: "cells passing the published filters", categories: C.map(label),
      xName: "configuration (bin, activation bin)", xUnit: "ms", yName: "passing", yUnit: "%", yMin: 0,
      series: [{ name: "", type: "bars", x: C.map(function (_, k) { return k; }), y: fractions, width: 1 }] });
  }

  function apply() {
    var started = performance.now();
    matched = [];
    for (var i = 0; i < N; i++) if (matches(i)) matched.push(i);
    sortMatched();
    renderRows();
    renderFigures();
    void document.body.offsetHeight;  // include layout in the measured time
    window.GFR_LAST_FILTER_MS = performance.now() - started;
    $("timing").textContent = "filtered in " + window.GFR_LAST_FILTER_MS.toFixed(0) + " ms";
  }

  function number(id) { var v = $(id).value.trim(); return v === "" || isNaN(Number(v)) ? null : Number(v); }

  function readControls() {
    state.species = Number($("species").value);
    state.cre = Number($("cre").value);
    state.configuration = Number($("config").value);
    state.evrKind = $("evr-kind").value;
    state.evrMin = number("evr-min");
    state.evrMax = number("evr-max");
    state.passing = $("passing").checked;
    state.page = 0;
    apply();
  }

  function options(select, names, allText) {
    select.textContent = "";
    node("option", { value: "-1" }, select, allText);
    names.forEach(function (name, k) { node("option", { value: String(k) }, select, name === "" ? "(none)" : name); });
  }

  function header() {
    var head = $("head"), top = node("tr", {}, head), sub = node("tr", {}, head);
    node("th", { rowspan: "2", "data-sort": "cell_id" }, top, "cell");
    node("th", { rowspan: "2", "data-sort": "species" }, top, "species");
    node("th", { rowspan: "2", "data-sort": "cre_line" }, top, "cre line");
    C.forEach(function (c, k) {
      node("th", { colspan: "3", class: "group" }, top, label(c) + " ms");
      node("th", { "data-sort": "val_evr", "data-config": String(k) }, sub, "val EVR");
      node("th", { "data-sort": "test_evr", "data-config": String(k) }, sub, "test EVR");
      node("th", { "data-sort": "passes", "data-config": String(k) }, sub, "filters");
    });
    document.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.sort, configuration = Number(th.dataset.config || -1);
        var same = key === state.sortKey && configuration === state.sortConfiguration;
        state.sortDir = same ? -state.sortDir : key === "cell_id" || key === "species" || key === "cre_line" ? 1 : -1;
        state.sortKey = key; state.sortConfiguration = configuration; state.page = 0;
        apply();
      });
    });
  }

  function init() {
    document.title = "GFR dataset explorer: " + D.dataset;
    $("dataset").textContent = D.dataset;
    $("provenance").textContent = "What it is: " + D.provenance;
    $("filters-text").textContent = "val EVR > " + D.filters.min_val_evr + " and train loss < " + D.filters.max_train_loss;
    options($("species"), D.species_names, "all species");
    options($("cre"), D.cre_line_names, "all cre lines");
    options($("config"), C.map(function (c) { return label(c) + " ms"; }), "any configuration");
    header();
    $("controls").addEventListener("submit", function (event) { event.preventDefault(); });
    ["species", "cre", "config", "evr-kind", "passing"].forEach(function (id) { $(id).addEventListener("change", readControls); });
    ["evr-min", "evr-max"].forEach(function (id) { $(id).addEventListener("input", readControls); });
    $("clear").addEventListener("click", function () { $("controls").reset(); readControls(); });
    $("prev").addEventListener("click", function () { state.page -= 1; renderRows(); });
    $("next").addEventListener("click", function () { state.page += 1; renderRows(); });
    apply();
  }

  window.GFRIndex = { apply: apply, readControls: readControls, state: state,
    matchedIds: function () { return matched.map(function (i) { return D.cell_id[i]; }); } };
  init();
})();
