/* The agent's communication panel: the shared chat client, plus canned responses, live
   sentiment and confirmations for End and Close session. In the workspace the panel is
   swapped in and out with the focused session: every panel on the page shares one socket,
   and a panel's view is closed when htmx removes it. */
(function () {
  "use strict";
  let socket = null;

  function bind(panel) {
    if (panel.chatView) return;
    socket = socket || new OmnichannelChat.ChatSocket(panel.dataset.socketUrl);
    const composer = panel.querySelector("[data-chat-form]");
    const view = new OmnichannelChat.ChatView(panel, socket, {
      conversation: Number(panel.dataset.conversationId),
      customer: false,
      onState: (state) => { if (composer) composer.hidden = state === "closed" || state === "gone"; },
    });
    panel.chatView = view;
    const sentiment = panel.querySelector("[data-chat-sentiment]");
    const receive = view.receive.bind(view);
    view.receive = (frame) => {
      if (frame.type === "message" && frame.sentiment && sentiment) {
        sentiment.textContent = frame.sentiment_label;
        sentiment.className = "sentiment sentiment--" + frame.sentiment;
      }
      receive(frame);
    };
    const canned = panel.querySelector("[data-canned]");
    if (canned) canned.addEventListener("change", () => {
      const textarea = composer.querySelector("textarea");
      textarea.value = (textarea.value ? textarea.value + " " : "") + canned.value;
      canned.value = "";
      textarea.focus();
    });
    panel.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (event) => {
      if (!confirm(form.dataset.confirm)) event.preventDefault();
    }));
  }

  function bindAll(root) {
    root.querySelectorAll(".comm-panel[data-chat]").forEach(bind);
  }

  bindAll(document);
  document.addEventListener("htmx:afterSettle", () => bindAll(document));
  document.addEventListener("htmx:beforeCleanupElement", (event) => {
    const panel = event.detail.elt;
    if (panel.chatView) { panel.chatView.close(); panel.chatView = null; }
  });
})();
