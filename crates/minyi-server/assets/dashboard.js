// Draws the dashboard's charts from the JSON the server put in #dash-data.
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("dash-data");
    if (!node || !window.echarts) { return; }
    var d = JSON.parse(node.textContent);
    var animation = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var states = echarts.init(document.getElementById("chart-states"));
    states.setOption({
      animation: animation,
      grid: { left: 90, right: 16, top: 8, bottom: 24 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: d.states.map(function (s) { return s.label; }) },
      series: [{ type: "bar", data: d.states.map(function (s) { return s.value; }), itemStyle: { color: "#b3261e" } }],
      tooltip: {}
    });
    var volume = echarts.init(document.getElementById("chart-volume"));
    volume.setOption({
      animation: animation,
      grid: { left: 48, right: 16, top: 16, bottom: 32 },
      xAxis: { type: "category", data: d.days },
      yAxis: { type: "value" },
      series: [{ type: "line", data: d.volume, smooth: true, areaStyle: {}, itemStyle: { color: "#1d5fa8" } }],
      tooltip: { trigger: "axis" }
    });
    var mix = echarts.init(document.getElementById("chart-mix"));
    mix.setOption({
      animation: animation,
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "70%"], data: d.mix, label: { formatter: "{b} {d}%" } }]
    });
    var places = echarts.init(document.getElementById("chart-places"));
    places.setOption({
      animation: animation,
      tooltip: { formatter: "{b}: {c}" },
      series: [{ type: "treemap", data: d.places, leafDepth: 1, roam: false,
        upperLabel: { show: true, height: 20 }, breadcrumb: { show: true },
        levels: [{ itemStyle: { borderWidth: 2, gapWidth: 2 } }, { itemStyle: { gapWidth: 1 } }] }]
    });
    window.addEventListener("resize", function () { states.resize(); volume.resize(); mix.resize(); places.resize(); });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
