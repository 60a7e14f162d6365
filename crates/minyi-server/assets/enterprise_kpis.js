// Draws the programme's key figures (visits done and planned, matches agreed) from #kpi-data.
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("kpi-data");
    if (!node || !window.echarts) { return; }
    var d = JSON.parse(node.textContent);
    var animation = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var chart = echarts.init(document.getElementById("chart-kpis"));
    chart.setOption({
      animation: animation,
      legend: { top: 0 },
      grid: { left: 48, right: 48, top: 32, bottom: 96 },
      xAxis: { type: "category", data: d.names, axisLabel: { rotate: 45, interval: 0 } },
      yAxis: [{ type: "value" }, { type: "value", position: "right" }],
      series: [
        { name: d.labels.planned, type: "bar", data: d.planned, itemStyle: { color: "#c7d3e3" } },
        { name: d.labels.done, type: "bar", data: d.done, itemStyle: { color: "#1d5fa8" } },
        { name: d.labels.agreed, type: "line", yAxisIndex: 1, data: d.agreed, itemStyle: { color: "#b3261e" } }
      ],
      tooltip: { trigger: "axis" }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
