/* Tessera chat widget (WEB-04): one <script> tag draws a chat bubble on any site and talks to a
 * published chat app over WebSocket at /ws/chat/<code>/, with the Service API's events.
 *
 *   <script src="https://tessera.example/webapp/embed.js" data-code="CODE" defer></script>
 *
 * Options, as data-attributes of the tag or in window.TesseraChatConfig = {...} set before it
 * (the attributes win): code, color (the accent, default #0e6b63), textColor (on the accent,
 * default white), position ("right" or "left"), buttonText (a label beside the bubble), open
 * ("true": open at load), inputs (JSON: the app's variables, which then skip the start form).
 *
 * No dependencies. Everything lives in a shadow root, so the host page's styles neither leak in
 * nor out. Model output is only ever set as textContent: an answer containing <script> shows as
 * that text. The end user's token is kept in localStorage per code, so a visitor keeps their
 * conversation across pages and visits.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-code][src*="/webapp/embed.js"]');
  if (!script) return;
  var global = window.TesseraChatConfig || {};
  function opt(name, attr, fallback) {
    var value = script.getAttribute("data-" + attr);
    if (value !== null && value !== "") return value;
    return global[name] !== undefined && global[name] !== null ? global[name] : fallback;
  }

  var code = String(opt("code", "code", ""));
  if (!/^[-A-Za-z0-9_]{1,32}$/.test(code)) return;
  if (window.__tesseraChat && window.__tesseraChat[code]) return; // one widget per code and page
  (window.__tesseraChat = window.__tesseraChat || {})[code] = true;

  var origin = new URL(script.src, location.href).origin;
  var socketUrl = origin.replace(/^http/, "ws") + "/ws/chat/" + code + "/";
  var color = /^#[0-9a-fA-F]{3,8}$/.test(opt("color", "color", "")) ? opt("color", "color", "") : "#0e6b63";
  var textColor = /^#[0-9a-fA-F]{3,8}$/.test(opt("textColor", "text-color", "")) ? opt("textColor", "text-color", "") : "#ffffff";
  var side = opt("position", "position", "right") === "left" ? "left" : "right";
  var buttonText = String(opt("buttonText", "button-text", "")).slice(0, 40);
  var preset = opt("inputs", "inputs", {});
  if (typeof preset === "string") {
    try { preset = JSON.parse(preset); } catch (e) { preset = {}; }
  }
  if (!preset || typeof preset !== "object") preset = {};

  var STORE = "tessera-chat:" + code;
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save(patch) {
    var data = load();
    for (var k in patch) data[k] = patch[k];
    try { localStorage.setItem(STORE, JSON.stringify(data)); } catch (e) { /* storage off: this visit only */ }
  }

  // Until the server sends the app's texts (in its language), these stand in.
  var S = {
    placeholder: "Type a message…", send: "Send", stop: "Stop", start: "Start chat", close: "Close",
    open: "Open the chat", newChat: "New conversation", stopped: "Stopped.",
    error: "Something went wrong. Please try again.", required: "Please fill in “%(label)s”.",
    unavailable: "This chat is not available on this site.",
  };

  // --- DOM -----------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  var CSS = [
    ":host{all:initial}",
    "[hidden]{display:none!important}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','PingFang SC','Hiragino Sans',sans-serif}",
    ".launcher{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;display:flex;align-items:center;gap:8px;",
    "height:56px;min-width:56px;padding:0 16px;border:0;border-radius:28px;background:var(--a);color:var(--t);cursor:pointer;",
    "box-shadow:0 6px 24px rgba(0,0,0,.18);font-size:15px;font-weight:600;justify-content:center}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid var(--a);outline-offset:2px}",
    ".launcher svg{width:26px;height:26px;flex:none}",
    ".panel{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483000;width:min(380px,calc(100vw - 24px));",
    "height:min(600px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;color:#1c2321;",
    "border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.22);overflow:hidden;font-size:14px;line-height:1.5}",
    "header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--a);color:var(--t)}",
    ".icon{width:32px;height:32px;border-radius:9px;display:grid;place-items:center;font-size:18px;background:rgba(255,255,255,.9)}",
    ".title{flex:1;font-weight:650;font-size:15px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    "header button{background:transparent;border:0;color:inherit;cursor:pointer;border-radius:8px;padding:6px;display:grid;place-items:center}",
    "header button:hover{background:rgba(255,255,255,.18)}",
    "header svg{width:18px;height:18px}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f6f7f6}",
    ".msg{max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".msg.user{align-self:flex-end;background:var(--a);color:var(--t);border-bottom-right-radius:4px}",
    ".msg.bot{align-self:flex-start;background:#fff;border:1px solid #e1e5e3;border-bottom-left-radius:4px}",
    ".msg.bot.typing:empty::after{content:'…';color:#6b7571}",
    ".msg.error{align-self:stretch;max-width:none;background:#fdeceb;color:#b42318;border:0}",
    ".thought{align-self:flex-start;max-width:85%;font-size:12px;color:#4a5450;border:1px solid #e1e5e3;border-radius:8px;background:#f6f8f7;padding:4px 8px}",
    ".thought summary{cursor:pointer}.thought pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0}",
    ".tool-image{align-self:flex-start;max-width:85%;border-radius:8px}",
    ".note{color:#6b7571;font-size:12px}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px}",
    ".chip{border:1px solid var(--a);color:var(--a);background:#fff;border-radius:999px;padding:4px 10px;cursor:pointer;font-size:13px}",
    "form.inputs{display:flex;flex-direction:column;gap:10px;padding:12px;background:#fff;border:1px solid #e1e5e3;border-radius:12px}",
    "label{display:flex;flex-direction:column;gap:4px;font-weight:600;font-size:13px}",
    "input,select,textarea{font:inherit;font-weight:400;color:#1c2321;border:1px solid #c9d0cd;border-radius:8px;padding:7px 9px;background:#fff}",
    ".composer{display:flex;gap:8px;padding:10px;border-top:1px solid #e1e5e3;background:#fff}",
    ".composer textarea{flex:1;resize:none;max-height:120px}",
    ".btn{border:0;border-radius:10px;padding:0 14px;min-height:38px;background:var(--a);color:var(--t);font-weight:600;cursor:pointer}",
    ".btn.ghost{background:#f0f2f1;color:#1c2321}",
    ".btn:disabled{opacity:.5;cursor:default}",
    "@media (max-width:480px){.panel{inset:0;width:auto;height:auto;border-radius:0}}",
  ].join("");

  var ICON_CHAT = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/></svg>';
  var ICON_X = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><path d="M18 6 6 18M6 6l12 12"/></svg>';
  var ICON_NEW = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><path d="M12 5v14M5 12h14"/></svg>';

  function svg(markup) {
    // Our own constant icons, parsed as SVG (never model or server text).
    var doc = new DOMParser().parseFromString(markup, "image/svg+xml");
    return document.importNode(doc.documentElement, true);
  }

  var host = el("div", { "data-tessera-chat": code });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("style", { text: CSS }));
  host.style.setProperty("--a", color);
  host.style.setProperty("--t", textColor);

  var launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false",
    "aria-label": S.open, part: "launcher" });
  launcher.appendChild(svg(ICON_CHAT));
  if (buttonText) launcher.appendChild(el("span", { text: buttonText }));

  var icon = el("span", { class: "icon", "aria-hidden": "true", text: "💬", hidden: "" });
  var title = el("span", { class: "title", text: "" });
  var newButton = el("button", { type: "button", title: S.newChat, "aria-label": S.newChat });
  newButton.appendChild(svg(ICON_NEW));
  var closeButton = el("button", { type: "button", title: S.close, "aria-label": S.close });
  closeButton.appendChild(svg(ICON_X));
  var log = el("div", { class: "log", role: "log", "aria-live": "polite" });
  var query = el("textarea", { rows: "1", placeholder: S.placeholder, "aria-label": S.placeholder });
  var sendButton = el("button", { type: "submit", class: "btn", text: S.send });
  var composer = el("form", { class: "composer" }, [query, sendButton]);
  var panel = el("div", { class: "panel", role: "dialog", "aria-label": "Chat", hidden: "" },
    [el("header", {}, [icon, title, newButton, closeButton]), log, composer]);
  root.appendChild(panel);
  root.appendChild(launcher);

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // --- State ---------------------------------------------------------------------------------------
  var socket = null;
  var ready = false; // a session event arrived on this socket
  var drawn = false; // the conversation was drawn once (reconnects do not redraw it)
  var refused = false; // the server would not open the socket (origin or code): stop trying
  var queue = []; // messages waiting for the socket
  var params = null;
  var inputs = {};
  var running = null; // { taskId, node }
  var stored = load();
  var conversationId = stored.conversation_id || null;

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function bubble(kind, text) {
    var node = el("div", { class: "msg " + kind, text: text || "" });
    log.appendChild(node);
    scrollDown();
    return node;
  }

  /** A step of an agent's turn (AG-09): the tool, its input and output, collapsed; drawn before
      the answer's bubble and redrawn as the same step grows. Text only, like every answer. */
  function thought(data, before, known) {
    if (!data.tool) return null;
    var node = known || el("details", { class: "thought" });
    node.textContent = "";
    node.appendChild(el("summary", { text: data.tool.split(";").join(", ") + (data.observation ? "" : " …") }));
    node.appendChild(el("pre", { text: data.tool_input || "" }));
    if (data.observation) node.appendChild(el("pre", { text: data.observation }));
    if (!known) log.insertBefore(node, before || null);
    return node;
  }

  function toolImage(url, before) {
    if (!/^https?:/.test(url || "")) return;
    log.insertBefore(el("img", { class: "tool-image", src: url, alt: "" }), before || null);
  }

  function showError(text) {
    var node = bubble("error", text);
    node.setAttribute("role", "alert");
  }

  function fill(template) {
    return String(template || "").replace(/\{\{\s*([\w-]+)\s*\}\}/g, function (m, name) {
      return inputs[name] !== undefined ? String(inputs[name]) : "";
    });
  }

  function fields() {
    return ((params && params.user_input_form) || []).map(function (item) {
      var type = Object.keys(item)[0];
      var f = item[type] || {};
      return { type: type, variable: f.variable, label: f.label || f.variable, required: !!f.required,
        options: f.options || [], max: f.max_length, value: f["default"] };
    }).filter(function (f) { return f.variable; });
  }

  function missingRequired() {
    return fields().some(function (f) {
      return f.required && (inputs[f.variable] === undefined || String(inputs[f.variable]).trim() === "");
    });
  }

  function setBusy(value) {
    sendButton.textContent = value ? S.stop : S.send;
    sendButton.classList.toggle("ghost", !!value);
  }

  // --- Drawing --------------------------------------------------------------------------------------
  function opener() {
    if (!params) return;
    if (params.opening_statement) bubble("bot", fill(params.opening_statement));
    var questions = params.suggested_questions || [];
    if (questions.length) {
      var chips = el("div", { class: "chips" });
      questions.forEach(function (q) {
        var chip = el("button", { type: "button", class: "chip", text: q });
        chip.addEventListener("click", function () { chips.remove(); ask(q); });
        chips.appendChild(chip);
      });
      log.appendChild(chips);
    }
  }

  function inputsForm() {
    var form = el("form", { class: "inputs", novalidate: "" });
    fields().forEach(function (f) {
      var control;
      if (f.type === "select") {
        control = el("select", { name: f.variable });
        f.options.forEach(function (o) { control.appendChild(el("option", { value: o, text: o })); });
      } else if (f.type === "paragraph") {
        control = el("textarea", { name: f.variable, rows: "3" });
      } else {
        control = el("input", { name: f.variable, type: f.type === "number" ? "number" : "text" });
        if (f.max) control.setAttribute("maxlength", String(f.max));
      }
      var start = inputs[f.variable] !== undefined ? inputs[f.variable] : f.value;
      if (start !== undefined && start !== null) control.value = String(start);
      form.appendChild(el("label", {}, [el("span", { text: f.label + (f.required ? " *" : "") }), control]));
    });
    form.appendChild(el("button", { type: "submit", class: "btn", text: S.start }));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var values = {};
      var problem = null;
      fields().forEach(function (f) {
        var value = form.elements[f.variable].value;
        if (f.required && !String(value).trim() && !problem) problem = S.required.replace("%(label)s", f.label);
        if (value !== "") values[f.variable] = f.type === "number" ? Number(value) : value;
      });
      var old = form.querySelector(".msg.error");
      if (old) old.remove();
      if (problem) {
        form.insertBefore(el("div", { class: "msg error", role: "alert", text: problem }), form.lastChild);
        return;
      }
      inputs = values;
      save({ inputs: inputs });
      form.remove();
      composer.hidden = false;
      opener();
      query.focus();
    });
    log.appendChild(form);
    composer.hidden = true;
  }

  function startConversation(history) {
    log.textContent = "";
    if (history && history.length) {
      history.forEach(function (m) {
        if (m.query) bubble("user", m.query);
        (m.agent_thoughts || []).forEach(function (t) { thought(t, null, null); });
        (m.message_files || []).forEach(function (f) { if (f.belongs_to === "assistant" && f.type === "image") toolImage(f.url, null); });
        bubble("bot", m.answer || "");
      });
      return;
    }
    if (missingRequired()) inputsForm(); else { composer.hidden = false; opener(); }
  }

  function applyStrings(strings) {
    for (var k in strings || {}) S[k] = strings[k];
    query.placeholder = S.placeholder;
    query.setAttribute("aria-label", S.placeholder);
    launcher.setAttribute("aria-label", S.open);
    newButton.title = S.newChat; newButton.setAttribute("aria-label", S.newChat);
    closeButton.title = S.close; closeButton.setAttribute("aria-label", S.close);
    setBusy(!!running);
  }

  // --- Socket ---------------------------------------------------------------------------------------
  function send(message) {
    if (socket && socket.readyState === 1 && ready) socket.send(JSON.stringify(message));
    else { queue.push(message); connect(); }
  }

  function connect() {
    if (refused || (socket && socket.readyState <= 1)) return;
    ready = false;
    socket = new WebSocket(socketUrl);
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "session", token: load().token || null, conversation_id: conversationId }));
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handle(data);
    };
    socket.onclose = function () {
      var wasReady = ready;
      socket = null;
      ready = false;
      if (running) {
        if (!running.node.textContent) running.node.remove();
        finish();
        if (wasReady) showError(S.error); // the answer is still stored; the next message reconnects
      }
      if (!wasReady) {
        // Closed before the session: the server refused this page (origin, code or switched off).
        refused = true;
        queue = [];
        showError(S.unavailable);
        composer.hidden = true;
      }
    };
  }

  function handle(data) {
    switch (data.event) {
      case "session": {
        ready = true;
        save({ token: data.token });
        params = data.parameters || {};
        applyStrings(data.strings);
        var site = data.site || {};
        title.textContent = site.title || "";
        panel.setAttribute("aria-label", site.title || "Chat");
        if (site.icon) { icon.textContent = site.icon; icon.style.background = site.icon_background || ""; }
        icon.hidden = false;
        var savedInputs = load().inputs || {};
        inputs = {};
        for (var k in savedInputs) inputs[k] = savedInputs[k];
        for (var p in preset) inputs[p] = preset[p];
        conversationId = data.conversation_id || null;
        save({ conversation_id: conversationId });
        if (!drawn) { drawn = true; startConversation(data.messages); } // a reconnect keeps what is shown
        var waiting = queue;
        queue = [];
        waiting.forEach(send);
        break;
      }
      case "message":
      case "agent_message":
        if (!running) return;
        running.taskId = data.task_id;
        running.node.textContent += data.answer || "";
        scrollDown();
        break;
      case "message_replace":
        if (running) running.node.textContent = data.answer || "";
        break;
      case "agent_thought":
        if (!running) return;
        running.taskId = data.task_id;
        running.thoughts = running.thoughts || {};
        var shown = thought(data, running.node, running.thoughts[data.id]);
        if (shown) running.thoughts[data.id] = shown;
        scrollDown();
        break;
      case "message_file":
        if (running && data.type === "image") toolImage(data.url, running.node);
        break;
      case "message_end":
        if (data.conversation_id) { conversationId = data.conversation_id; save({ conversation_id: conversationId }); }
        finish();
        break;
      case "error":
        if (running) {
          if (!running.node.textContent) running.node.remove();
          finish();
        }
        showError(data.message || S.error);
        break;
      default:
        if (running && data.task_id) running.taskId = data.task_id; // chatflow node events
    }
  }

  function finish() {
    if (running) running.node.classList.remove("typing");
    running = null;
    setBusy(false);
  }

  function ask(text) {
    text = String(text || "").trim();
    if (!text || running || refused) return;
    bubble("user", text);
    running = { taskId: null, node: bubble("bot typing", "") };
    setBusy(true);
    send({ type: "chat", query: text, inputs: inputs, conversation_id: conversationId });
  }

  // --- Wiring ---------------------------------------------------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      connect();
      setTimeout(function () { query.focus(); }, 0);
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { setOpen(false); launcher.focus(); }
  });
  newButton.addEventListener("click", function () {
    if (running || refused) return;
    conversationId = null;
    save({ conversation_id: null });
    startConversation([]);
  });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    if (running) {
      if (running.taskId) send({ type: "stop", task_id: running.taskId });
      return;
    }
    var text = query.value;
    query.value = "";
    ask(text);
  });
  query.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  if (String(opt("open", "open", "")) === "true") setOpen(true);
})();
