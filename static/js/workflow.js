/* Workflow page: draws the draft graph as SVG (read-only) and runs the draft from the side panel,
   colouring nodes and listing steps as the run's events arrive. All text reaches the page through
   textContent / x-text, never as HTML. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Draw nodes at their editor positions (children of containers inside them) and edges as curves. */
  function draw(container, graph) {
    var byId = {};
    graph.nodes.forEach(function (n) { byId[n.id] = n; });
    graph.nodes.forEach(function (n) {  // children are positioned relative to their container
      var parent = n.parent && byId[n.parent];
      n.ax = n.x + (parent && n.x < parent.w ? parent.x : 0);
      n.ay = n.y + (parent && n.y < parent.h ? parent.y : 0);
    });
    // The box is the nodes' own bounds (editor positions may start far from 0 or below it), and
    // the drawing scales down to the card's width, so the whole graph is in view and centred.
    var shown = graph.nodes.length ? graph.nodes : [{ ax: 0, ay: 0, w: 400, h: 200 }];
    var minX = Math.min.apply(null, shown.map(function (n) { return n.ax; })) - 20;
    var minY = Math.min.apply(null, shown.map(function (n) { return n.ay; })) - 20;
    var maxX = Math.max.apply(null, shown.map(function (n) { return n.ax + n.w; })) + 20;
    var maxY = Math.max.apply(null, shown.map(function (n) { return n.ay + n.h; })) + 20;
    var svg = el("svg", { viewBox: [minX, minY, maxX - minX, maxY - minY].join(" "), width: "100%",
                          height: Math.min(maxY - minY, 520), preserveAspectRatio: "xMidYMid meet" });
    var nodes = {};
    graph.nodes.filter(function (n) { return n.type === "iteration" || n.type === "loop"; })
      .concat(graph.nodes.filter(function (n) { return n.type !== "iteration" && n.type !== "loop"; }))
      .forEach(function (n) {
        var container = n.type === "iteration" || n.type === "loop";
        var h = container ? n.h : Math.min(n.h, 54);
        var group = el("g", { "class": "wf-node" + (container ? " wf-node--container" : ""), "data-node": n.id });
        group.appendChild(el("rect", { x: n.ax, y: n.ay, width: n.w, height: h, rx: 10 }));
        group.appendChild(el("text", { x: n.ax + 12, y: n.ay + 22 }, n.title));
        group.appendChild(el("text", { x: n.ax + 12, y: n.ay + 40, "class": "wf-node__type" }, n.type));
        svg.appendChild(group);
        nodes[n.id] = { group: group, node: n, h: h };
      });
    graph.edges.forEach(function (e) {
      var a = nodes[e.source], b = nodes[e.target];
      if (!a || !b) return;
      var x1 = a.node.ax + a.node.w, y1 = a.node.ay + a.h / 2, x2 = b.node.ax, y2 = b.node.ay + b.h / 2;
      var mid = (x1 + x2) / 2;
      svg.insertBefore(el("path", { "class": "wf-edge", d: "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid +
                                    "," + y2 + " " + x2 + "," + y2 }), svg.firstChild);
      if (e.handle !== "source") svg.appendChild(el("text", { "class": "wf-edge__label", x: x1 + 6, y: y1 - 6 }, e.handle));
    });
    container.textContent = "";
    container.appendChild(svg);
    return nodes;
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("workflowPanel", function () {
      var data = readJson("workflow-data");
      var i18n = readJson("workflow-i18n") || {};
      return {
        inputs: data.inputs, chat: data.chat, values: {}, query: "", running: false, steps: [], answer: "",
        status: "", outputs: "", error: "", taskId: "", runUrl: "", conversationId: "", nodes: {},
        graphNodes: data.graph.nodes, stepNode: "", stepValues: "{}", stepResult: "",
        stepLoad: function () {
          var self = this;
          if (!this.stepNode) return;
          fetch(data.urls.step.replace("__node__", encodeURIComponent(this.stepNode)), { headers: { "Accept": "application/json" } })
            .then(function (r) { return r.json(); })
            .then(function (body) {
              var values = {};
              body.variables.forEach(function (name) { values[name] = ""; });
              self.stepValues = JSON.stringify(values, null, 2);
              self.stepResult = "";
            });
        },
        stepRun: function () {
          var self = this, values;
          try { values = JSON.parse(this.stepValues || "{}"); } catch (err) { self.stepResult = err.message; return; }
          fetch(data.urls.step.replace("__node__", encodeURIComponent(this.stepNode)), {
            method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
            body: JSON.stringify({ values: values }) })
            .then(function (r) { return r.json(); })
            .then(function (body) {
              var node = body.node || {};
              self.mark(self.stepNode, node.status || "failed");
              self.stepResult = JSON.stringify({ status: node.status, error: node.error, inputs: node.inputs,
                                                 outputs: node.outputs, elapsed_time: node.elapsed_time,
                                                 execution_metadata: node.execution_metadata }, null, 2);
            });
        },
        init: function () { this.nodes = draw(this.$refs.graph, data.graph); },
        label: function (status) { return (data.statuses || {})[status] || status; },
        badge: function (status) { return status === "running" ? "badge--muted" : ((data.badges || {})[status] || "badge--muted"); },
        mark: function (nodeId, status) {
          var n = this.nodes[nodeId];
          if (!n) return;
          n.group.setAttribute("class", n.group.getAttribute("class").replace(/ wf-node--\w+$/, "") + " wf-node--" + status);
          n.group.setAttribute("data-status", status);
        },
        handle: function (event) {
          if (event.task_id) this.taskId = event.task_id;
          if (event.event === "node_started") {
            this.mark(event.data.node_id, "running");
            this.steps.push({ id: event.data.id, title: event.data.title, status: "running", elapsed: "" });
          } else if (event.event === "node_finished") {
            this.mark(event.data.node_id, event.data.status);
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
          Object.keys(this.nodes).forEach(function (id) { self.mark(id, "idle"); });
          this.running = true; this.steps = []; this.answer = ""; this.status = ""; this.outputs = ""; this.error = "";
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
            .then(function () { self.running = false; });
        },
        stop: function () {
          if (!this.taskId) return;
          fetch(data.urls.stop.replace(PLACEHOLDER, this.taskId), { method: "POST", headers: { "X-CSRFToken": csrfToken() } });
        }
      };
    });
  });
})();
