// The price chart page: candles, the strategy's lines, its signals and each account's fills,
// drawn with TradingView's Lightweight Charts (static/vendor) from the page's JSON endpoint and
// refreshed in place.
(function () {
  "use strict";
  var root = document.getElementById("price-chart");
  if (!root || !window.LightweightCharts) return;
  var LC = window.LightweightCharts;
  var url = root.getAttribute("data-url");
  var every = parseInt(root.getAttribute("data-refresh-ms") || "10000", 10);
  // Lightweight Charts shows its time axis in UTC; bars are shifted by IST's offset so the axis
  // and the crosshair read India time. Only what is drawn is shifted, never the data.
  var IST = 19800;
  var LINE_COLORS = ["#fd7e14", "#6f42c1", "#20c997", "#0dcaf0", "#d63384"];
  var ACCOUNT_COLORS = ["#0d6efd", "#198754", "#dc3545", "#6610f2", "#b8860b", "#0aa2c0", "#ad1457", "#495057"];
  var TARGET = { "1": ["LONG", "arrowUp", "belowBar", "#198754"], "0": ["FLAT", "circle", "aboveBar", "#6c757d"],
    "-1": ["SHORT", "arrowDown", "aboveBar", "#dc3545"] };

  var chart = LC.createChart(root, {
    autoSize: true,
    layout: { textColor: "#212529", background: { color: "#ffffff" } },
    grid: { vertLines: { color: "#eef0f2" }, horzLines: { color: "#eef0f2" } },
    timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 3 },
    rightPriceScale: { borderColor: "#dee2e6" },
    localization: { locale: "en-IN" },
  });
  var candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: "#198754", downColor: "#dc3545", borderVisible: false, wickUpColor: "#198754", wickDownColor: "#dc3545",
  });
  var markers = LC.createSeriesMarkers(candles, []);
  var lines = {};
  var fitted = false;

  function shift(t) { return t + IST; }

  // Pane 0 is the candles' (lines at the price's level); pane 1, below, holds oscillators and
  // distances (RSI, ATR), each on a scale of its own (an RSI of 30 would flatten an ATR of 0.4).
  function lineFor(name, i, pane) {
    if (!lines[name]) {
      var stop = name === "stop";
      lines[name] = chart.addSeries(LC.LineSeries, {
        color: stop ? "#dc3545" : LINE_COLORS[i % LINE_COLORS.length], lineWidth: stop ? 1 : 2,
        lineStyle: stop ? LC.LineStyle.Dashed : LC.LineStyle.Solid, title: name,
        priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
        priceScaleId: pane ? "indicator-" + name : "right",
      }, pane || 0);
      if (pane && chart.panes().length > 1) chart.panes()[1].setStretchFactor(0.25);
    }
    return lines[name];
  }

  function accountColors(fills) {
    var colors = {}, n = 0;
    fills.forEach(function (f) { if (!(f.account in colors)) colors[f.account] = ACCOUNT_COLORS[n++ % ACCOUNT_COLORS.length]; });
    return colors;
  }

  function legend(data, colors) {
    var box = document.getElementById("price-chart-legend");
    if (!box) return;
    box.replaceChildren();
    function item(color, text, dashed) {
      var span = document.createElement("span");
      span.className = "me-3 text-nowrap";
      var swatch = document.createElement("span");
      swatch.className = "legend-swatch" + (dashed ? " dashed" : "");
      swatch.style.borderColor = color;
      span.append(swatch, document.createTextNode(text));
      box.append(span);
    }
    data.lines.forEach(function (l, i) { item(l.name === "stop" ? "#dc3545" : LINE_COLORS[i % LINE_COLORS.length], l.name, l.name === "stop"); });
    Object.keys(colors).forEach(function (name) { item(colors[name], name + " fills"); });
  }

  function draw(data) {
    candles.setData(data.candles.map(function (c) {
      return { time: shift(c.time), open: c.open, high: c.high, low: c.low, close: c.close };
    }));
    var seen = {};
    data.lines.forEach(function (l, i) {
      seen[l.name] = true;
      // A point without a value is whitespace: the line breaks there.
      lineFor(l.name, i, l.pane).setData(l.points.map(function (p) {
        return p.value === null ? { time: shift(p.time) } : { time: shift(p.time), value: p.value };
      }));
    });
    Object.keys(lines).forEach(function (name) { if (!seen[name]) lines[name].setData([]); });
    var colors = accountColors(data.fills);
    var all = data.signals.map(function (s) {
      var t = TARGET[String(s.target)];
      return { time: shift(s.time), position: t[2], shape: t[1], color: t[3], text: t[0], id: "signal-" + s.id };
    }).concat(data.fills.map(function (f) {
      return { time: shift(f.time), position: "atPriceMiddle", price: f.price, shape: "square", size: 0.6,
        color: colors[f.account], text: (f.side === "BUY" ? "B " : "S ") + f.quantity,
        id: "fill-" + f.account_id + "-" + f.side + "-" + f.time };
    }));
    all.sort(function (a, b) { return a.time - b.time; });
    markers.setMarkers(all);
    legend(data, colors);
    var empty = document.getElementById("price-chart-message");
    if (empty) { empty.textContent = data.message || ""; empty.classList.toggle("d-none", !data.message); }
    if (!fitted && data.candles.length) { chart.timeScale().fitContent(); fitted = true; }
    root.setAttribute("data-candles", String(data.candles.length));
    root.setAttribute("data-markers", String(all.length));
    root.setAttribute("data-updated", data.generated_at);
  }

  function refresh() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("price chart: HTTP " + r.status);
        return r.json();
      })
      .then(function (data) { draw(data); if (window.dashboardConnectionLost) window.dashboardConnectionLost(false); })
      .catch(function () { if (window.dashboardConnectionLost) window.dashboardConnectionLost(true); });
  }
  refresh();
  setInterval(refresh, every);

  // Choosing a timeframe or a strategy shows it at once (the Show button does the same without JS).
  var controls = document.getElementById("chart-controls");
  if (controls) controls.addEventListener("change", function () { controls.submit(); });
})();
