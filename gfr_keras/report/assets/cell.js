/* One cell's page: metadata, then per configuration its activation with the
 * f-I points, alpha/beta kernels over time, Noise 2 prediction against the
 * recorded PSTH, the parameter table, and the record to download and load.
 * Data: window.GFR_CELL, written by `gfr report` (file:// forbids fetching JSON). */
(function () {
  "use strict";
  var D = window.GFR_CELL, P = window.GFRPlot, root = document.getElementById("cell");
  var GREY = "#9a9a9a";

  var node = P.node;  // data strings reach the page as text (textContent), never as markup
  // Only http(s) addresses become links: a `javascript:` or `data:` string stays text.
  function isWebUrl(text) { return typeof text === "string" && /^https?:\/\//i.test(text); }
  function num(v) { return v === null || v === undefined ? "–" : String(Number(Number(v).toPrecision(6))); }
  function key(c) { return c.bin_size + "_" + c.actv_bin_size; }

  function metadata() {
    document.title = "GFR cell " + D.cell_id;
    var dl = node("dl", { class: "meta" }, root);
    [["species", D.species], ["cre line", D.cre_line || "(none)"], ["dataset", D.dataset], ["what the dataset is", D.provenance],
     ["configurations", D.configurations.map(function (c) { return "(" + c.bin_size + ", " + c.actv_bin_size + ") ms"; }).join(", ")]]
      .forEach(function (item) { node("dt", {}, dl, item[0]); node("dd", {}, dl, item[1]); });
    node("dt", {}, dl, "Allen Cell Types");
    var allen = node("dd", {}, dl);
    if (isWebUrl(D.allen_url)) node("a", { href: D.allen_url, id: "allen-link", rel: "external" }, allen, D.allen_url);
    else allen.textContent = D.allen_url;
    node("dt", {}, dl, "recordings");
    node("dd", { id: "recordings" }, dl, D.has_recordings ? "processed recordings given (" + D.processed_file + ")" : "no recordings given");
    var all = node("button", { type: "button", id: "download-all" }, root, "download all records of this cell (JSON)");
    all.addEventListener("click", function () { download(D.configurations.map(function (c) { return c.record; }), "gfr_cell_" + D.cell_id + ".json"); });
  }

  function download(object, filename) {
    var url = URL.createObjectURL(new Blob([JSON.stringify(object, null, 1)], { type: "application/json" }));
    var a = node("a", { href: url, download: filename }, document.body);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function chart(panels, id, spec, wide) {
    var box = node("div", { id: id, class: wide ? "wide" : "" }, panels);
    spec.id = id;
    P.chart(box, spec);
  }

  function figures(section, c) {
    var k = key(c), panels = node("div", { class: "panels" }, section);
    var gSeries = [{ name: "fitted g(I)", type: "line", x: c.activation.current_pa, y: c.activation.rate_hz }];
    if (c.fi) gSeries.push({ name: "Long Square onset bins (" + c.actv_bin_size + " ms)", type: "points", x: c.fi.current_pa, y: c.fi.rate_hz });
    chart(panels, "g-" + k, { title: "activation g(I)" + (c.fi ? " and f-I points" : ""), xName: "current I", xUnit: "pA",
      yName: "rate", yUnit: "Hz", series: gSeries });
    chart(panels, "alpha-" + k, { title: "alpha kernel: input current", xName: "lag", xUnit: "ms",
      yName: "alpha(t)", yUnit: "pA/pA", series: [{ name: "", type: "line", x: c.kernels.lag_ms, y: c.kernels.alpha }] });
    chart(panels, "beta-" + k, { title: "beta kernel: own rate history", xName: "lag", xUnit: "ms",
      yName: "beta(t)", yUnit: "pA/Hz", series: [{ name: "", type: "line", x: c.kernels.lag_ms, y: c.kernels.beta_pa_per_hz, color: "#d62728" }] });
    if (!c.noise) {
      node("p", { class: "no-recordings wide" }, panels, D.has_recordings ? "Noise 2: the recordings hold no Noise 2 sweeps at " + c.bin_size + " ms" : "Noise 2: no recordings given");
      return;
    }
    var n = c.noise, series = n.repeats_hz.map(function (y, r) {
      return { name: r === 0 ? "recorded repeats" : "", type: "line", x: n.time_s, y: y, color: GREY, lineWidth: 0.7, opacity: 0.7 };
    });
    series.push({ name: "recorded PSTH", type: "line", x: n.time_s, y: n.psth_hz, color: "#111" });
    series.push({ name: "GFR prediction", type: "line", x: n.time_s, y: n.predicted_hz, color: "#d62728" });
    chart(panels, "noise-" + k, { title: "Noise 2: prediction EVR " + num(n.evr) + " (record's test EVR " + num(c.record.test_evr) + ")",
      xName: "time", xUnit: "s", yName: "rate", yUnit: "Hz", width: 960, series: series }, true);
  }

  function paramTable(section, c) {
    var p = c.record.params, g = p.g, table = node("table", { class: "params", id: "params-" + key(c) }, section);
    var head = node("tr", {}, node("thead", {}, table));
    ["trace", "time constant (ms)", "decay rate λ", "alpha (pA/pA)", "beta (pA/Hz)"].forEach(function (h) { node("th", {}, head, h); });
    var body = node("tbody", {}, table);
    p.ds.forEach(function (lam, i) {
      var row = node("tr", {}, body), tau = lam >= 1 ? "0 (instantaneous)" : num(-c.bin_size / Math.log(1 - lam));
      [String(i), tau, num(lam), num(p.a[0][i]), num(p.b[0][i])].forEach(function (v) { node("td", {}, row, v); });
    });
    var gTable = node("table", { class: "params", id: "g-params-" + key(c) }, section);
    [["threshold b (pA)", g.b[0], "threshold"], ["max current σ (pA)", g.max_current[0], "max_current"],
     ["max rate γ (1/ms)", g.max_firing_rate[0], "max_firing_rate"]]
      .concat(g.poly_coeff[0].map(function (v, i) { return ["polynomial coefficient c" + i + " (squared in g)", v, "c" + i]; }))
      .forEach(function (item) {
        var row = node("tr", {}, gTable);
        node("th", {}, row, item[0]);
        node("td", { "data-field": item[2] }, row, num(item[1]));
      });
  }

  function loading(section, c) {
    var button = node("button", { type: "button", class: "download" }, section, "download this record (JSON)");
    var filename = "gfr_cell_" + D.cell_id + "_" + key(c) + ".json";
    button.addEventListener("click", function () { download(c.record, filename); });
    var args = "cell_id=" + D.cell_id + ", bin_size_ms=" + c.bin_size + ", activation_bin_size_ms=" + c.actv_bin_size;
    var snippet = c.in_dataset
      ? "import gfr_keras as gk\nneuron = gk.load_gfr_model(" + D.dataset_snippet + ", " + args + ")"
      : "import json, gfr_keras as gk\nneuron = gk.load_gfr_model([json.load(open(\"" + filename + "\"))], " + args + ")";
    node("pre", { class: "snippet" }, section, snippet);
  }

  function configuration(c) {
    var section = node("section", { class: "config", id: "config-" + key(c) }, root);
    node("h2", {}, section, "(" + c.bin_size + ", " + c.actv_bin_size + ") ms: model bin " + c.bin_size + " ms, activation bin " + c.actv_bin_size + " ms");
    var r = c.record, evr = node("p", { class: "evr" }, section);
    [["validation EVR (Noise 1) ", "b", "val_evr", num(r.val_evr)], [" · test EVR (Noise 2) ", "b", "test_evr", num(r.test_evr)],
     [" · train loss ", "span", "train_loss", num(r.train_loss)], [" · test loss ", "span", "test_loss", num(r.test_loss)],
     [" · published filters: ", "b", "passes", c.passes ? "pass" : "fail"]].forEach(function (item) {
      evr.appendChild(document.createTextNode(item[0]));
      node(item[1], { "data-field": item[2] }, evr, item[3]);
    });
    if (!c.in_dataset) evr.appendChild(document.createTextNode(" · not in the dataset (from --fits)"));
    figures(section, c);
    paramTable(section, c);
    loading(section, c);
  }

  metadata();
  D.configurations.forEach(configuration);
})();
