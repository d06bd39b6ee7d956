// The P&L page's charts: drawn once, then refreshed in place from the JSON endpoint.
(function () {
  "use strict";
  var root = document.getElementById("pnl-charts");
  if (!root || !window.Chart) return;
  var url = root.getAttribute("data-url");
  var every = parseInt(root.getAttribute("data-refresh-ms") || "5000", 10);
  var green = "rgba(25, 135, 84, 0.8)", blue = "rgba(13, 110, 253, 0.7)", red = "rgba(220, 53, 69, 0.75)";
  var rupees = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", maximumFractionDigits: 0 });
  var paise = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var clock = new Intl.DateTimeFormat("en-IN", { timeZone: "Asia/Kolkata", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  // Rupee ticks: whole rupees unless the ticks are closer than a rupee, and never "-₹0".
  function rupeeTick(v, i, ticks) {
    var step = ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : 1;
    if (Math.abs(v) < 1e-9) v = 0;
    return (step < 1 ? paise : rupees).format(v);
  }
  // An empty or all-zero chart gets a -₹100..₹100 axis instead of Chart.js's 0..1 (which read "₹1 ₹1 ₹0 -₹0").
  function isZero(v) { return v === null || v === undefined || (typeof v === "object" ? !v.y : !v); }
  function saneMoneyRange(scale) {
    var empty = scale.chart.data.datasets.every(function (ds) { return ds.data.every(isZero); });
    if (empty) { scale.min = -100; scale.max = 100; }
  }
  var moneyAxis = { ticks: { callback: rupeeTick }, afterDataLimits: saneMoneyRange };
  var moneyTooltip = { callbacks: { label: function (c) { return c.dataset.label + ": " + paise.format(c.parsed.y ?? c.parsed.x); } } };
  // A time axis to scale without a date adapter: a linear axis of epoch ms. Ticks are whole
  // multiples of the step from the epoch; IST is UTC+05:30, a multiple of every step here, so they
  // fall on whole IST minutes (longer spans: Chart.js skips ticks to fit).
  var STEPS_MIN = [1, 2, 5, 10, 15, 30];
  function timeAxis() {
    return {
      type: "linear",
      afterDataLimits: function (scale) {
        // The data's own span (Chart.js pads a single point by 5% of its value: years of epoch ms);
        // one point (only "now") shows the half hour before it.
        var xs = [];
        scale.chart.data.datasets.forEach(function (ds) { ds.data.forEach(function (p) { xs.push(p.x); }); });
        scale.max = xs.length ? Math.max.apply(null, xs) : Date.now();
        scale.min = xs.length ? Math.min.apply(null, xs) : scale.max;
        if (scale.max - scale.min < 60000) { scale.min = scale.max - 30 * 60000; }
        var span = (scale.max - scale.min) / 60000, step = STEPS_MIN[STEPS_MIN.length - 1];
        for (var i = 0; i < STEPS_MIN.length; i++) { if (span / STEPS_MIN[i] <= 8) { step = STEPS_MIN[i]; break; } }
        scale.options.ticks.stepSize = step * 60000;
      },
      ticks: { callback: function (v) { return clock.format(new Date(v)); }, maxRotation: 0 },
    };
  }

  function make(id, config) {
    var canvas = document.getElementById(id);
    return canvas ? new Chart(canvas, config) : null;
  }
  function barOptions(horizontal, stacked, money) {
    var valueAxis = money ? Object.assign({ stacked: stacked }, moneyAxis) : { stacked: stacked, suggestedMax: 100,
      ticks: { callback: function (v) { return v + "%"; } } };
    var scales = horizontal ? { x: valueAxis, y: { stacked: stacked } } : { x: { stacked: stacked }, y: valueAxis };
    return {
      indexAxis: horizontal ? "y" : "x", responsive: true, maintainAspectRatio: false, animation: false,
      scales: scales, plugins: { tooltip: money ? moneyTooltip : {} },
    };
  }

  var charts = {
    strategy: make("chart-by-strategy", { type: "bar", data: { labels: [], datasets: [
      { label: "Realised today", data: [], backgroundColor: green },
      { label: "Unrealised", data: [], backgroundColor: blue }] }, options: barOptions(false, true, true) }),
    account: make("chart-by-account", { type: "bar", data: { labels: [], datasets: [
      { label: "Realised today", data: [], backgroundColor: green },
      { label: "Unrealised", data: [], backgroundColor: blue }] }, options: barOptions(false, true, true) }),
    equity: make("chart-equity", { type: "line", data: { datasets: [
      { label: "Realised + unrealised", data: [], borderColor: blue, backgroundColor: blue, pointRadius: 0, borderWidth: 2 },
      { label: "Net of charges", data: [], borderColor: green, backgroundColor: green, pointRadius: 0, borderWidth: 1.5, borderDash: [4, 3] }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false, parsing: false,
        scales: { x: timeAxis(), y: moneyAxis },
        plugins: { tooltip: { callbacks: {
          title: function (items) { return items.length ? clock.format(new Date(items[0].parsed.x)) + " IST" : ""; },
          label: moneyTooltip.callbacks.label } } } } }),
    distribution: make("chart-distribution", { type: "bar", data: { labels: [], datasets: [
      { label: "Long value", data: [], backgroundColor: green },
      { label: "Short value", data: [], backgroundColor: red }] }, options: barOptions(true, true, true) }),
  };

  function set(chart, labels, series) {
    if (!chart) return;
    chart.data.labels = labels;
    series.forEach(function (values, i) { chart.data.datasets[i].data = values; });
    chart.update("none");
  }

  function draw(data) {
    set(charts.strategy, data.by_strategy.labels, [data.by_strategy.realised, data.by_strategy.unrealised]);
    set(charts.account, data.by_account.labels, [data.by_account.realised, data.by_account.unrealised]);
    if (charts.equity) {
      var points = data.equity.points;
      charts.equity.data.datasets[0].data = points.map(function (p) { return { x: p.t, y: p.equity }; });
      charts.equity.data.datasets[1].data = points.map(function (p) { return { x: p.t, y: p.net }; });
      charts.equity.update("none");
    }
    set(charts.distribution, data.distribution.labels, [data.distribution.long, data.distribution.short]);
    root.setAttribute("data-updated", data.generated_at);
  }

  function refresh() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("charts: HTTP " + r.status);
        return r.json();
      })
      .then(function (data) { draw(data); if (window.dashboardConnectionLost) window.dashboardConnectionLost(false); })
      .catch(function () { if (window.dashboardConnectionLost) window.dashboardConnectionLost(true); });
  }
  refresh();
  setInterval(refresh, every);
})();

