// Offer countdowns (RT-3): every <time data-countdown="ISO deadline"> shows the seconds left.
// The server decides when an offer lapses; this only tells the agent how long they have.
(function () {
  function tick() {
    const now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      const left = Math.max(0, Math.ceil((Date.parse(el.dataset.countdown) - now) / 1000));
      el.textContent = left + " s";
      el.closest("[data-offer]")?.classList.toggle("offer-urgent", left <= 10);
    });
  }
  tick();
  setInterval(tick, 500);
  document.addEventListener("htmx:oobAfterSwap", tick);
})();
