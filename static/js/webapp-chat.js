/* The chat WebApp (/chat/<code>): an Alpine component over /webapp/<code>/api/.
 *
 * Answers stream as Server-Sent Events from a fetch() body (the same events as /v1/chat-messages).
 * API calls, SSE, safe Markdown and the variables form come from webapp-common.js.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("wa-boot").textContent);
  const API = boot.api;
  const S = boot.strings;

  const W = window.TesseraWebApp;  // webapp-common.js
  const { escapeHtml, readSSE, formFields } = W;
  const { call: api, callJson: apiJson, rate: rateAnswer } = W.client(API, S.error);

  let keySeq = 0;

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("waChat", () => ({
      site: boot.site,
      strings: S,
      parameters: boot.parameters,
      fields: formFields(boot.parameters),
      inputs: {},
      errors: {},
      started: false,
      conversationId: "",
      currentName: "",
      messages: [],
      groups: [{ key: "pinned", items: [] }, { key: "recent", items: [] }],
      query: "",
      busy: false,
      taskId: "",
      notice: "",
      navOpen: false,
      renaming: null,
      renameValue: "",
      images: [],
      recording: false,
      recorder: null,
      features: {
        tts: !!(boot.parameters.text_to_speech || {}).enabled,
        stt: !!(boot.parameters.speech_to_text || {}).enabled,
        suggest: !!(boot.parameters.suggested_questions_after_answer || {}).enabled,
        image: !!((boot.parameters.file_upload || {}).image || {}).enabled,
      },

      init() {
        this.inputs = W.initialInputs(this.fields);
        this.started = this.fields.length === 0;
        this.loadConversations();
      },

      get ready() { return this.started || !!this.conversationId; },

      get openingText() {
        const text = this.parameters.opening_statement || "";
        return text.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (m, name) => {
          const value = this.inputs[name];
          return value == null ? "" : String(value);
        });
      },

      get starters() { return this.parameters.suggested_questions || []; },

      md: W.md,

      escape: escapeHtml,

      /** Enter sends; Shift+Enter and IME composition keep typing. */
      sendOnEnter(event) {
        if (event.shiftKey || event.isComposing) return;
        event.preventDefault();
        this.send();
      },

      focusSoon(el) { this.$nextTick(() => el.focus()); },

      validate() {
        this.errors = W.missingFields(this.fields, this.inputs, S.required);
        return Object.keys(this.errors).length === 0;
      },

      startChat() {
        if (!this.validate()) {
          const first = this.fields.find((f) => this.errors[f.variable]);
          if (first) document.getElementById("var-" + first.variable)?.focus();
          return;
        }
        this.started = true;
        this.$nextTick(() => this.$refs.query && this.$refs.query.focus());
      },

      cleanInputs() {
        return W.cleanInputs(this.fields, this.inputs);
      },

      async loadConversations() {
        try {
          const [pinned, recent] = await Promise.all([
            apiJson("conversations?pinned=true&limit=100"), apiJson("conversations?pinned=false&limit=100")]);
          this.groups[0].items = pinned.data;
          this.groups[1].items = recent.data;
        } catch (e) {
          this.notice = e.message;
        }
      },

      newConversation() {
        this.conversationId = "";
        this.currentName = "";
        this.messages = [];
        this.notice = "";
        this.started = this.fields.length === 0;
        this.navOpen = false;
      },

      async openConversation(c) {
        this.navOpen = false;
        this.notice = "";
        try {
          const page = await apiJson("messages?conversation_id=" + encodeURIComponent(c.id) + "&limit=100");
          this.conversationId = c.id;
          this.currentName = c.name;
          this.inputs = Object.assign({}, this.inputs, c.inputs || {});
          this.started = true;
          this.messages = page.data.map((m) => ({
            key: ++keySeq, id: m.id, query: m.query, answer: m.answer, streaming: false,
            error: m.status === "error" ? (m.error || S.error) : "",
            rating: m.feedback ? m.feedback.rating : null, citations: m.retriever_resources || [], suggestions: [],
            images: (m.message_files || []).filter((f) => f.belongs_to !== "assistant").map((f) => f.url).filter(Boolean),
            thoughts: m.agent_thoughts || [], files: (m.message_files || []).filter((f) => f.belongs_to === "assistant"),
          }));
          this.scrollDown();
        } catch (e) {
          this.notice = e.message;
        }
      },

      scrollDown() {
        this.$nextTick(() => { const t = this.$refs.thread; if (t) t.scrollTop = t.scrollHeight; });
      },

      async send(text) {
        const query = (text != null ? text : this.query).trim();
        if (!query || this.busy) return;
        if (!this.ready) { this.startChat(); if (!this.ready) return; }
        this.notice = "";
        this.query = "";
        for (const m of this.messages) m.suggestions = [];
        const message = { key: ++keySeq, id: "", query, answer: "", streaming: true, error: "", rating: null,
          citations: [], suggestions: [], images: this.images.map((i) => i.preview), thoughts: [], files: [] };
        this.messages.push(message);
        const live = this.messages[this.messages.length - 1];  // Alpine's reactive proxy
        const files = this.images.map((i) => ({ type: "image", transfer_method: "local_file", upload_file_id: i.id }));
        this.images = [];
        this.busy = true;
        this.scrollDown();
        const isNew = !this.conversationId;
        try {
          const response = await api("chat-messages", { method: "POST", json: {
            inputs: this.cleanInputs(), query, conversation_id: this.conversationId, files,
            response_mode: "streaming", auto_generate_name: true } });
          if (!response.ok) {
            let data = null;
            try { data = await response.json(); } catch (e) { data = null; }
            live.error = (data && data.message) || S.error;
            return;
          }
          await readSSE(response, (event) => {
            if (event.task_id) this.taskId = event.task_id;
            if (event.conversation_id && !this.conversationId) this.conversationId = event.conversation_id;
            if (event.message_id) live.id = event.message_id;
            if (event.event === "message" || event.event === "agent_message") {
              live.answer += event.answer || "";
              this.scrollDown();
            } else if (event.event === "agent_thought") {
              // A step of an agent's turn: the same id comes again as the step grows (AG-09, WEB-15).
              const known = live.thoughts.find((t) => t.id === event.id);
              if (known) Object.assign(known, event); else live.thoughts.push(event);
              this.scrollDown();
            } else if (event.event === "message_file") {
              live.files.push(event);
            } else if (event.event === "message_replace") {
              live.answer = event.answer || "";
            } else if (event.event === "message_end") {
              live.citations = (event.metadata && event.metadata.retriever_resources) || [];
            } else if (event.event === "error") {
              live.error = event.message || S.error;
            }
          });
        } catch (e) {
          live.error = S.error;
        } finally {
          live.streaming = false;
          this.busy = false;
          this.taskId = "";
        }
        if (isNew && this.conversationId) this.loadConversations();
        if (!live.error && live.id && this.features.suggest) this.suggest(live);
        this.scrollDown();
      },

      async suggest(message) {
        try {
          const data = await apiJson("messages/" + message.id + "/suggested");
          message.suggestions = data.data || [];
          this.scrollDown();
        } catch (e) { /* suggestions are optional */ }
      },

      async stop() {
        if (!this.taskId) return;
        try { await apiJson("chat-messages/" + this.taskId + "/stop", { method: "POST", json: {} }); } catch (e) { /* ignore */ }
      },

      async rate(message, rating) {
        try {
          await rateAnswer(message, rating);
        } catch (e) {
          this.notice = e.message;
        }
      },

      async copy(message) {
        try { await navigator.clipboard.writeText(message.answer); this.notice = S.copied; } catch (e) { /* no clipboard */ }
      },

      async speak(message) {
        try {
          const response = await api("text-to-audio", { method: "POST", json: { message_id: message.id } });
          if (!response.ok) throw new Error(S.error);
          const url = URL.createObjectURL(await response.blob());
          const audio = new Audio(url);
          audio.addEventListener("ended", () => URL.revokeObjectURL(url));
          await audio.play();
        } catch (e) {
          this.notice = S.error;
        }
      },

      async toggleMic() {
        if (this.recording && this.recorder) { this.recorder.stop(); return; }
        let stream;
        try {
          stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        } catch (e) {
          this.notice = S.micDenied;
          return;
        }
        const chunks = [];
        const recorder = new MediaRecorder(stream);
        recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
        recorder.addEventListener("stop", async () => {
          stream.getTracks().forEach((t) => t.stop());
          this.recording = false;
          const type = (recorder.mimeType || "audio/webm").split(";")[0];
          const form = new FormData();
          form.append("file", new Blob(chunks, { type }), "speech." + (type.split("/")[1] || "webm"));
          try {
            const data = await apiJson("audio-to-text", { method: "POST", form });
            this.query = (this.query ? this.query + " " : "") + (data.text || "");
          } catch (e) {
            this.notice = e.message;
          }
        });
        this.recorder = recorder;
        this.recording = true;
        recorder.start();
      },

      async upload(event) {
        const file = event.target.files && event.target.files[0];
        event.target.value = "";
        if (!file) return;
        const form = new FormData();
        form.append("file", file);
        try {
          const data = await apiJson("files/upload", { method: "POST", form });
          this.images.push({ id: data.id, preview: URL.createObjectURL(file) });
        } catch (e) {
          this.notice = S.uploadFailed + " " + e.message;
        }
      },

      startRename(c) {
        this.renaming = c.id;
        this.renameValue = c.name || "";
      },

      async saveRename(c) {
        const name = this.renameValue.trim();
        this.renaming = null;
        if (!name || name === c.name) return;
        try {
          await apiJson("conversations/" + c.id + "/name", { method: "POST", json: { name } });
          c.name = name;
          if (c.id === this.conversationId) this.currentName = name;
        } catch (e) {
          this.notice = e.message;
        }
      },

      async togglePin(c) {
        try {
          await apiJson("conversations/" + c.id + (c.pinned ? "/unpin" : "/pin"), { method: "POST", json: {} });
          await this.loadConversations();
        } catch (e) {
          this.notice = e.message;
        }
      },

      async remove(c) {
        if (!window.confirm(S.deleteConfirm)) return;
        try {
          await apiJson("conversations/" + c.id, { method: "DELETE" });
          if (c.id === this.conversationId) this.newConversation();
          await this.loadConversations();
        } catch (e) {
          this.notice = e.message;
        }
      },
    }));
  });
})();
