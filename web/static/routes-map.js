/* The planner's route map: Leaflet (served with the app) with OpenStreetMap tiles when they
   load; without tiles (offline) the routes are still drawn, without a background, and without
   Leaflet at all they are drawn as plain SVG lines. Also polls a running plan's progress. */
(function () {
  "use strict";
  var holder = document.getElementById("route-map");
  var source = document.getElementById("route-data");
  if (holder && source) {
    var data = JSON.parse(source.textContent);
    var points = [data.depot];
    data.routes.forEach(function (r) { r.stops.forEach(function (s) { points.push([s.lat, s.lon]); }); });
    data.unserved.forEach(function (s) { points.push([s.lat, s.lon]); });
    if (window.L) { drawLeaflet(data, points); } else { drawSvg(data, points); }
  }

  function drawLeaflet(data, points) {
    var map = L.map(holder, { scrollWheelZoom: false });
    var tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 18, attribution: "© OpenStreetMap"
    });
    var failed = false;
    tiles.on("tileerror", function () {
      if (failed) { return; }
      failed = true;
      map.removeLayer(tiles);
      document.getElementById("map-note").hidden = false;
    });
    tiles.addTo(map);
    L.circleMarker(data.depot, { radius: 9, color: "#111", fillColor: "#ffd400", fillOpacity: 1 })
      .bindTooltip(data.name).addTo(map);
    data.routes.forEach(function (route) {
      var line = [data.depot];
      var trip = 0;
      route.stops.forEach(function (stop) {
        if (stop.trip !== trip) { line.push(data.depot); trip = stop.trip; }
        line.push([stop.lat, stop.lon]);
        L.circleMarker([stop.lat, stop.lon], { radius: 6, color: route.colour, fillColor: "#fff", fillOpacity: 1, weight: 3 })
          .bindTooltip(route.name + " · " + stop.label).addTo(map);
      });
      line.push(data.depot);
      L.polyline(line, { color: route.colour, weight: 4, opacity: 0.85 }).addTo(map);
    });
    data.unserved.forEach(function (stop) {
      L.circleMarker([stop.lat, stop.lon], { radius: 8, color: "#b91c1c", fillColor: "#b91c1c", fillOpacity: 0.6 })
        .bindTooltip("⚠ " + stop.label).addTo(map);
    });
    map.fitBounds(L.latLngBounds(points).pad(0.1));
  }

  function drawSvg(data, points) {
    var lats = points.map(function (p) { return p[0]; }), lons = points.map(function (p) { return p[1]; });
    var minLat = Math.min.apply(null, lats), maxLat = Math.max.apply(null, lats);
    var minLon = Math.min.apply(null, lons), maxLon = Math.max.apply(null, lons);
    var w = holder.clientWidth || 600, h = holder.clientHeight || 400, pad = 20;
    function xy(p) {
      var x = pad + (p[1] - minLon) / ((maxLon - minLon) || 1) * (w - 2 * pad);
      var y = h - pad - (p[0] - minLat) / ((maxLat - minLat) || 1) * (h - 2 * pad);
      return x.toFixed(1) + "," + y.toFixed(1);
    }
    var svg = '<svg class="fallback" viewBox="0 0 ' + w + " " + h + '" aria-hidden="true">';
    data.routes.forEach(function (route) {
      var line = [xy(data.depot)];
      route.stops.forEach(function (s) { line.push(xy([s.lat, s.lon])); });
      line.push(xy(data.depot));
      svg += '<polyline fill="none" stroke-width="3" stroke="' + route.colour + '" points="' + line.join(" ") + '"/>';
    });
    svg += "</svg>";
    holder.innerHTML = svg;
  }

  var progress = document.getElementById("plan-progress");
  if (progress) {
    var bar = progress.querySelector("progress");
    var poll = function () {
      fetch(progress.dataset.url, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar) { bar.value = job.progress; }
          if (job.state === "running") { setTimeout(poll, 500); }
          else { window.location.replace(window.location.pathname + "?day=" + job.day); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 500);
  }
})();

/* Stops the couriers confirm show up on the planner's page without a reload. */
(function () {
  "use strict";
  var line = document.getElementById("stops-done");
  var texts = document.getElementById("route-texts");
  if (!line || !texts) { return; }
  var words = JSON.parse(texts.textContent);
  var poll = function () {
    fetch(line.dataset.url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) {
          var count = Object.keys(data.done).length;
          var text = words.summary.replace("%(done)s", count).replace("%(total)s", data.total);
          if (line.textContent !== text) { line.textContent = text; }
          Object.keys(data.done).forEach(function (id) {
            var mark = document.querySelector('tr[data-stop="' + id + '"] .done-mark');
            if (mark && !mark.textContent.trim()) {
              mark.textContent = "✔ " + words.done + " " + data.done[id];
            }
          });
        }
        setTimeout(poll, 15000);
      })
      .catch(function () { setTimeout(poll, 30000); });
  };
  setTimeout(poll, 15000);
})();
