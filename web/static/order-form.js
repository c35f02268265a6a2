// Crates per cup type and the capacity answer, live while the organiser fills in the order.
(function () {
  "use strict";
  var form = document.getElementById("order-form");
  if (!form) return;
  var live = document.getElementById("capacity-live");
  var timer = null;

  function quantities() {
    return Array.prototype.slice.call(form.querySelectorAll("input[data-per-crate]"));
  }

  function updateCrates() {
    quantities().forEach(function (input) {
      var cell = form.querySelector('[data-crates-for="' + input.id + '"]');
      var cups = parseInt(input.value, 10);
      cell.textContent = cups > 0 ? String(Math.ceil(cups / parseInt(input.dataset.perCrate, 10))) : "–";
    });
  }

  function checkCapacity() {
    var cups = quantities().reduce(function (sum, input) {
      var value = parseInt(input.value, 10);
      return sum + (value > 0 ? value : 0);
    }, 0);
    var pickupEnd = form.querySelector('[name="pickup_end"]').value;
    if (!cups || !pickupEnd) { live.hidden = true; return; }
    var url = form.dataset.capacityUrl + "?cups=" + cups + "&pickup_end=" + encodeURIComponent(pickupEnd);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        live.hidden = false;
        if (body.error) {
          live.className = "notice notice-warning";
          live.textContent = "⚠ " + body.error.message;
        } else {
          live.className = "notice " + (body.fits ? "notice-success" : "notice-error");
          live.textContent = (body.fits ? "✔ " : "✖ ") + body.message;
        }
      })
      .catch(function () { live.hidden = true; });
  }

  form.addEventListener("input", function () {
    updateCrates();
    window.clearTimeout(timer);
    timer = window.setTimeout(checkCapacity, 400);
  });
  updateCrates();
  checkCapacity();
})();
