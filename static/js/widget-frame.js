/* The chat inside the widget's iframe: launcher, pre-chat form, then the live chat.
   The chat token (ours) is kept in this frame's storage, so a returning customer resumes;
   the identity token (the host site's) arrives in the URL fragment, never in a request line. */
(function () {
  "use strict";
  const body = document.body;
  const storageName = "omnichannel.chat." + body.dataset.widgetKey;
  const panel = document.querySelector("[data-chat]");
  const launcher = document.querySelector("[data-launcher]");
  const startForm = document.querySelector("[data-start]");
  const conversationBox = document.querySelector("[data-conversation]");
  const endButton = document.querySelector("[data-end]");
  const ended = document.querySelector("[data-ended]");
  const composer = document.querySelector("[data-chat-form]");
  const identity = new URLSearchParams(location.hash.slice(1)).get("identity") || "";
  let socket = null;
  let view = null;

  // On another site the browser may refuse this frame its storage (third-party storage
  // blocked): the chat still works, kept in memory, and only a reload starts afresh.
  const memory = {};
  function readStorage(kind, name) {
    try { return window[kind].getItem(name); } catch (e) { return memory[kind + name] ?? null; }
  }
  function writeStorage(kind, name, value) {
    try {
      if (value === null) window[kind].removeItem(name); else window[kind].setItem(name, value);
    } catch (e) {
      if (value === null) delete memory[kind + name]; else memory[kind + name] = value;
    }
  }
  let stored = JSON.parse(readStorage("localStorage", storageName) || "null");

  function tellHost(open) {
    if (window.parent !== window) window.parent.postMessage({ omnichannel: "resize", open: open }, "*");
  }
  function setOpen(open) {
    panel.hidden = !open;
    launcher.hidden = open;
    launcher.setAttribute("aria-expanded", String(open));
    body.classList.toggle("widget--open", open);
    tellHost(open);
    if (open) (conversationBox.hidden ? startForm.querySelector("input,select,button") : composer.querySelector("textarea"))?.focus();
  }
  launcher.addEventListener("click", () => setOpen(true));
  document.querySelector("[data-minimise]").addEventListener("click", () => setOpen(false));

  function showEnded(isEnded) {
    ended.hidden = !isEnded;
    composer.hidden = isEnded;
    endButton.hidden = isEnded;
  }
  function onState(state) {
    showEnded(state === "wrap_up" || state === "closed");
  }

  function openChat(token, conversation, returning) {
    stored = { token: token, conversation: conversation };
    writeStorage("localStorage", storageName, JSON.stringify(stored));
    startForm.hidden = true;
    conversationBox.hidden = false;
    socket = socket || new OmnichannelChat.ChatSocket(body.dataset.socketUrl);
    view = new OmnichannelChat.ChatView(panel, socket, {
      conversation: conversation,
      token: token,
      customer: true,
      onState: (state) => {
        // A returning customer whose last chat ended starts afresh, without its history (ST-24).
        if (returning && (state === "wrap_up" || state === "closed")) { returning = false; return newChat(); }
        returning = false;
        onState(state);
      },
    });
  }

  function newChat() {
    if (view) { view.close(); view = null; }
    // A customer socket serves one chat (its token's); the next chat gets a socket of its own.
    if (socket) { socket.close(); socket = null; }
    panel.querySelector("[data-chat-transcript]").replaceChildren();
    conversationBox.hidden = true;
    showEnded(false);
    startForm.hidden = false;
  }

  startForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    startForm.querySelectorAll("[data-error-for],[data-start-error]").forEach((p) => { p.hidden = true; });
    const answers = Object.fromEntries(new FormData(startForm));
    const button = startForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(body.dataset.startUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ answers: answers, identity: identity, language: navigator.language, token: stored && stored.token }),
      });
      const data = await response.json();
      if (!response.ok) {
        const errors = data.errors || {};
        Object.entries(errors).forEach(([key, text]) => {
          const p = startForm.querySelector('[data-error-for="' + CSS.escape(key) + '"]');
          if (p) { p.textContent = text; p.hidden = false; }
        });
        if (!Object.keys(errors).length) {
          const p = startForm.querySelector("[data-start-error]");
          p.textContent = data.error; p.hidden = false;
        }
        return;
      }
      openChat(data.token, data.conversation, false);
      composer.querySelector("textarea").focus();
    } catch (error) {
      const p = startForm.querySelector("[data-start-error]");
      p.textContent = navigator.onLine ? String(error) : "You are offline; try again when the connection is back.";
      p.hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  endButton.addEventListener("click", () => {
    if (view && confirm(document.querySelector("[data-end-confirm]").content.textContent.trim())) view.end();
  });
  document.querySelector("[data-new-chat]").addEventListener("click", newChat);

  if (stored && stored.token) openChat(stored.token, stored.conversation, true);
  setOpen(new URLSearchParams(location.search).has("open") || readStorage("sessionStorage", storageName + ".open") === "1");
  launcher.addEventListener("click", () => writeStorage("sessionStorage", storageName + ".open", "1"));
  document.querySelector("[data-minimise]").addEventListener("click", () => writeStorage("sessionStorage", storageName + ".open", null));
})();
