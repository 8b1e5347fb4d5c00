/* Tessera console helpers: clipboard, menus, and the workspace event stream. No build step. */
(function () {
  "use strict";

  /** Copy text to the clipboard; falls back to a hidden textarea where the Clipboard API is missing. */
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy failed"));
      } catch (err) {
        reject(err);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  /**
   * TesseraEvents: one WebSocket per page to /ws/console/<slug>/events/. Every JSON message
   * {"type": "x.y", ...} is dispatched on `document` as a CustomEvent "tessera:x.y" (detail = message).
   * Listen with document.addEventListener("tessera:connected", e => ...) or Alpine's
   * @tessera:connected.document. Reconnects with backoff; never connects without a workspace.
   */
  var TesseraEvents = {
    socket: null,
    slug: null,
    retries: 0,
    url: function (slug) {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      return scheme + window.location.host + "/ws/console/" + encodeURIComponent(slug) + "/events/";
    },
    connect: function (slug) {
      if (!slug || !("WebSocket" in window)) return null;
      var self = this;
      self.slug = slug;
      var socket = new WebSocket(self.url(slug));
      self.socket = socket;
      socket.addEventListener("open", function () { self.retries = 0; });
      socket.addEventListener("message", function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (err) { return; }
        if (!data || typeof data.type !== "string") return;
        document.dispatchEvent(new CustomEvent("tessera:" + data.type, { detail: data }));
      });
      socket.addEventListener("close", function (event) {
        // 4403: not a member (or the workspace is not ready); do not hammer the server.
        if (event.code === 4403 || self.socket !== socket) return;
        var delay = Math.min(30000, 1000 * Math.pow(2, self.retries++));
        window.setTimeout(function () { self.connect(slug); }, delay);
      });
      return socket;
    },
    send: function (message) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify(message));
        return true;
      }
      return false;
    },
    close: function () {
      var socket = this.socket;
      this.socket = null;
      if (socket) socket.close();
    }
  };

  /** Close open <details class="menu"> when clicking elsewhere or pressing Escape. */
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest ? event.target.closest("details.menu") : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var shell = document.querySelector("[data-workspace-slug]");
    if (shell) TesseraEvents.connect(shell.getAttribute("data-workspace-slug"));
  });

  window.Tessera = { copy: copy };
  window.TesseraEvents = TesseraEvents;
})();
