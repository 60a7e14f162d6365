// Draws the KPI page's charts (ranking by score, daily completions with the on-time rate) from
// the JSON the server put in #kpi-data.
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("kpi-data");
    if (!node || !window.echarts) { return; }
    var d = JSON.parse(node.textContent);
    var animation = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var ranking = echarts.init(document.getElementById("chart-ranking"));
    ranking.setOption({
      animation: animation,
      grid: { left: 160, right: 24, top: 8, bottom: 24 },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: d.ranking.names, axisLabel: { width: 150, overflow: "truncate" } },
      series: [{ type: "bar", data: d.ranking.scores, itemStyle: { color: "#1d5fa8" }, label: { show: true, position: "right" } }],
      tooltip: {}
    });
    var trend = echarts.init(document.getElementById("chart-trend"));
    trend.setOption({
      animation: animation,
      legend: { data: d.trend.labels },
      grid: { left: 48, right: 48, top: 32, bottom: 32 },
      xAxis: { type: "category", data: d.trend.days },
      yAxis: [{ type: "value" }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
      series: [
        { name: d.trend.labels[0], type: "bar", data: d.trend.completed, itemStyle: { color: "#7a9cc6" } },
        { name: d.trend.labels[1], type: "line", yAxisIndex: 1, data: d.trend.on_time, itemStyle: { color: "#b3261e" } }
      ],
      tooltip: { trigger: "axis" }
    });
    window.addEventListener("resize", function () { ranking.resize(); trend.resize(); });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
