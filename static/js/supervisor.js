/* Supervisor actions (SUP-3 to SUP-7): the monitored conversation's live transcript over the
   supervisor's chat socket, its live region refreshed after every transition and customer
   message (sentiment trend), and the Assign / Transfer / Force close dialogs filled by htmx. */
(function () {
  "use strict";
  const dialog = document.getElementById("supervisor-dialog");
  if (dialog) {
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target === dialog && !dialog.open) dialog.showModal();
    });
    dialog.addEventListener("click", (event) => {
      if (event.target.closest("[data-close-dialog]")) { event.preventDefault(); dialog.close(); }
    });
  }

  const page = document.querySelector("[data-supervisor-page]");
  const panel = page && page.querySelector(".comm-panel[data-chat]");
  if (!panel) return;
  let pending = null;
  function refresh() {
    // Several frames in a burst need one re-render; the server renders what is committed.
    clearTimeout(pending);
    pending = setTimeout(() => {
      htmx.ajax("GET", page.dataset.liveUrl, { target: "#supervisor-live", swap: "outerHTML" });
    }, 100);
  }
  const socket = new OmnichannelChat.ChatSocket(panel.dataset.socketUrl);
  const composer = panel.querySelector("[data-chat-form]");
  const view = new OmnichannelChat.ChatView(panel, socket, {
    conversation: Number(panel.dataset.conversationId),
    customer: false,
    onState: (state) => {
      if (composer) composer.hidden = state === "closed" || state === "gone";
      refresh();
    },
  });
  const receive = view.receive.bind(view);
  view.receive = (frame) => {
    receive(frame);
    if (frame.type === "message" && frame.role === "customer") refresh();
  };
})();
