/* riskloop console: progressive enhancement only; every page works without it. */
(function () {
  "use strict";
  // Scripts run: a diagram's source waits hidden until it is drawn (see console.css).
  document.documentElement.classList.add("js");

  document.addEventListener("htmx:beforeSwap", function (e) {
    // Show the console's own error fragments (403/404/409/422) instead of ignoring them.
    var status = e.detail.xhr.status;
    if (status >= 400 && status < 600) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // Large libraries load only on pages that need them (boosted navigation keeps <head>).
  var loading = {};
  function needScript(src, ready, failed) {
    if (!loading[src]) {
      loading[src] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    loading[src].then(ready, function () {
      console.warn("could not load " + src);
      if (failed) { failed(); }
    });
  }

  function renderDiagrams(root) {
    var nodes = root.querySelectorAll("pre.mermaid:not([data-processed])");
    if (!nodes.length) { return; }
    needScript(nodes[0].dataset.src, function () {
      if (!window.mermaid.riskloopReady) {
        window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral",
                                    fontFamily: "system-ui, sans-serif" });
        window.mermaid.riskloopReady = true;
      }
      // A diagram swapped out mid-render (the user moved on) is not an error worth an alert.
      window.mermaid.run({ nodes: nodes }).catch(function (err) { console.warn("diagram", err); });
    }, function () {
      // No diagram library: show the diagram's source rather than an empty box.
      nodes.forEach(function (node) { node.dataset.processed = "unavailable"; });
    });
  }

  function initCharts(root) {
    var canvases = root.querySelectorAll("canvas[data-chart]");
    if (!canvases.length) { return; }
    needScript(canvases[0].dataset.src, function () { drawCharts(canvases); });
  }

  function drawCharts(canvases) {
    canvases.forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var spec = JSON.parse(canvas.dataset.chart);
      var scales = {};
      if (spec.type !== "doughnut") {
        // Every category keeps its label (Chart.js skips labels that do not fit), counts
        // are whole numbers from zero, and a horizontal chart grows a row per bar.
        var category = spec.horizontal ? "y" : "x";
        var value = spec.horizontal ? "x" : "y";
        scales[category] = { stacked: !!spec.stacked, ticks: { autoSkip: false } };
        scales[value] = { stacked: !!spec.stacked, beginAtZero: true, ticks: { precision: 0 } };
        if (spec.horizontal) {
          var rows = spec.labels.reduce(function (n, l) { return n + (Array.isArray(l) ? l.length : 1); }, 0);
          var need = rows * 16 + spec.labels.length * 10 + 40;
          if (canvas.parentNode.clientHeight < need) { canvas.parentNode.style.height = need + "px"; }
        }
      }
      new window.Chart(canvas, {
        type: spec.type || "bar",
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          indexAxis: spec.horizontal ? "y" : "x",
          plugins: { legend: { display: spec.datasets.length > 1 } },
          scales: scales
        }
      });
    });
  }

  function creditCodeOk(code) {
    // GB 32100-2015: 18 characters, the last a weighted mod-31 check character.
    var alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    var weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code)) { return false; }
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += alphabet.indexOf(code[i]) * weights[i]; }
    var check = (31 - (sum % 31)) % 31;
    return alphabet[check] === code[17];
  }

  function bindCreditCode(root) {
    root.querySelectorAll("input[data-credit-code]").forEach(function (input) {
      if (input.dataset.bound) { return; }
      input.dataset.bound = "1";
      // The message stays beside the field (the browser's bubble vanishes on the next click).
      var shown = input.parentNode.querySelector("[data-live-error]");
      var check = function () {
        var value = input.value.trim().toUpperCase();
        var message = value === "" || creditCodeOk(value) ? "" : input.dataset.creditCode;
        input.setCustomValidity(message);
        return message;
      };
      var show = function () {
        var message = check();
        if (shown) { shown.textContent = message; }
        input.closest("label").classList.toggle("invalid", message !== "");
      };
      input.addEventListener("input", function () { if (shown && shown.textContent) { show(); } else { check(); } });
      input.addEventListener("blur", show);
      input.addEventListener("invalid", show);
      check();
    });
  }

  // SLA countdowns: the server renders the seconds left (data-seconds) by its own clock;
  // counting down from when the element appeared keeps them right whatever the browser's clock.
  function fill(format, values) {
    return format.replace(/%\((\w+)\)s/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }

  function countdownText(seconds, formats) {
    var left = Math.abs(seconds);
    var d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600);
    var m = Math.floor((left % 3600) / 60), s = left % 60;
    var span = d ? fill(formats.dh, { d: d, h: h })
      : h ? fill(formats.hm, { h: h, m: m }) : fill(formats.ms, { m: m, s: s });
    return fill(seconds < 0 ? formats.overdue : formats.left, { span: span });
  }

  function tickCountdowns() {
    var source = document.getElementById("countdown-formats");
    if (!source) { return; }
    var now = Date.now();
    document.querySelectorAll(".sla[data-seconds]").forEach(function (el) {
      if (!el.dataset.since) { el.dataset.since = String(now); }
      var seconds = Number(el.dataset.seconds) - Math.floor((now - Number(el.dataset.since)) / 1000);
      var text = countdownText(seconds, source.dataset);
      if (el.textContent !== text) { el.textContent = text; }
      if (seconds < 0 && !el.classList.contains("red")) {
        el.classList.add("red");
        var row = el.closest("tr");
        if (row) { row.classList.add("breached"); }
      }
    });
  }

  function init(root) {
    renderDiagrams(root);
    initCharts(root);
    bindCreditCode(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tickCountdowns();
    window.setInterval(tickCountdowns, 1000);
    // htmx.onLoad runs for the first page too, then for every swapped-in fragment.
    if (window.htmx) { window.htmx.onLoad(init); } else { init(document); }
  });

  window.riskloop = { creditCodeOk: creditCodeOk, countdownText: countdownText };
})();
