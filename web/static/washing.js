// Live counts and hygiene of the batch on the line: polls the page's JSON every 2 seconds and
// keeps the last figures on screen (marked as old) while the network is away.
(function () {
  "use strict";
  const card = document.getElementById("running");
  const words = JSON.parse(document.getElementById("washing-words").textContent);
  if (!card) return;
  const number = new Intl.NumberFormat(words.locale === "nl" ? "nl-BE" : "en-GB");
  const set = (key, text) => {
    const node = card.querySelector('[data-live="' + key + '"]');
    if (node && node.textContent !== text) node.textContent = text;
  };
  function temperature(id, state) {
    const box = document.getElementById(id);
    if (!box) return;
    box.classList.toggle("wb-temp-bad", state.below_now);
    box.classList.toggle("wb-temp-ok", !state.below_now);
    set(id + "-value", state.latest_c === null ? "–" : state.latest_c.toFixed(1) + " °C");
    set(id + "-word", (state.below_now ? "✖ " : "✔ ") + (state.below_now ? words.cold : words.hot));
    set(id + "-below", words.below
      .replace("{seconds}", number.format(Math.round(state.seconds_below)))
      .replace("{allowed}", number.format(state.max_seconds_below)));
  }
  async function refresh() {
    try {
      const response = await fetch(card.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      card.classList.remove("wb-stale");
      if (!data.running) { window.location.reload(); return; }
      const batch = data.running;
      set("washed", number.format(batch.cups_washed));
      set("rejected", number.format(batch.cups_rejected));
      set("left", number.format(batch.cups_left));
      const state = card.querySelector('[data-live="hygiene"]');
      state.classList.toggle("wb-ok", batch.hygiene_ok);
      state.classList.toggle("wb-bad", !batch.hygiene_ok);
      set("hygiene", (batch.hygiene_ok ? "✔ " : "✖ ") + (batch.hygiene_ok ? words.ok : words.bad));
      temperature("wash", batch.wash);
      temperature("rinse", batch.rinse);
    } catch (error) {
      card.classList.add("wb-stale");
    }
  }
  setInterval(refresh, 2000);
})();
