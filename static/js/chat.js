/* The chat client shared by the customer's widget and the agent's communication panel.
   The server's database is the record: every message goes out with an idempotency key and
   stays in a local outbox until acknowledged with its sequence; every (re)connection resumes
   from the last sequence seen, so nothing is lost or shown twice (CH-5). Message HTML comes
   rendered and escaped by the server; text typed here is only ever set as textContent. */
(function () {
  "use strict";
  const HEARTBEAT_MS = 15000;
  const TYPING_EVERY_MS = 2000;
  const TYPING_SHOWN_MS = 3500;

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }

  function load(name, fallback) {
    try { return JSON.parse(localStorage.getItem(name)) ?? fallback; } catch (e) { return fallback; }
  }
  function save(name, value) {
    try { localStorage.setItem(name, JSON.stringify(value)); } catch (e) { /* private mode: memory only */ }
  }

  /* One socket, reconnecting with backoff, carrying one or more transcripts. */
  class ChatSocket {
    constructor(url) {
      this.url = new URL(url, location.href);
      this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
      this.views = new Set();
      this.byKey = new Map();
      this.backoff = 500;
      this.connect();
      // The browser knows at once when the network goes; a socket can take long to notice.
      window.addEventListener("offline", () => this.views.forEach((v) => v.setOnline(false)));
      window.addEventListener("online", () => {
        if (this.ws.readyState > 1) this.connect();
        else if (this.ws.readyState === WebSocket.OPEN) this.views.forEach((v) => v.resume());
      });
    }
    connect() {
      clearTimeout(this.retry);
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.backoff = 500;
        this.views.forEach((v) => v.resume());
        this.ping = setInterval(() => this.send({ type: "ping" }), HEARTBEAT_MS);
      };
      ws.onmessage = (event) => this.receive(JSON.parse(event.data));
      ws.onclose = (event) => {
        clearInterval(this.ping);
        // 4403: this page may not open the socket (signed out, no longer an agent): retrying cannot help.
        if (this.ws !== ws || this.closed || event.code === 4403) return;
        this.views.forEach((v) => v.setOnline(false));
        this.retry = setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 8000);
      };
    }
    close() {
      this.closed = true;
      clearTimeout(this.retry);
      this.ws.close();
    }
    send(frame) {
      if (this.ws.readyState !== WebSocket.OPEN) return false;
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    receive(frame) {
      if (frame.key && this.byKey.has(frame.key)) return this.byKey.get(frame.key).receive(frame);
      this.views.forEach((v) => { if (frame.conversation === undefined || frame.conversation === v.conversation) v.receive(frame); });
    }
  }

  /* One conversation's transcript, composer, typing line and marks. */
  class ChatView {
    constructor(root, socket, options) {
      this.root = root;
      this.socket = socket;
      this.conversation = options.conversation;
      this.token = options.token || null;
      this.customer = Boolean(options.customer);
      this.onState = options.onState || (() => {});
      this.list = root.querySelector("[data-chat-transcript]");
      this.form = root.querySelector("[data-chat-form]");
      this.input = this.form && this.form.querySelector("textarea");
      this.typingLine = root.querySelector("[data-chat-typing]");
      this.status = root.querySelector("[data-chat-status]");
      this.seen = new Set();
      this.contiguous = 0;
      this.readSent = 0;
      this.outboxName = "omnichannel.outbox." + (this.customer ? "c" : "a") + "." + this.conversation;
      this.outbox = load(this.outboxName, []);
      this.list.querySelectorAll("[data-sequence]").forEach((li) => this.seen.add(Number(li.dataset.sequence)));
      this.advance();
      this.outbox.forEach((item) => this.showPending(item));
      if (this.form) this.bindComposer();
      document.addEventListener("visibilitychange", () => this.sendMarks());
      socket.views.add(this);
      if (socket.ws.readyState === WebSocket.OPEN) this.resume();
    }
    close() { this.socket.views.delete(this); }

    bindComposer() {
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        const body = this.input.value.trim();
        if (!body) return;
        this.input.value = "";
        this.post(body);
      });
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.form.requestSubmit();
        }
      });
      this.input.addEventListener("input", () => {
        const now = Date.now();
        if (this.input.value && now - (this.typingSent || 0) > TYPING_EVERY_MS) {
          this.typingSent = now;
          this.socket.send({ type: "typing", conversation: this.conversation });
        }
      });
    }

    resume() {
      // acks "message": this client takes its own messages from their acknowledgements.
      const frame = { type: "subscribe", after: this.contiguous, acks: "message" };
      if (this.token) frame.token = this.token; else frame.conversation = this.conversation;
      this.socket.send(frame);
      this.outbox.forEach((item) => this.transmit(item));
    }
    setOnline(online) {
      this.root.classList.toggle("chat--offline", !online);
      if (this.status) this.status.hidden = online;
    }

    post(body) {
      const item = { key: newKey(), body: body };
      this.outbox.push(item);
      save(this.outboxName, this.outbox);
      this.showPending(item);
      this.transmit(item);
    }
    transmit(item) {
      this.socket.byKey.set(item.key, this);
      this.socket.send({ type: "message", conversation: this.conversation, key: item.key, body: item.body });
    }
    showPending(item) {
      const li = document.createElement("li");
      li.className = "message message--pending message--" + (this.customer ? "customer" : "agent");
      li.dataset.key = item.key;
      const p = document.createElement("p");
      p.className = "message__body";
      p.textContent = item.body;
      const state = document.createElement("span");
      state.className = "message__state";
      state.textContent = this.root.dataset.sendingLabel || "Sending…";
      li.append(p, state);
      this.list.append(li);
      this.scroll();
    }
    settle(key) {
      this.outbox = this.outbox.filter((item) => item.key !== key);
      save(this.outboxName, this.outbox);
      this.socket.byKey.delete(key);
    }

    receive(frame) {
      switch (frame.type) {
        case "message": return this.insert(frame);
        case "ack": {
          // The acknowledgement carries the stored message: no push brings it to this socket.
          this.settle(frame.key);
          this.list.querySelector('[data-key="' + CSS.escape(frame.key) + '"]')?.remove();
          return this.insert(frame);
        }
        case "error": {
          if (!frame.key) { this.showError(frame.error); return; }
          if (frame.retry) { setTimeout(() => { const item = this.outbox.find((i) => i.key === frame.key); if (item) this.transmit(item); }, 1500); return; }
          this.settle(frame.key);
          const li = this.list.querySelector('[data-key="' + CSS.escape(frame.key) + '"]');
          if (li) { li.classList.add("message--failed"); li.querySelector(".message__state").textContent = frame.error; }
          return;
        }
        case "subscribed":
          this.conversation = frame.conversation;
          this.setOnline(true);
          this.applyMarks(frame.marks);
          this.onState(frame.state);
          this.sendMarks();
          return;
        case "state": return this.onState(frame.state);
        case "typing": return this.showTyping();
        case "marks": if (frame.customer !== this.customer) this.applyMarks(frame); return;
      }
    }

    insert(frame) {
      if (this.seen.has(frame.sequence)) return; // a resume and a push may both bring it
      const template = document.createElement("template");
      template.innerHTML = frame.html.trim();
      const li = template.content.firstElementChild;
      let after = null;
      for (const other of this.list.querySelectorAll("[data-sequence]")) {
        if (Number(other.dataset.sequence) > frame.sequence) { after = other; break; }
      }
      const pending = this.list.querySelector(".message--pending");
      this.list.insertBefore(li, after || pending);
      this.seen.add(frame.sequence);
      if (frame.role === "customer" ? !this.customer : this.customer) this.hideTyping();
      this.advance();
      this.scroll();
      clearTimeout(this.markTimer);
      this.markTimer = setTimeout(() => this.sendMarks(), 250);
    }
    advance() {
      while (this.seen.has(this.contiguous + 1)) this.contiguous += 1;
      // A gap means a push went missing: ask for what follows the last contiguous message.
      clearTimeout(this.gapTimer);
      if (this.seen.size && Math.max(...this.seen) > this.contiguous) this.gapTimer = setTimeout(() => this.resume(), 1000);
    }
    sendMarks() {
      const read = document.visibilityState === "visible" ? this.contiguous : this.readSent;
      this.socket.send({ type: "mark", conversation: this.conversation, delivered: this.contiguous, read: read });
      this.readSent = read;
    }
    applyMarks(marks) {
      if (!marks) return;
      const own = this.customer ? ["customer"] : ["agent", "supervisor"];
      let lastOwn = null;
      this.list.querySelectorAll("[data-sequence]").forEach((li) => {
        li.removeAttribute("data-mark");
        if (own.includes(li.dataset.role)) lastOwn = li;
      });
      if (!lastOwn) return;
      const sequence = Number(lastOwn.dataset.sequence);
      if (marks.read >= sequence) lastOwn.dataset.mark = this.root.dataset.readLabel || "Read";
      else if (marks.delivered >= sequence) lastOwn.dataset.mark = this.root.dataset.deliveredLabel || "Delivered";
    }
    showTyping() {
      if (!this.typingLine) return;
      this.typingLine.hidden = false;
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_SHOWN_MS);
    }
    hideTyping() { if (this.typingLine) this.typingLine.hidden = true; }
    showError(text) {
      const box = this.root.querySelector("[data-chat-error]");
      if (!box) return;
      box.textContent = text;
      box.hidden = false;
      clearTimeout(this.errorTimer);
      this.errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
    }
    end() { this.socket.send({ type: "end", conversation: this.conversation }); }
    scroll() { this.list.scrollTop = this.list.scrollHeight; }
  }

  window.OmnichannelChat = { ChatSocket, ChatView };
})();
