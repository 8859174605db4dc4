/* The agent's communication panel: the shared chat client, plus canned responses, live
   sentiment and confirmations for End and Close session. */
(function () {
  "use strict";
  const panel = document.querySelector(".comm-panel[data-chat]");
  if (!panel) return;
  const socket = new OmnichannelChat.ChatSocket(panel.dataset.socketUrl);
  const composer = panel.querySelector("[data-chat-form]");
  const view = new OmnichannelChat.ChatView(panel, socket, {
    conversation: Number(panel.dataset.conversationId),
    customer: false,
    onState: (state) => { if (composer) composer.hidden = state === "closed" || state === "gone"; },
  });
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
})();
