/* The text-generation WebApp (/completion/<code>): an Alpine component over /webapp/<code>/api/.
 *
 * Run once streams the result as Server-Sent Events from a fetch() body (the events of
 * /v1/completion-messages); Markdown goes through marked and then DOMPurify, and raw HTML in the
 * model's output is shown as text. Saved results and batches live on the server, per browser
 * (the end-user cookie); a running batch is polled once a second until it finishes.
 * Every write carries the X-Tessera-WebApp header, which the server requires instead of a CSRF
 * token (see apps/applications/webapp/api.py).
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("wa-boot").textContent);
  const API = boot.api;
  const S = Object.assign({}, boot.strings, document.getElementById("wa-completion-strings").dataset);
  const POLL_MS = 1000;

  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  if (window.marked) {
    window.marked.use({ renderer: { html(token) { return escapeHtml(token.text != null ? token.text : token); } } });
  }
  if (window.DOMPurify) {
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.getAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
  }

  function md(text) {
    if (!window.marked || !window.DOMPurify) return escapeHtml(text);
    const html = window.marked.parse(text || "", { gfm: true, breaks: true });
    return window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input"] });
  }

  async function call(path, { method = "GET", json, form } = {}) {
    const headers = { "X-Tessera-WebApp": "1" };
    let body = form;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    return fetch(API + "/" + path, { method, headers, body, credentials: "same-origin" });
  }

  async function callJson(path, options) {
    const response = await call(path, options);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || S.error);
    return data;
  }

  /* Hand each `data:` payload of an SSE body to onEvent. */
  async function eachEvent(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true });
      let end;
      while ((end = pending.indexOf("\n\n")) >= 0) {
        const lines = pending.slice(0, end).split("\n").filter((l) => l.startsWith("data:"));
        pending = pending.slice(end + 2);
        if (!lines.length) continue;
        try { onEvent(JSON.parse(lines.map((l) => l.slice(5).trim()).join("\n"))); } catch (e) { /* skipped */ }
      }
    }
  }

  function fieldsOf(parameters) {
    return (parameters.user_input_form || []).map((entry) => {
      const type = Object.keys(entry)[0];
      const spec = entry[type] || {};
      return { type, variable: spec.variable, label: spec.label || spec.variable, required: !!spec.required,
        options: spec.options || [], max_length: spec.max_length, default: spec.default };
    }).filter((f) => f.variable && f.type !== "external_data_tool");
  }

  let seq = 0;

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("waCompletion", () => ({
      api: API,
      strings: S,
      fields: fieldsOf(boot.parameters),
      moreLikeThis: !!(boot.parameters.more_like_this || {}).enabled,
      tab: "once",
      inputs: {},
      errors: {},
      results: [],
      saved: [],
      busy: false,
      taskId: "",
      notice: "",
      batch: null,
      batchTimer: null,

      init() {
        this.clearForm();
        this.loadSaved();
        this.loadLatestBatch();
      },

      md,
      escape: escapeHtml,

      get batchRunning() { return !!this.batch && this.batch.status !== "finished"; },

      clearForm() {
        for (const f of this.fields) {
          this.inputs[f.variable] = f.type === "checkbox" ? !!f.default : (f.default == null ? "" : String(f.default));
        }
        this.errors = {};
      },

      inputsText(inputs) {
        return this.fields.map((f) => f.label + ": " + (inputs[f.variable] == null ? "" : inputs[f.variable]))
          .join(" · ");
      },

      validate() {
        const errors = {};
        for (const f of this.fields) {
          const value = this.inputs[f.variable];
          if (f.required && f.type !== "checkbox" && (value == null || String(value).trim() === "")) {
            errors[f.variable] = S.required.replace("%(label)s", f.label);
          }
        }
        this.errors = errors;
        return !Object.keys(errors).length;
      },

      cleanInputs() {
        const out = {};
        for (const f of this.fields) {
          let value = this.inputs[f.variable];
          if (f.type === "number") value = value === "" || value == null ? null : Number(value);
          out[f.variable] = value;
        }
        return out;
      },

      run() {
        if (this.busy) return;
        if (!this.validate()) {
          const first = this.fields.find((f) => this.errors[f.variable]);
          if (first) document.getElementById("var-" + first.variable)?.focus();
          return;
        }
        this.stream("completion-messages", { inputs: this.cleanInputs(), response_mode: "streaming" }, false);
      },

      more(result) {
        if (this.busy) return;
        this.stream("messages/" + result.id + "/more-like-this", {}, true);
      },

      /* One streamed result, added on top of the list. */
      async stream(path, body, moreLikeThis) {
        this.notice = "";
        this.results.unshift({ key: ++seq, id: "", answer: "", streaming: true, error: "", stopped: false,
          rating: null, saved: false, moreLikeThis });
        const live = this.results[0];
        this.busy = true;
        try {
          const response = await call(path, { method: "POST", json: body });
          if (!response.ok) {
            let data = null;
            try { data = await response.json(); } catch (e) { data = null; }
            live.error = (data && data.message) || S.error;
            return;
          }
          await eachEvent(response, (event) => {
            if (event.task_id) this.taskId = event.task_id;
            if (event.message_id) live.id = event.message_id;
            if (event.event === "message") live.answer += event.answer || "";
            else if (event.event === "message_replace") live.answer = event.answer || "";
            else if (event.event === "error") live.error = event.message || S.error;
          });
        } catch (e) {
          live.error = S.error;
        } finally {
          live.streaming = false;
          this.busy = false;
          this.taskId = "";
        }
      },

      async stop() {
        if (!this.taskId) return;
        const live = this.results[0];
        try {
          await callJson("completion-messages/" + this.taskId + "/stop", { method: "POST", json: {} });
          if (live) live.stopped = true;
        } catch (e) { /* the result ends anyway */ }
      },

      async rate(result, rating) {
        const next = result.rating === rating ? null : rating;
        try {
          await callJson("messages/" + result.id + "/feedbacks", { method: "POST", json: { rating: next } });
          result.rating = next;
        } catch (e) {
          this.notice = e.message;
        }
      },

      async copy(text) {
        try { await navigator.clipboard.writeText(text); this.notice = ""; } catch (e) { /* no clipboard */ }
      },

      async toggleSave(result) {
        try {
          if (result.saved) {
            await this.unsave(result.id);
          } else {
            await callJson("saved-messages", { method: "POST", json: { message_id: result.id } });
            result.saved = true;
            await this.loadSaved();
          }
        } catch (e) {
          this.notice = e.message;
        }
      },

      async unsave(messageId) {
        try {
          const response = await call("saved-messages/" + messageId, { method: "DELETE" });
          if (!response.ok && response.status !== 404) throw new Error(S.error);
          for (const r of this.results) if (r.id === messageId) r.saved = false;
          this.saved = this.saved.filter((s) => s.id !== messageId);
        } catch (e) {
          this.notice = e.message;
        }
      },

      async loadSaved() {
        try {
          const page = await callJson("saved-messages?limit=100");
          this.saved = page.data;
        } catch (e) {
          this.notice = e.message;
        }
      },

      openSaved() {
        this.tab = "saved";
        this.loadSaved();
      },

      async loadLatestBatch() {
        try {
          const list = await callJson("completion-batches");
          if (list.data.length) await this.pollBatch(list.data[0].id);
        } catch (e) { /* no batch yet */ }
      },

      async uploadBatch() {
        const file = this.$refs.batchFile.files[0];
        if (!file) { this.notice = S.chooseFile; return; }
        this.notice = "";
        const form = new FormData();
        form.append("file", file);
        try {
          this.batch = await callJson("completion-batches", { method: "POST", form });
          this.$refs.batchFile.value = "";
          this.schedulePoll();
        } catch (e) {
          this.notice = e.message;
        }
      },

      schedulePoll() {
        clearTimeout(this.batchTimer);
        if (this.batchRunning) this.batchTimer = setTimeout(() => this.pollBatch(this.batch.id), POLL_MS);
      },

      async pollBatch(id) {
        try {
          this.batch = await callJson("completion-batches/" + id);
        } catch (e) {
          this.notice = e.message;
          return;
        }
        this.schedulePoll();
      },
    }));
  });
})();
