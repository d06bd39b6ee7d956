// The P&L page's charts: drawn once, then refreshed in place from the JSON endpoint.
(function () {
  "use strict";
  var root = document.getElementById("pnl-charts");
  if (!root || !window.Chart) return;
  var url = root.getAttribute("data-url");
  var every = parseInt(root.getAttribute("data-refresh-ms") || "5000", 10);
  var green = "rgba(25, 135, 84, 0.8)", blue = "rgba(13, 110, 253, 0.7)", red = "rgba(220, 53, 69, 0.75)";
  var rupees = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", maximumFractionDigits: 0 });
  var moneyAxis = { ticks: { callback: function (v) { return rupees.format(v); } } };
  var moneyTooltip = { callbacks: { label: function (c) { return c.dataset.label + ": " + rupees.format(c.parsed.y ?? c.parsed.x); } } };

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
    equity: make("chart-equity", { type: "line", data: { labels: [], datasets: [
      { label: "Realised P&L (cumulative)", data: [], borderColor: green, backgroundColor: green, stepped: true, pointRadius: 0 },
      { label: "Now, with unrealised", data: [], borderColor: blue, backgroundColor: blue, pointRadius: 5, showLine: false }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: moneyAxis },
        plugins: { tooltip: moneyTooltip } } }),
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
    var e = data.equity, marker = e.labels.map(function (_, i) { return i === e.labels.length - 1 ? e.equity_now : null; });
    set(charts.equity, e.labels, [e.realised, marker]);
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
