/* The workflow WebApp (/workflow/<code>, WEB-16): an Alpine component over /webapp/<code>/api/,
 * with the helpers of webapp-common.js (API calls, SSE, safe Markdown, the form, batches).
 *
 * A run streams the events of /v1/workflows/run from a fetch() body: each node_started and
 * node_finished moves a step of the progress list, text_chunk shows the text as it comes, and
 * workflow_finished brings the outputs, drawn by kind: text as Markdown (sanitised), files as
 * links (images also shown), anything else as JSON.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("wa-boot").textContent);
  const API = boot.api;
  const S = Object.assign({}, boot.strings, document.getElementById("wa-workflow-strings").dataset);
  S["partial-succeeded"] = S.partialSucceeded;

  const W = window.TesseraWebApp;
  const { call, callJson } = W.client(API, S.error);

  let seq = 0;

  function isFile(value) {
    return !!value && typeof value === "object" && !Array.isArray(value) &&
      (value.dify_model_identity === "__dify__file__" || ("transfer_method" in value && ("url" in value || "remote_url" in value)));
  }

  function fileLink(file) {
    return { url: file.url || file.remote_url || "", name: file.filename || file.name || file.url || "",
      image: file.type === "image" };
  }

  /* {key, kind, value} per output, in the End node's order. */
  function renderOutputs(outputs) {
    return Object.entries(outputs || {}).map(([key, value]) => {
      if (typeof value === "string") return { key, kind: "text", value };
      if (isFile(value)) return { key, kind: "files", value: [fileLink(value)] };
      if (Array.isArray(value) && value.length && value.every(isFile)) {
        return { key, kind: "files", value: value.map(fileLink) };
      }
      return { key, kind: "json", value: JSON.stringify(value, null, 2) };
    });
  }

  document.addEventListener("alpine:init", () => {
    window.Alpine.data("waWorkflow", () => W.withForm(S.required, W.withBatch(callJson, S, {
      api: API,
      strings: S,
      fields: W.formFields(boot.parameters),
      tab: "once",
      runs: [],
      busy: false,
      uploading: 0,
      taskId: "",
      notice: "",

      init() {
        this.clearForm();
        this.loadLatestBatch();
      },

      md: W.md,

      /* A file variable's choice, uploaded at once (…/api/files/upload); the input then holds the
       * file objects the run takes: {transfer_method: "local_file", upload_file_id}. */
      async attach(field, event) {
        const chosen = Array.from(event.target.files || []);
        this.inputs[field.variable] = null;
        if (!chosen.length) return;
        this.uploading += 1;
        try {
          const uploaded = [];
          for (const file of chosen) {
            const form = new FormData();
            form.append("file", file);
            const row = await callJson("files/upload", { method: "POST", form });
            uploaded.push({ transfer_method: "local_file", upload_file_id: row.id });
          }
          this.inputs[field.variable] = field.type === "file-list" ? uploaded : uploaded[0];
          delete this.errors[field.variable];
        } catch (e) {
          this.errors[field.variable] = e.message;
        } finally {
          this.uploading -= 1;
        }
      },

      async run() {
        if (this.busy || this.uploading) return;
        if (!this.validate()) return;
        this.notice = "";
        this.runs.unshift({ key: ++seq, id: "", status: "running", steps: [], text: "", outputs: [], error: "",
          elapsed: null });
        const live = this.runs[0];
        this.busy = true;
        try {
          const response = await call("workflows/run", { method: "POST",
            json: { inputs: W.cleanInputs(this.fields, this.inputs), response_mode: "streaming" } });
          if (!response.ok) {
            let data = null;
            try { data = await response.json(); } catch (e) { data = null; }
            live.status = "failed";
            live.error = (data && data.message) || S.error;
            return;
          }
          await W.readSSE(response, (event) => this.onEvent(live, event));
        } catch (e) {
          live.status = "failed";
          live.error = S.error;
        } finally {
          if (live.status === "running") live.status = "failed";
          this.busy = false;
          this.taskId = "";
        }
      },

      onEvent(live, event) {
        if (event.task_id) this.taskId = event.task_id;
        if (event.workflow_run_id) live.id = event.workflow_run_id;
        const data = event.data || {};
        if (event.event === "node_started") {
          live.steps.push({ id: data.id || data.node_id, node: data.node_id, title: data.title || data.node_type,
            status: "running" });
        } else if (event.event === "node_finished") {
          const step = live.steps.find((s) => s.id === data.id) || live.steps.find((s) => s.node === data.node_id);
          if (step) step.status = data.status;
        } else if (event.event === "text_chunk") {
          live.text += data.text || "";
        } else if (event.event === "workflow_finished") {
          live.status = data.status;
          live.error = data.error || "";
          live.elapsed = data.elapsed_time;
          live.outputs = renderOutputs(data.outputs);
        } else if (event.event === "error") {
          live.status = "failed";
          live.error = event.message || S.error;
        }
      },

      async stop() {
        if (!this.taskId) return;
        try {
          await callJson("workflows/tasks/" + this.taskId + "/stop", { method: "POST", json: {} });
        } catch (e) { /* the run ends anyway */ }
      },
    })));
  });
})();
