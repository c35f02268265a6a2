// Draws the throughput charts with Chart.js (served with the app: the shop floor may be offline).
(function () {
  "use strict";
  var source = document.getElementById("throughput-data");
  if (!source || !window.Chart) { return; }
  var data = JSON.parse(source.textContent);
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue(name).trim(); }
  var ink = colour("--ink"), line = colour("--line"), brand = colour("--brand"), bad = colour("--bad-edge"), info = colour("--info-edge"), warn = colour("--warn-edge");
  Chart.defaults.color = ink;
  Chart.defaults.borderColor = line;
  Chart.defaults.font.size = 15;
  Chart.defaults.animation = false;
  function options() {
    return { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true } } };
  }
  new Chart(document.getElementById("chart-hours"), {
    data: { labels: data.hours.labels, datasets: [
      { type: "bar", label: data.words.cups, data: data.hours.cups, backgroundColor: brand },
      { type: "line", label: data.words.target, data: data.hours.target, borderColor: bad, borderDash: [8, 5], pointRadius: 0, borderWidth: 3 }
    ] }, options: options()
  });
  new Chart(document.getElementById("chart-days"), {
    data: { labels: data.days.labels, datasets: [
      { type: "bar", label: data.words.cups, data: data.days.cups, backgroundColor: brand },
      { type: "line", label: data.words.capacity, data: data.days.capacity, borderColor: bad, borderDash: [8, 5], pointRadius: 3, borderWidth: 3, stepped: "middle" },
      { type: "line", label: data.words.due, data: data.days.due, borderColor: info, backgroundColor: info, pointStyle: "rectRot", pointRadius: 6, borderWidth: 0, showLine: false }
    ] }, options: options()
  });
  new Chart(document.getElementById("chart-resources"), {
    type: "line",
    data: { labels: data.days.labels, datasets: [
      { label: data.words.water, data: data.days.water, borderColor: info, backgroundColor: info, borderWidth: 3, spanGaps: true },
      { label: data.words.energy, data: data.days.energy, borderColor: warn, backgroundColor: warn, borderWidth: 3, borderDash: [4, 3], spanGaps: true }
    ] }, options: options()
  });
})();
