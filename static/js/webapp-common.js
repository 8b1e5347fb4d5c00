/* What the WebApp pages share (webapp-chat.js, webapp-completion.js, webapp-workflow.js): talking
 * to /webapp/<code>/api/, reading an SSE body, the variables form, safe Markdown, batch runs.
 *
 * Model output is Markdown: marked turns it into HTML and DOMPurify strips everything executable
 * before it reaches the page, so an answer containing <script> shows as text, never runs.
 * Every write carries the X-Tessera-WebApp header, which the server requires instead of a CSRF
 * token (see apps/applications/webapp/api.py).
 * Load after vendor/marked.umd.js and vendor/purify.min.js (all `defer`, in order).
 */
window.TesseraWebApp = (function () {
  "use strict";

  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  // Raw HTML in model output is shown as the text it is (an answer that says "<script>" shows
  // "<script>"), not interpreted; DOMPurify below is the second line of defence.
  if (window.marked) {
    window.marked.use({ renderer: { html(token) { return escapeHtml(token.text != null ? token.text : token); } } });
  }
  if (window.DOMPurify) {
    // Links from model output open in a new tab and carry no referrer or opener.
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.getAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
  }

  /* x-safe-html="expr": Alpine's CSP build refuses x-html, so the pages' Markdown goes in through
   * this directive, which sanitises whatever the expression gives (md() output, escaped text)
   * once more before it becomes the element's HTML. */
  document.addEventListener("alpine:init", () => {
    window.Alpine.directive("safe-html", (el, { expression }, { effect, evaluateLater }) => {
      const get = evaluateLater(expression);
      effect(() => get((value) => {
        const html = value == null ? "" : String(value);
        el.innerHTML = window.DOMPurify
          ? window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input"] })
          : escapeHtml(html);
      }));
    });
  });

  function md(text) {
    if (!window.marked || !window.DOMPurify) return escapeHtml(text);
    const html = window.marked.parse(text || "", { gfm: true, breaks: true });
    return window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input"] });
  }

  /* fetch() under the page's API base: {call, callJson}. callJson throws an Error carrying the
   * API's message, status and code. */
  function client(base, fallbackMessage) {
    async function call(path, { method = "GET", json, form } = {}) {
      const headers = { "X-Tessera-WebApp": "1" };
      let body = form;
      if (json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(json);
      }
      return fetch(base + "/" + path, { method, headers, body, credentials: "same-origin" });
    }

    async function callJson(path, options) {
      const response = await call(path, options);
      const text = await response.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
      if (!response.ok) {
        const error = new Error((data && data.message) || fallbackMessage);
        error.status = response.status;
        error.code = data && data.code;
        throw error;
      }
      return data;
    }

    /* Like, dislike, or (the same again) take it back, on an answer {id, rating}. */
    async function rate(item, rating) {
      const next = item.rating === rating ? null : rating;
      await callJson("messages/" + item.id + "/feedbacks", { method: "POST", json: { rating: next } });
      item.rating = next;
    }

    return { call, callJson, rate };
  }

  /* Split a fetch() body into SSE events and hand each parsed `data:` payload to onEvent. */
  async function readSSE(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const data = buffer.slice(0, cut).split("\n").filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trim()).join("\n");
        buffer = buffer.slice(cut + 2);
        if (data) {
          try { onEvent(JSON.parse(data)); } catch (e) { /* a malformed block is skipped */ }
        }
      }
    }
  }

  /* The app's user_input_form (the parameters endpoint's shape) as flat field descriptions. */
  function formFields(parameters) {
    const fields = [];
    for (const entry of parameters.user_input_form || []) {
      const type = Object.keys(entry)[0];
      const spec = entry[type] || {};
      if (!spec.variable || type === "external_data_tool") continue;
      fields.push({ type, variable: spec.variable, label: spec.label || spec.variable, required: !!spec.required,
        options: spec.options || [], max_length: spec.max_length, default: spec.default });
    }
    return fields;
  }

  const FILE_TYPES = ["file", "file-list"];

  /* Required fields left empty: {variable: message}; `requiredText` has a %(label)s slot. */
  function missingFields(fields, inputs, requiredText) {
    const errors = {};
    for (const f of fields) {
      const value = inputs[f.variable];
      const empty = FILE_TYPES.includes(f.type) ? value == null || (Array.isArray(value) && !value.length)
        : value == null || String(value).trim() === "";
      if (f.required && f.type !== "checkbox" && empty) {
        errors[f.variable] = requiredText.replace("%(label)s", f.label);
      }
    }
    return errors;
  }

  /* The form's values as the API wants them (numbers as numbers, empty numbers as null, files as
   * the file objects their upload gave). */
  function cleanInputs(fields, inputs) {
    const out = {};
    for (const f of fields) {
      let value = inputs[f.variable];
      if (f.type === "number") value = value === "" || value == null ? null : Number(value);
      out[f.variable] = value;
    }
    return out;
  }

  /* Each field's starting value: its default, or empty. */
  function initialInputs(fields) {
    const inputs = {};
    for (const f of fields) {
      if (FILE_TYPES.includes(f.type)) inputs[f.variable] = null;
      else inputs[f.variable] = f.type === "checkbox" ? !!f.default : (f.default == null ? "" : String(f.default));
    }
    return inputs;
  }

  /* The batch panel (templates/webapp/_batch.html) mixed into a page component with `fields`:
   * upload a CSV, then poll the batch once a second until it finishes. Getters are kept (Alpine
   * reads batchRunning as a property). */
  function withBatch(callJson, strings, component) {
    const panel = {
      batch: null,
      batchTimer: null,

      get batchRunning() { return !!this.batch && this.batch.status !== "finished"; },

      inputsText(inputs) {
        return this.fields.map((f) => f.label + ": " + (inputs[f.variable] == null ? "" : inputs[f.variable]))
          .join(" · ");
      },

      async loadLatestBatch() {
        try {
          const list = await callJson("completion-batches");
          if (list.data.length) await this.pollBatch(list.data[0].id);
        } catch (e) { /* no batch yet */ }
      },

      async uploadBatch() {
        const file = this.$refs.batchFile.files[0];
        if (!file) { this.notice = strings.chooseFile; return; }
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
        if (this.batchRunning) this.batchTimer = setTimeout(() => this.pollBatch(this.batch.id), 1000);
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
    };
    return Object.defineProperties(component, Object.getOwnPropertyDescriptors(panel));
  }

  /* Run once's form (templates/webapp/_run_form.html) mixed into a component with `fields`:
   * the inputs, their errors, Clear, and a check that focuses the first missing field. */
  function withForm(requiredText, component) {
    const form = {
      inputs: {},
      errors: {},

      clearForm() {
        this.inputs = initialInputs(this.fields);
        this.errors = {};
        document.querySelectorAll(".wa-vars input[type=file]").forEach((input) => { input.value = ""; });
      },

      validate() {
        this.errors = missingFields(this.fields, this.inputs, requiredText);
        const first = this.fields.find((f) => this.errors[f.variable]);
        if (first) document.getElementById("var-" + first.variable)?.focus();
        return !first;
      },
    };
    return Object.defineProperties(component, Object.getOwnPropertyDescriptors(form));
  }

  return { escapeHtml, md, client, readSSE, formFields, missingFields, cleanInputs, initialInputs, withBatch,
    withForm };
})();
