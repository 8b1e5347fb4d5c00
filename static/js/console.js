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

  /* Alpine components of console templates. Alpine is its CSP build (static/vendor/README.md): what
   * an x- attribute cannot say (arrow functions, statements, globals) lives here. */
  document.addEventListener("alpine:init", function () {
    var Alpine = window.Alpine;

    /** A Copy button: copies `text`, or its data-copy attribute, and says "Copied" for a moment. */
    Alpine.data("copyButton", function () {
      return {
        copied: false,
        copy: function (text) {
          var self = this;
          copy(text === undefined ? self.$el.getAttribute("data-copy") : text).then(function () {
            self.copied = true;
            window.setTimeout(function () { self.copied = false; }, 1800);
          });
        }
      };
    });

    /** The Embed dialog's script snippet as the options say; only what differs from the defaults is written. */
    Alpine.data("embedSnippet", function () {
      var esc = function (v) { return v.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"); };
      return {
        src: "", code: "", defaultColor: "", color: "", position: "right", text: "",
        init: function () {
          var data = this.$el.dataset;
          this.src = data.src; this.code = data.code;
          this.defaultColor = data.defaultColor; this.color = data.defaultColor;
        },
        get snippet() {
          var attrs = ' data-code="' + esc(this.code) + '"';
          if (this.color.toLowerCase() !== this.defaultColor) attrs += ' data-color="' + esc(this.color) + '"';
          if (this.position === "left") attrs += ' data-position="left"';
          if (this.text.trim()) attrs += ' data-button-text="' + esc(this.text.trim()) + '"';
          return '<script src="' + esc(this.src) + '"' + attrs + " defer></" + "script>";
        }
      };
    });

    /** App logs: the list with the conversation drawer; a clicked row is marked and opens it. */
    Alpine.data("logBrowser", function () {
      return {
        open: false,
        selectRow: function (event) {
          var row = event.currentTarget;
          this.$root.querySelectorAll(".log-row.is-selected").forEach(function (r) { r.classList.remove("is-selected"); });
          row.classList.add("is-selected");
          this.open = true;
        }
      };
    });

    /** Create app: picking a template fills mode, icon, name and description (unless the user typed their own). */
    Alpine.data("appNew", function () {
      return {
        template: "blank", mode: "chat", name: "", description: "", icon: "", bg: "", catalog: {}, last: null,
        init: function () {
          var data = this.$el.dataset;
          this.template = data.template; this.mode = data.mode; this.name = data.name;
          this.description = data.description; this.icon = data.icon; this.bg = data.bg;
          var source = document.getElementById("app-templates");
          this.catalog = source ? JSON.parse(source.textContent) : {};
          if (this.template !== "blank") this.last = this.catalog[this.template] || null;
        },
        pick: function (id) {
          var t = this.catalog[id], prev = this.last;
          this.last = t || null;
          if (!t) {
            if (prev && this.name === prev.name) { this.name = ""; this.description = ""; }
            return;
          }
          this.mode = t.mode; this.icon = t.icon; this.bg = t.icon_background;
          if (!this.name || (prev && this.name === prev.name)) this.name = t.name;
          if (!this.description || (prev && this.description === prev.description)) this.description = t.description;
        }
      };
    });
  });

  window.Tessera = { copy: copy };
  window.TesseraEvents = TesseraEvents;
})();
