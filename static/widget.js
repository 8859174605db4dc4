/* The embeddable chat snippet (CH-1):
     <script src="https://YOUR-SERVER/static/widget.js" data-workstream="WIDGET-KEY"
             data-identity-token="(optional: a JWT your site signs, see the README)" async></script>
   It adds one iframe, served by the chat server, holding the launcher button and the chat,
   so nothing in the host page's CSS or scripts can reach inside it. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var key = script.getAttribute("data-workstream");
  var identity = script.getAttribute("data-identity-token") || "";
  var origin = new URL(script.src, location.href).origin;
  var frame = document.createElement("iframe");
  frame.src = origin + "/chat/" + encodeURIComponent(key) + "/" + (identity ? "#identity=" + encodeURIComponent(identity) : "");
  frame.title = "Chat";
  frame.setAttribute("data-omnichannel-chat", "");

  function place(open) {
    var phone = window.matchMedia("(max-width: 600px)").matches;
    var style = {
      position: "fixed", border: "0", margin: "0", padding: "0", background: "transparent",
      "z-index": "2147483000", "color-scheme": "normal", "max-width": "100vw", "max-height": "100vh",
      display: "block", visibility: "visible", opacity: "1", transform: "none",
      inset: "auto 16px 16px auto", width: "190px", height: "64px",
    };
    if (open && phone) { style.inset = "0"; style.width = "100vw"; style.height = "100dvh"; }
    else if (open) { style.width = "380px"; style.height = "min(620px, calc(100vh - 32px))"; }
    Object.keys(style).forEach(function (name) { frame.style.setProperty(name, style[name], "important"); });
  }
  place(false);
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    if (event.data && event.data.omnichannel === "resize") place(Boolean(event.data.open));
  });
  function add() { document.body.appendChild(frame); }
  if (document.body) add(); else document.addEventListener("DOMContentLoaded", add);
})();
