// Clocks that count up (SUP-1): every <time data-elapsed="ISO start" data-now="ISO server time">
// shows the time since start as m:ss, or h:mm:ss from an hour (as supervision.selectors.clock).
// Counted from the server's clock when the element arrived, so a skewed client clock is harmless.
(function () {
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("time[data-elapsed]").forEach(function (el) {
      if (!el.dataset.arrived) el.dataset.arrived = String(now);
      const atArrival = Date.parse(el.dataset.now) - Date.parse(el.dataset.elapsed);
      el.textContent = clock((atArrival + now - Number(el.dataset.arrived)) / 1000);
    });
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("htmx:oobAfterSwap", tick);
})();