// The risk page's chart: its figures come with each refresh of the risk table (json_script),
// so the chart and the table always show the same moment.
(function () {
  "use strict";
  var canvas = document.getElementById("chart-risk");
  if (!canvas || !window.Chart) return;
  var chart = new Chart(canvas, {
    type: "bar",
    data: { labels: [], datasets: [
      { label: "Daily loss used (% of limit)", data: [], backgroundColor: "rgba(220, 53, 69, 0.75)" },
      { label: "Exposure (% of allocated capital)", data: [], backgroundColor: "rgba(13, 110, 253, 0.7)" },
      { label: "Allocated (% of capital)", data: [], backgroundColor: "rgba(108, 117, 125, 0.6)" }] },
    options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
      scales: { x: { suggestedMax: 100, ticks: { callback: function (v) { return v + "%"; } } } } },
  });
  function draw() {
    var node = document.getElementById("risk-chart-data");
    if (!node) return;
    var data = JSON.parse(node.textContent);
    var box = document.getElementById("risk-chart-box");
    if (box) box.style.height = Math.max(260, 28 * data.labels.length + 80) + "px";
    chart.data.labels = data.labels;
    chart.data.datasets[0].data = data.loss_used_pct;
    chart.data.datasets[1].data = data.exposure_pct;
    chart.data.datasets[2].data = data.allocated_pct;
    chart.update("none");
  }
  draw();
  document.body.addEventListener("htmx:afterSwap", draw);
})();
