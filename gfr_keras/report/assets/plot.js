/* GFR report plots: SVG line, point and bar charts with units on both axes,
 * hover values, wheel zoom (x; shift+wheel: y), drag to pan, double-click to
 * reset. No dependencies, nothing loaded from a network: the site opens from
 * file://. Every chart's data stays in window.GFR_PLOTS[id] so tests (and
 * curious users) can read what was drawn. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W0 = 480, H = 300, M = { left: 64, right: 14, top: 50, bottom: 44 };
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"];
  var registry = (window.GFR_PLOTS = window.GFR_PLOTS || {});

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    var size = Math.abs(value);
    if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(2);
    return String(parseFloat(value.toPrecision(4)));
  }

  function niceTicks(lo, hi, count, integer) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = (count * step) / span;
    if (err <= 0.15) step *= 10; else if (err <= 0.35) step *= 5; else if (err <= 0.75) step *= 2;
    if (integer && step < 1) step = 1;  // counts of cells: no 2.5 cells on an axis
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return ticks;
  }

  function extent(spec) {
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    spec.series.forEach(function (s) {
      for (var i = 0; i < s.x.length; i++) {
        var x = s.x[i], y = s.y[i];
        if (x === null || y === null || !isFinite(x) || !isFinite(y)) continue;
        var xr = s.type === "bars" ? x + s.width : x;
        if (x < x0) x0 = x; if (xr > x1) x1 = xr;
        if (y < y0) y0 = y; if (y > y1) y1 = y;
        if (s.type === "bars") { if (0 < y0) y0 = 0; }
      }
    });
    if (!isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (spec.yMin !== undefined) y0 = Math.min(y0, spec.yMin);
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    var pad = 0.05 * (y1 - y0);
    return { x0: x0, x1: x1, y0: spec.yMin === 0 && y0 === 0 ? 0 : y0 - pad, y1: y1 + pad };
  }

  function chart(container, spec) {
    var W = spec.width || W0;  // wide charts get a wider canvas, not bigger letters
    spec.xLabel = spec.xLabel || spec.xName + " (" + spec.xUnit + ")";
    spec.yLabel = spec.yLabel || spec.yName + " (" + spec.yUnit + ")";
    registry[spec.id] = spec;
    container.classList.add("chart");
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "plot", role: "img", "aria-label": spec.title, "data-plot": spec.id }, container);
    var clipId = "clip-" + spec.id.replace(/[^\w-]/g, "_");
    el("rect", { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom }, el("clipPath", { id: clipId }, el("defs", {}, svg)));
    var axes = el("g", { class: "axes" }, svg);
    var layer = el("g", { class: "data", "clip-path": "url(#" + clipId + ")" }, svg);
    var hover = el("g", { class: "hover" }, svg);
    var tip = document.createElement("div");
    tip.className = "tooltip";
    container.appendChild(tip);
    var full = extent(spec), view = Object.assign({}, full);
    var sx = function (x) { return M.left + ((x - view.x0) / (view.x1 - view.x0)) * (W - M.left - M.right); };
    var sy = function (y) { return H - M.bottom - ((y - view.y0) / (view.y1 - view.y0)) * (H - M.top - M.bottom); };

    function drawAxes() {
      axes.textContent = "";
      el("text", { x: M.left, y: 14, class: "title" }, axes).textContent = spec.title;
      var xTicks = spec.categories ? spec.categories.map(function (_, k) { return k + 0.5; }) : niceTicks(view.x0, view.x1, 6);
      xTicks.forEach(function (t) {
        el("line", { x1: sx(t), x2: sx(t), y1: M.top, y2: H - M.bottom, class: "grid" }, axes);
        var label = spec.categories ? spec.categories[Math.floor(t)] : fmt(t);
        el("text", { x: sx(t), y: H - M.bottom + 14, class: "tick", "text-anchor": "middle" }, axes).textContent = label;
      });
      niceTicks(view.y0, view.y1, 5, spec.yUnit === "count").forEach(function (t) {
        el("line", { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), class: "grid" }, axes);
        el("text", { x: M.left - 5, y: sy(t) + 3, class: "tick", "text-anchor": "end" }, axes).textContent = fmt(t);
      });
      el("rect", { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom, class: "frame" }, axes);
      el("text", { x: (M.left + W - M.right) / 2, y: H - 8, class: "label", "text-anchor": "middle" }, axes).textContent = spec.xLabel;
      el("text", { x: 14, y: (M.top + H - M.bottom) / 2, class: "label", "text-anchor": "middle", transform: "rotate(-90 14 " + (M.top + H - M.bottom) / 2 + ")" }, axes).textContent = spec.yLabel;
      var lx = M.left, ly = 22;
      spec.series.forEach(function (s, i) {
        if (!s.name) return;
        var color = s.color || COLORS[i % COLORS.length], width = 22 + 6 * s.name.length;
        if (lx + width > W - M.right && lx > M.left) { lx = M.left; ly += 12; }  // wrap the legend
        el("rect", { x: lx, y: ly, width: 10, height: 8, fill: color }, axes);
        el("text", { x: lx + 13, y: ly + 8, class: "legend" }, axes).textContent = s.name;
        lx += width;
      });
    }

    function drawData() {
      layer.textContent = "";
      spec.series.forEach(function (s, i) {
        var color = s.color || COLORS[i % COLORS.length];
        if (s.type === "points" || s.type === "bars") {
          for (var k = 0; k < s.x.length; k++) {
            if (s.y[k] === null || s.x[k] === null) continue;
            if (s.type === "points") el("circle", { cx: sx(s.x[k]), cy: sy(s.y[k]), r: 3.5, fill: color, "fill-opacity": 0.8 }, layer);
            else el("rect", { x: sx(s.x[k]) + 0.5, y: Math.min(sy(s.y[k]), sy(0)), width: Math.max(0.5, sx(s.x[k] + s.width) - sx(s.x[k]) - 1), height: Math.abs(sy(0) - sy(s.y[k])), fill: color, "fill-opacity": s.opacity || 0.75 }, layer);
          }
          return;
        }
        var d = "", pen = "M";
        for (var j = 0; j < s.x.length; j++) {
          if (s.y[j] === null || !isFinite(s.y[j])) { pen = "M"; continue; }
          d += pen + sx(s.x[j]).toFixed(1) + "," + sy(s.y[j]).toFixed(1);
          pen = "L";
        }
        el("path", { d: d, fill: "none", stroke: color, "stroke-width": s.lineWidth || 1.6, "stroke-opacity": s.opacity || 1, "stroke-dasharray": s.dash || "none" }, layer);
      });
    }

    function redraw() { drawAxes(); drawData(); }

    function toView(event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      return point.matrixTransform(svg.getScreenCTM().inverse());
    }

    function nearest(p) {
      var best = null, bestDistance = 400;  // within 20 viewBox units
      spec.series.forEach(function (s, i) {
        for (var k = 0; k < s.x.length; k++) {
          if (s.y[k] === null || s.x[k] === null) continue;
          var cx = s.type === "bars" ? sx(s.x[k] + s.width / 2) : sx(s.x[k]);
          var distance = Math.pow(cx - p.x, 2) + (s.type === "bars" ? 0 : Math.pow(sy(s.y[k]) - p.y, 2));
          if (distance < bestDistance) { bestDistance = distance; best = { s: s, k: k, i: i, cx: cx }; }
        }
      });
      return best;
    }

    svg.addEventListener("mousemove", function (event) {
      var p = toView(event);
      hover.textContent = "";
      if (drag) {
        var dx = ((p.x - drag.x) / (W - M.left - M.right)) * (drag.view.x1 - drag.view.x0);
        var dy = ((p.y - drag.y) / (H - M.top - M.bottom)) * (drag.view.y1 - drag.view.y0);
        view = { x0: drag.view.x0 - dx, x1: drag.view.x1 - dx, y0: drag.view.y0 + dy, y1: drag.view.y1 + dy };
        redraw();
        return;
      }
      var hit = nearest(p);
      if (!hit) { tip.style.display = "none"; return; }
      var color = hit.s.color || COLORS[hit.i % COLORS.length];
      el("circle", { cx: hit.cx, cy: sy(hit.s.y[hit.k]), r: 5, fill: "none", stroke: color, "stroke-width": 2 }, hover);
      var xText = spec.categories ? spec.categories[hit.s.x[hit.k]] : hit.s.type === "bars" ? fmt(hit.s.x[hit.k]) + "–" + fmt(hit.s.x[hit.k] + hit.s.width) : fmt(hit.s.x[hit.k]);
      tip.textContent = (hit.s.name ? hit.s.name + ": " : "") + spec.xName + " " + xText + " " + spec.xUnit + ", " + spec.yName + " " + fmt(hit.s.y[hit.k]) + " " + spec.yUnit;
      tip.style.display = "block";
      tip.style.left = Math.min(70, (100 * hit.cx) / W) + "%";
      tip.style.top = (100 * sy(hit.s.y[hit.k])) / H + "%";
    });
    svg.addEventListener("mouseleave", function () { hover.textContent = ""; tip.style.display = "none"; drag = null; });
    var drag = null;
    svg.addEventListener("mousedown", function (event) { var p = toView(event); drag = { x: p.x, y: p.y, view: Object.assign({}, view) }; event.preventDefault(); });
    window.addEventListener("mouseup", function () { drag = null; });
    svg.addEventListener("dblclick", function () { view = Object.assign({}, full); redraw(); });
    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      var p = toView(event), factor = event.deltaY > 0 ? 1.25 : 0.8;
      if (event.shiftKey) {
        var y = view.y0 + ((H - M.bottom - p.y) / (H - M.top - M.bottom)) * (view.y1 - view.y0);
        view.y0 = y - (y - view.y0) * factor; view.y1 = y + (view.y1 - y) * factor;
      } else {
        var x = view.x0 + ((p.x - M.left) / (W - M.left - M.right)) * (view.x1 - view.x0);
        view.x0 = x - (x - view.x0) * factor; view.x1 = x + (view.x1 - x) * factor;
      }
      redraw();
    }, { passive: false });
    redraw();
    return svg;
  }

  /* Counts of `values` in `bins` equal bins over [lo, hi]; values outside are clipped in. */
  function histogram(values, lo, hi, bins) {
    var width = (hi - lo) / bins, counts = new Array(bins).fill(0), edges = [];
    for (var b = 0; b < bins; b++) edges.push(lo + b * width);
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v === null || !isFinite(v)) continue;
      counts[Math.max(0, Math.min(bins - 1, Math.floor((v - lo) / width)))] += 1;
    }
    return { x: edges, y: counts, width: width };
  }

  // An element with attributes and text, appended to `parent`: the pages' one way to put a data
  // string on the page (textContent: never parsed as markup).
  function node(tag, attrs, parent, text) {
    var n = document.createElement(tag);
    for (var key in attrs || {}) n.setAttribute(key, attrs[key]);
    if (text !== undefined) n.textContent = text;
    if (parent) parent.appendChild(n);
    return n;
  }

  window.GFRPlot = { chart: chart, histogram: histogram, fmt: fmt, COLORS: COLORS, node: node };
})();
