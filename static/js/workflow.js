/* Workflow page: runs the draft from the side panel, listing steps as the run's events arrive and
   passing each node's status to the canvas. All text reaches the page through
   textContent / x-text, never as HTML. */
(function () {
  "use strict";

  var PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  /** Tell the canvas (static/js/workflow-editor.js) a node's run status, with what the node read and
      wrote once it finished (its inspector shows them); "*" clears them all. */
  function mark(nodeId, status, run) {
    window.dispatchEvent(new CustomEvent("workflow:node-status",
                                         { detail: { nodeId: nodeId, status: status, run: run || null } }));
  }

  /** Tell the canvas whether a run is going and whether it can be stopped yet (the canvas shows its
      own Stop button; pressing it sends "workflow:stop" back here). */
  function runState(running, stoppable) {
    window.dispatchEvent(new CustomEvent("workflow:run-state", { detail: { running: running, stoppable: stoppable } }));
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("workflowPanel", function () {
      var data = readJson("workflow-data");
      var i18n = readJson("workflow-i18n") || {};
      return {
        inputs: data.inputs, chat: data.chat, values: {}, query: "", running: false, steps: [], answer: "",
        status: "", outputs: "", error: "", taskId: "", runUrl: "", conversationId: "",
        init: function () {
          var self = this;
          window.addEventListener("workflow:stop", function () { self.stop(); });
          // The inputs form follows the canvas's Start node as the draft is saved.
          window.addEventListener("workflow:saved", function (e) {
            var nodes = (e.detail.graph.nodes || []).filter(function (n) { return n.data && n.data.type; });
            var start = nodes.find(function (n) { return n.data.type === "start"; });
            if (start) self.inputs = (start.data.variables || []).filter(function (v) { return v && v.variable; });
          });
        },
        label: function (status) { return (data.statuses || {})[status] || status; },
        badge: function (status) { return status === "running" ? "badge--muted" : ((data.badges || {})[status] || "badge--muted"); },
        mark: mark,
        handle: function (event) {
          if (event.task_id && !this.taskId) { this.taskId = event.task_id; runState(true, true); }
          if (event.event === "node_started") {
            this.mark(event.data.node_id, "running");
            this.steps.push({ id: event.data.id, title: event.data.title, status: "running", elapsed: "" });
          } else if (event.event === "node_finished") {
            this.mark(event.data.node_id, event.data.status, event.data);
            var step = this.steps.find(function (s) { return s.id === event.data.id; });
            if (step) { step.status = event.data.status; step.elapsed = event.data.elapsed_time.toFixed(3) + " s"; }
          } else if (event.event === "message" || event.event === "text_chunk") {
            this.answer += event.event === "message" ? event.answer : event.data.text;
          } else if (event.event === "workflow_finished") {
            this.status = event.data.status;
            this.outputs = JSON.stringify(event.data.outputs, null, 2) + (event.data.error ? "\n" + event.data.error : "");
            this.runUrl = data.urls.detail.replace(PLACEHOLDER, event.data.id);
            // The run history (htmx) refreshes itself on this event: the new run is listed at once.
            document.body.dispatchEvent(new CustomEvent("wf-run-finished"));
          } else if (event.event === "message_end" || event.event === "error") {
            if (event.conversation_id) this.conversationId = event.conversation_id;
          }
        },
        run: function () {
          var self = this;
          mark("*", "");
          this.running = true; this.taskId = ""; runState(true, false); this.steps = []; this.answer = ""; this.status = ""; this.outputs = ""; this.error = "";
          var body = { inputs: this.values, query: this.query, conversation_id: this.conversationId };
          fetch(data.urls.run, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
                                 body: JSON.stringify(body) })
            .then(function (response) {
              if (!response.ok) {
                return response.json().then(function (b) { throw new Error(b.message || i18n.run_failed); });
              }
              var reader = response.body.getReader();
              var decoder = new TextDecoder();
              var buffer = "";
              function pump() {
                return reader.read().then(function (chunk) {
                  if (chunk.done) return;
                  buffer += decoder.decode(chunk.value, { stream: true });
                  var cut;
                  while ((cut = buffer.indexOf("\n\n")) >= 0) {
                    var block = buffer.slice(0, cut);
                    buffer = buffer.slice(cut + 2);
                    if (block.indexOf("data: ") === 0) self.handle(JSON.parse(block.slice(6)));
                  }
                  return pump();
                });
              }
              return pump();
            })
            .catch(function (err) { self.error = err.message || i18n.run_failed; })
            .then(function () { self.running = false; runState(false, false); });
        },
        stop: function () {
          if (!this.taskId) return;
          fetch(data.urls.stop.replace(PLACEHOLDER, this.taskId), { method: "POST", headers: { "X-CSRFToken": csrfToken() } });
        }
      };
    });
  });
})();
