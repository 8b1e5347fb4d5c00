/* The text-generation WebApp (/completion/<code>): an Alpine component over /webapp/<code>/api/,
 * with the helpers of webapp-common.js (API calls, SSE, safe Markdown, the variables form).
 *
 * Run once streams the result as Server-Sent Events from a fetch() body (the events of
 * /v1/completion-messages). Saved results and batches live on the server, per browser (the
 * end-user cookie); the batch panel is TesseraWebApp.withBatch's.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("wa-boot").textContent);
  const API = boot.api;
  const S = Object.assign({}, boot.strings, document.getElementById("wa-completion-strings").dataset);

  const W = window.TesseraWebApp;
  const { call, callJson, rate: rateAnswer } = W.client(API, S.error);

  let seq = 0;

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("waCompletion", () => W.withForm(S.required, W.withBatch(callJson, S, {
      api: API,
      strings: S,
      fields: W.formFields(boot.parameters),
      moreLikeThis: !!(boot.parameters.more_like_this || {}).enabled,
      tab: "once",
      results: [],
      saved: [],
      busy: false,
      taskId: "",
      notice: "",

      init() {
        this.clearForm();
        this.loadSaved();
        this.loadLatestBatch();
      },

      md: W.md,
      escape: W.escapeHtml,

      run() {
        if (this.busy) return;
        if (!this.validate()) return;
        this.stream("completion-messages", { inputs: W.cleanInputs(this.fields, this.inputs), response_mode: "streaming" }, false);
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
          await W.readSSE(response, (event) => {
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
        try {
          await rateAnswer(result, rating);
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
    })));
  });
})();
