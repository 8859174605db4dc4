/* The agent workspace in the browser: the session panel's collapsed state (SES-1), session
   links (SES-2), the close confirmation (SES-5), application tabs (SES-9), unsaved changes kept
   on the server as the agent types (SES-4) and keyboard shortcuts (A11Y-1). The server renders
   everything; this only sends requests and toggles what is already on the page. */
(function () {
  "use strict";
  const PANEL_KEY = "omnichannel.sessionPanel";
  const DRAFT_DELAY_MS = 300;
  const root = document.documentElement;

  // --- session panel: expanded by default, the hamburger toggles, the choice is remembered
  function setCollapsed(collapsed) {
    root.classList.toggle("session-panel-collapsed", collapsed);
    try { localStorage.setItem(PANEL_KEY, collapsed ? "collapsed" : "expanded"); } catch (e) { /* memory only */ }
    syncToggle();
  }
  function syncToggle() {
    const toggle = document.querySelector("[data-session-panel-toggle]");
    if (toggle) toggle.setAttribute("aria-expanded", String(!root.classList.contains("session-panel-collapsed")));
  }
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-session-panel-toggle]")) setCollapsed(!root.classList.contains("session-panel-collapsed"));
  });
  document.addEventListener("htmx:afterSettle", syncToggle);
  document.addEventListener("htmx:oobAfterSwap", syncToggle);
  syncToggle();

  // --- opening sessions and tabs from links (SES-2, SES-9)
  function paneSession() {
    const pane = document.getElementById("session-pane");
    return pane && pane.dataset.sessionId ? pane : null;
  }
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-session-open]");
    const tabber = event.target.closest("[data-open-tab]");
    // Shift+click on a case or contact starts its own session (also from a link that would
    // open it as a tab); on Home any click on one does.
    const record = opener ? opener.dataset.sessionOpen
      : tabber && event.shiftKey && /^(case|contact):\d+$/.test(tabber.dataset.openTab) ? tabber.dataset.openTab : null;
    if (record && (event.shiftKey || !paneSession())) {
      event.preventDefault();
      fromPane(document.querySelector("[data-workspace]").dataset.openUrl, { target: record });
      return;
    }
    if (tabber && paneSession()) {
      event.preventDefault();
      fromPane(paneSession().dataset.tabsUrl, { tab: tabber.dataset.openTab });
      return;
    }
    const tab = event.target.closest('[role="tab"][data-tab]');
    if (tab) showTab(tab);
  });
  function showTab(tab) {
    const strip = tab.closest('[role="tablist"]');
    strip.querySelectorAll('[role="tab"]').forEach((other) => {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      other.closest(".app-tab").classList.toggle("is-active", selected);
      const panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    });
  }

  // Arrow keys move between application tabs, Home and End to the first and last (WAI-ARIA tabs).
  document.addEventListener("keydown", (event) => {
    const tab = event.target.closest && event.target.closest('[role="tab"][data-tab]');
    if (!tab || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const all = [...tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]')];
    const rtl = getComputedStyle(tab).direction === "rtl";
    const step = { ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 }[event.key];
    const index = event.key === "Home" ? 0 : event.key === "End" ? all.length - 1
      : (all.indexOf(tab) + step + all.length) % all.length;
    event.preventDefault();
    all[index].focus();
    all[index].click();
  });

  // --- the dashboard's "…" menus (SES-2)
  function closeMenus(except) {
    document.querySelectorAll("[data-menu-toggle][aria-expanded=true]").forEach((toggle) => {
      if (toggle === except) return;
      toggle.setAttribute("aria-expanded", "false");
      toggle.nextElementSibling.hidden = true;
    });
  }
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-menu-toggle]");
    closeMenus(toggle);
    if (!toggle) return;
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.nextElementSibling.hidden = !open;
    if (open) toggle.nextElementSibling.querySelector('[role="menuitem"]').focus();
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeMenus(null); });
  // A push replaces the element a keyboard user is on: give the focus back to its namesake.
  let focusedId = null;
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const active = document.activeElement;
    focusedId = active && active.id && event.detail.target.contains && event.detail.target.contains(active) ? active.id : null;
  });
  document.addEventListener("htmx:oobAfterSwap", () => {
    const again = focusedId && document.getElementById(focusedId);
    if (again && !again.contains(document.activeElement)) again.focus();
    focusedId = null;
  });

  // Fetched again, a stream replaces the rows under an open menu: open it again on the new row.
  let reopen = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.id !== "work-items") return;
    const open = event.detail.target.querySelector("[data-menu-toggle][aria-expanded=true]");
    reopen = open ? { row: open.closest("[data-work-item]").dataset.workItem, focused: open.parentNode.contains(document.activeElement) } : null;
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (!reopen || event.detail.target.id !== "work-items") return;
    const toggle = event.detail.target.querySelector(`[data-work-item="${reopen.row}"] [data-menu-toggle]`);
    if (toggle) {
      toggle.setAttribute("aria-expanded", "true");
      toggle.nextElementSibling.hidden = false;
      if (reopen.focused) toggle.nextElementSibling.querySelector('[role="menuitem"]').focus();
    }
    reopen = null;
  });

  // --- requests whose answer replaces the session pane go from the pane. Their buttons and
  // links sit in regions that pushes and fetches replace (the session panel, the offers, Home's
  // streams, live tabs), maybe before the answer comes; htmx looks for an answer's out-of-band
  // session panel in its source's document, which a replaced source no longer is.
  const REPLACED = "#session-panel, #offers, #work-items, [data-live]";
  function fromPane(path, values) {
    htmx.ajax("POST", path, {
      source: document.getElementById("session-pane"), target: "#session-pane", swap: "outerHTML", values,
    });
  }
  function replacesPane(detail) {
    const elt = detail.elt;
    // Accept and Pick start a session: the server answers with the new pane.
    return Boolean(elt.closest && elt.closest(REPLACED)) && (elt.matches("[data-accept], [data-pick], [data-transfer-accept]")
      || (detail.target && detail.target.id === "session-pane"));
  }

  // htmx's confirm step: the requests above go from the pane; closing asks in our dialog (SES-5).
  const dialog = document.getElementById("confirm-dialog");
  document.addEventListener("htmx:confirm", (event) => {
    const detail = event.detail;
    const moved = replacesPane(detail);
    const send = () => (moved ? fromPane(detail.path, JSON.parse(detail.elt.getAttribute("hx-vals") || "{}")) : detail.issueRequest(true));
    if (!detail.question || !dialog) {
      if (moved) {
        event.preventDefault();
        send();
      }
      return;
    }
    event.preventDefault();
    dialog.querySelector("#confirm-dialog-text").textContent = detail.question;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => { if (dialog.returnValue === "confirm") send(); }, { once: true });
    dialog.showModal();
    dialog.querySelector('[value="confirm"]').focus();
  });

  // --- work assigned with nothing to accept (SUP-5, auto-accept): its session is open in the
  // panel and a notice says so. Its button switches to the session; on Home, where nothing is
  // being worked on, the newest one opens at once, as accepting an offer does (SES-3).
  function goToSession(button) {
    htmx.ajax("POST", button.dataset.sessionFocus, {
      source: document.getElementById("session-pane"), target: "#session-pane", swap: "outerHTML",
    });
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-session-focus]");
    if (!button) return;
    event.preventDefault();
    button.closest(".agent-notice").remove();
    goToSession(button);
  });
  document.addEventListener("htmx:wsAfterMessage", () => {
    const fresh = [...document.querySelectorAll("#agent-notices .agent-notice:not([data-seen])")];
    fresh.forEach((notice) => { notice.dataset.seen = ""; });
    if (fresh.length && !paneSession()) goToSession(fresh[0].querySelector("[data-session-focus]"));
  });

  // --- unsaved changes (SES-4): every named field of a form[data-draft] goes to the server as
  // the agent types, and comes back whenever the form is loaded again.
  let drafts = {};
  const pending = {};
  let timer = null;
  // Values typed but not yet stored, by session then form: { fields, answeredAt }. A pane asked
  // for before the server answered their save was rendered without them, so they win there.
  const unsent = {};
  function readDrafts(requestedAt) {
    const script = document.getElementById("session-drafts");
    drafts = script ? JSON.parse(script.textContent) : {};
    const pane = paneSession();
    const mine = (pane && unsent[pane.dataset.draftsUrl]) || {};
    for (const [form, entry] of Object.entries(mine)) {
      if (entry.answeredAt !== undefined && entry.answeredAt < requestedAt) delete mine[form];
      else drafts[form] = entry.fields;
    }
  }
  function formFields(form) {
    const fields = {};
    for (const el of form.elements) {
      if (!el.name || el.type === "submit" || el.type === "button" || el.type === "hidden" || el.type === "file") continue;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
      fields[el.name] = el.value;
    }
    return fields;
  }
  function restore(scope) {
    scope.querySelectorAll("form[data-draft]").forEach((form) => {
      const saved = drafts[form.dataset.draft];
      if (!saved) return;
      for (const el of form.elements) {
        if (!el.name || !(el.name in saved)) continue;
        if (el.type === "checkbox" || el.type === "radio") el.checked = saved[el.name] === el.value;
        else el.value = saved[el.name];
      }
    });
  }
  // Pending changes by the session they belong to: the pane may show another by the time they go.
  function queue(form, fields) {
    const pane = paneSession();
    if (!pane) return;
    const url = pane.dataset.draftsUrl;
    pending[url] = Object.assign(pending[url] || {}, { [form]: fields });
    unsent[url] = Object.assign(unsent[url] || {}, { [form]: { fields } });
    drafts[form] = fields;
    clearTimeout(timer);
    timer = setTimeout(flushDrafts, DRAFT_DELAY_MS);
  }
  // One save at a time per session, so the server stores them in the order they were made: a
  // save still on its way never lands after a later one (the clearing of a form just saved).
  // Leaving the page sends at once: nothing would send it later.
  const sending = {};
  function flushDrafts(event) {
    clearTimeout(timer);
    timer = null;
    const leaving = event && event.type === "pagehide";
    for (const [url, forms] of Object.entries(pending)) {
      if (sending[url] && !leaving) continue;
      delete pending[url];
      sendDrafts(url, forms);
    }
  }
  function sendDrafts(url, forms) {
    sending[url] = true;
    fetch(url, {
      method: "POST", body: new URLSearchParams({ drafts: JSON.stringify(forms) }), keepalive: true,
      credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
    }).then(() => {
      // Answered (stored, or refused for good): panes asked for from now on show the server's copy.
      const now = performance.now();
      for (const [form, fields] of Object.entries(forms)) {
        const entry = unsent[url] && unsent[url][form];
        if (entry && entry.fields === fields) entry.answeredAt = now;
      }
    }, () => { /* not sent: the values stay unsent, so this page keeps showing them */ }).finally(() => {
      delete sending[url];
      // What came meanwhile goes now, unless it still waits for its typing pause.
      const next = pending[url];
      if (next && timer === null) {
        delete pending[url];
        sendDrafts(url, next);
      }
    });
  }
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }
  document.addEventListener("input", (event) => {
    const form = event.target.closest && event.target.closest("form[data-draft]");
    if (form && event.target.name) queue(form.dataset.draft, formFields(form));
  });
  document.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest("form[data-draft]");
    if (form && event.target.name) queue(form.dataset.draft, formFields(form));
  });
  // Saved: the draft has done its job. (Before the swap: a form replaced by its answer is
  // detached by the time later events fire, and those no longer reach the document.)
  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (form && form.matches && form.matches("form[data-draft]") && event.detail.xhr.status < 300) {
      delete drafts[form.dataset.draft];
      queue(form.dataset.draft, null);
      flushDrafts();
    }
  });
  // Any request may lead away from the session (a switch, Accept, Pick…): what is pending goes first.
  document.addEventListener("htmx:beforeRequest", (event) => {
    flushDrafts();
    if (event.detail.xhr) event.detail.xhr.requestedAt = performance.now();
  });
  window.addEventListener("pagehide", flushDrafts);
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.elt.id === "session-pane" || event.detail.target && event.detail.target.id === "session-pane") {
      readDrafts(event.detail.xhr ? event.detail.xhr.requestedAt : Infinity);
    }
    restore(event.detail.elt);
  });
  readDrafts(Infinity);
  restore(document);

  // --- conversations changed: the agent socket names them in a JSON frame. Home fetches its
  // streams again; the focused session, when its conversation is among them, its header and
  // live tabs, unless the agent is working in one (unsaved fields come back from the drafts).
  // Fetched, not pushed: a push could arrive after a switch had replaced the pane it was for.
  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    if (!event.detail.message.startsWith("{")) return;
    event.preventDefault();
    const changed = JSON.parse(event.detail.message).changed;
    const home = document.getElementById("work-items");
    if (home) htmx.trigger(home, "work-changed");
    const pane = paneSession();
    if (!pane || !changed.includes(Number(pane.dataset.conversationId))) return;
    pane.querySelectorAll("[data-live]").forEach((region) => {
      if (!region.contains(document.activeElement)) htmx.trigger(region, "conversation-changed");
    });
  });

  // --- keyboard (A11Y-1): Alt+Shift with a digit or letter, by physical key so layouts agree.
  const help = document.getElementById("shortcuts-help");
  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }
  function sessionButton(n) {
    return document.querySelectorAll("#session-list .session__switch")[n];
  }
  document.addEventListener("keydown", (event) => {
    if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey) {
      const digit = /^Digit([1-9])$/.exec(event.code);
      let handled = true;
      if (digit) {
        const button = sessionButton(Number(digit[1]));
        if (button) button.click();
      } else if (event.code === "KeyH") {
        sessionButton(0).click();
      } else if (event.code === "KeyA") {
        const accept = document.querySelector("#offers [data-accept]");
        if (accept) accept.click();
      } else if (event.code === "KeyC") {
        const composer = document.getElementById("composer");
        if (composer) composer.focus();
      } else if (event.code === "KeyB") {
        setCollapsed(!root.classList.contains("session-panel-collapsed"));
      } else {
        handled = false;
      }
      if (handled) event.preventDefault();
      return;
    }
    if (event.key === "?" && !typing(event.target) && help && !help.open) {
      event.preventDefault();
      help.showModal();
    }
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-shortcuts-open]") && help) help.showModal();
  });
  // After a switch the focus would be lost with the removed button: put it on the new session's.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!(event.detail.target && event.detail.target.id === "session-pane")) return;
    const current = document.querySelector('#session-list [aria-current="page"]');
    if (current && (document.activeElement === document.body || !document.activeElement)) current.focus();
  });
})();
