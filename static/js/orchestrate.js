/* Orchestrate page: the Alpine component behind the prompt editor and the debug & preview panel.
   The page's data comes from <script type="application/json"> blocks (json_script); every piece of
   model output reaches the page through x-text (textContent), never as HTML. */
(function () {
  "use strict";

  var VARIABLE = /\{\{([a-zA-Z_][a-zA-Z0-9_]{0,63})\}\}/g;
  var CONTEXT_TEMPLATE = "Use the following context as your learned knowledge, inside <context></context> XML tags.\n\n" +
    "<context>\n{{#context#}}\n</context>\n\nWhen answer to user:\n- If you don't know, just say that you don't know.\n" +
    "- If you don't know when you are not sure, ask for clarification.\nAvoid mentioning that you obtained the " +
    "information from the context.\nAnd answer according to the language of the user's question.\n";
  var HISTORY_TEMPLATE = "\n\nHere is the chat histories between human and assistant, inside <histories></histories> " +
    "XML tags.\n\n<histories>\n{{#histories#}}\n</histories>\n\n\nHuman: {{#query#}}\n\nAssistant:";

  var PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function clone(value) { return JSON.parse(JSON.stringify(value)); }

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  /** user_input_form (list of one-key dicts) → flat rows the editor binds to. */
  function toVars(form) {
    return (form || []).map(function (entry) {
      var kind = Object.keys(entry)[0];
      var spec = entry[kind] || {};
      return {
        kind: kind, variable: spec.variable || "", label: spec.label || "", required: !!spec.required,
        max_length: spec.max_length || "", options: (spec.options || []).slice(), default: spec.default,
        raw: kind === "external_data_tool" ? spec : null
      };
    });
  }

  function fromVars(vars) {
    return vars.map(function (v) {
      var entry = {};
      if (v.raw) { entry[v.kind] = v.raw; return entry; }
      var spec = { variable: v.variable.trim(), label: v.label.trim() || v.variable.trim(), required: !!v.required };
      if (v.kind === "text-input" || v.kind === "paragraph") {
        if (v.max_length) spec.max_length = parseInt(v.max_length, 10) || undefined;
        spec.default = typeof v.default === "string" ? v.default : "";
      } else if (v.kind === "select") {
        spec.options = v.options.filter(function (o) { return o.trim() !== ""; });
        spec.default = spec.options.indexOf(v.default) >= 0 ? v.default : "";
      } else if (v.kind === "number") {
        spec.default = typeof v.default === "number" ? v.default : "";
      }
      entry[v.kind] = spec;
      return entry;
    });
  }

  function editable(config) {
    var cfg = clone(config);
    cfg.chat_prompt_config = cfg.chat_prompt_config || {};
    cfg.chat_prompt_config.prompt = cfg.chat_prompt_config.prompt || [];
    cfg.completion_prompt_config = cfg.completion_prompt_config || {};
    cfg.completion_prompt_config.prompt = cfg.completion_prompt_config.prompt || { text: "" };
    cfg.completion_prompt_config.conversation_histories_role = cfg.completion_prompt_config.conversation_histories_role ||
      { user_prefix: "Human", assistant_prefix: "Assistant" };
    cfg.model.completion_params.stop = cfg.model.completion_params.stop || [];
    cfg.suggested_questions = cfg.suggested_questions || [];
    cfg.memory_window = cfg.memory_window || 10;
    var dc = cfg.dataset_configs = cfg.dataset_configs || {};
    dc.retrieval_model = dc.retrieval_model === "single" ? "single" : "multiple";
    dc.top_k = dc.top_k || 4;
    dc.datasets = dc.datasets || {};
    dc.datasets.datasets = dc.datasets.datasets || [];
    cfg.retriever_resource = cfg.retriever_resource || { enabled: false };
    cfg.dataset_query_variable = cfg.dataset_query_variable || "";
    var agent = cfg.agent_mode = cfg.agent_mode || {};
    agent.strategy = agent.strategy === "react" ? "react" : "function_call";
    agent.max_iteration = agent.max_iteration || 5;
    agent.tools = agent.tools || [];
    return cfg;
  }

  function serialize(cfg, vars) {
    var out = clone(cfg);
    out.user_input_form = fromVars(vars);
    out.suggested_questions = out.suggested_questions.filter(function (q) { return q.trim() !== ""; });
    return out;
  }

  function orchestrate() {
    var data = readJson("orchestrate-data");
    var t = readJson("orchestrate-i18n") || {};
    var cfg = editable(data.config);
    return {
      t: t,
      urls: data.urls,
      models: data.models,
      isChat: data.is_chat,
      stt: data.stt,
      tts: data.tts,
      expertLocked: data.expert_locked,
      cfg: cfg,
      knowledge: data.knowledge || { datasets: [], rerank_models: [] },
      agentTools: data.agent_tools || [],  // the tools the picker offers (apps/applications/agent/settings.py)
      toolToAdd: "",
      // The multi-path rerank step: "" (none chosen: saving is refused), "weighted_score" (hybrid search) or "provider:model".
      rerankKey: cfg.dataset_configs.reranking_mode === "weighted_score" ? "weighted_score" :
        (cfg.dataset_configs.reranking_model || {}).reranking_model_name ?
          cfg.dataset_configs.reranking_model.reranking_provider_name + ":" + cfg.dataset_configs.reranking_model.reranking_model_name : "",
      ctxVectorWeight: String((((cfg.dataset_configs.weights || {}).vector_setting) || {}).vector_weight ?? 0.7),
      ctxThreshold: cfg.dataset_configs.score_threshold_enabled && cfg.dataset_configs.score_threshold !== null ?
        String(cfg.dataset_configs.score_threshold) : "",
      vars: toVars(data.config.user_input_form),
      modelKey: cfg.model.provider ? cfg.model.provider + ":" + cfg.model.name : "",
      savedJson: JSON.stringify(serialize(editable(data.saved), toVars(data.saved.user_input_form))),
      errors: data.errors || [],
      problems: data.problems || [],
      field: null,
      stopDraft: "",
      saving: false,
      validateTimer: null,
      // Debug & preview.
      inputs: {},
      query: "",
      turns: [],
      conversationId: null,
      running: false,
      runError: "",
      current: null,  // the assistant turn being streamed
      images: [],  // uploaded for the next turn: {id, name}
      uploading: false,
      recorder: null,  // the microphone's MediaRecorder while recording
      transcribing: false,

      setWeights: function () {
        var weight = parseFloat(this.ctxVectorWeight);
        this.cfg.dataset_configs.weights = this.rerankKey !== "weighted_score" ? null : {
          weight_type: "customized",
          vector_setting: { vector_weight: weight },
          keyword_setting: { keyword_weight: Math.round((1 - weight) * 10000) / 10000 },
        };
      },

      init: function () {
        var self = this;
        this.resetInputs();
        this.$watch("cfg", function () { self.scheduleValidate(); }, { deep: true });
        this.$watch("rerankKey", function (key) {
          var at = key.indexOf(":");
          var model = at > 0;
          self.cfg.dataset_configs.reranking_model = model ?
            { reranking_provider_name: key.slice(0, at), reranking_model_name: key.slice(at + 1) } :
            { reranking_provider_name: "", reranking_model_name: "" };
          self.cfg.dataset_configs.reranking_mode = key === "weighted_score" ? "weighted_score" :
            (model ? "reranking_model" : null);
          self.setWeights();
        });
        this.$watch("ctxVectorWeight", function () { self.setWeights(); });
        this.$watch("ctxThreshold", function (value) {
          var number = parseFloat(value);
          self.cfg.dataset_configs.score_threshold_enabled = !isNaN(number);
          self.cfg.dataset_configs.score_threshold = isNaN(number) ? null : number;
        });
        this.$watch("vars", function () { self.resetInputs(); }, { deep: true });
      },

      get json() { return JSON.stringify(serialize(this.cfg, this.vars)); },
      get dirty() { return this.json !== this.savedJson; },
      get expert() { return this.cfg.prompt_type === "advanced"; },
      get completionModel() { return this.cfg.model.mode === "completion"; },
      get model() {
        var key = this.modelKey;
        return this.models.find(function (m) { return m.provider + ":" + m.name === key; }) || null;
      },
      get maxTokensCeiling() { return (this.model && this.model.max_tokens) || 32768; },
      get vision() { return !!(this.model && this.model.vision); },
      get micOn() { return this.isChat && this.stt && !!this.cfg.speech_to_text.enabled; },
      get readAloud() { return this.tts && !!this.cfg.text_to_speech.enabled; },
      get imageUpload() { return this.vision && !!this.cfg.file_upload.image.enabled; },
      get imageLimit() { return parseInt(this.cfg.file_upload.image.number_limits, 10) || 3; },
      get declared() { return this.vars.map(function (v) { return v.variable; }).filter(Boolean); },
      /** The debug panel's input fields: declared variables that are not raw API inputs. */
      get debugVars() { return this.vars.filter(function (v) { return v.variable && !v.raw; }); },
      /** The non-empty entries of a list (select options, suggested questions). */
      filled: function (list) { return (list || []).filter(Boolean); },
      /** Enter sends the debug message; Shift+Enter and IME composition keep typing. */
      submitOnEnter: function (event) {
        if (event.shiftKey || event.isComposing) return;
        event.preventDefault();
        event.target.form.requestSubmit();
      },

      /** Every text that may hold {{variables}}. */
      promptTexts: function () {
        var texts = [this.cfg.opening_statement || ""];
        if (this.expert) {
          if (this.completionModel) texts.push(this.cfg.completion_prompt_config.prompt.text || "");
          else this.cfg.chat_prompt_config.prompt.forEach(function (m) { texts.push(m.text || ""); });
        } else {
          texts.push(this.cfg.pre_prompt || "");
        }
        return texts;
      },
      get undeclared() {
        var found = [];
        var declared = this.declared;
        this.promptTexts().forEach(function (text) {
          text.replace(VARIABLE, function (_, name) {
            if (declared.indexOf(name) < 0 && found.indexOf(name) < 0) found.push(name);
          });
        });
        return found;
      },

      // --- Agent settings (AG-05..AG-07) ---------------------------------------------------
      toolKey: function (entry) { return entry.provider_type + ":" + entry.provider_id + ":" + entry.tool_name; },
      toolChoice: function (entry) {
        var key = this.toolKey(entry);
        return this.agentTools.filter(function (c) { return c.key === key; })[0] || null;
      },
      addableTools: function () {
        var used = this.cfg.agent_mode.tools.map(this.toolKey);
        return this.agentTools.filter(function (c) { return used.indexOf(c.key) < 0; });
      },
      addTool: function () {
        var key = this.toolToAdd;
        var choice = this.agentTools.filter(function (c) { return c.key === key; })[0];
        this.toolToAdd = "";
        if (!choice) return;
        var values = {};
        choice.params.forEach(function (p) { values[p.name] = p.default == null ? "" : String(p.default); });
        this.cfg.agent_mode.tools.push({ enabled: true, provider_type: choice.provider_type,
          provider_id: choice.provider_id, provider_name: choice.provider_name, tool_name: choice.tool_name,
          tool_label: choice.label, tool_parameters: values });
      },
      removeTool: function (index) { this.cfg.agent_mode.tools.splice(index, 1); },
      /** ReAct runs whatever the setting when the chosen model has no native function calling. */
      reactForced: function () { var m = this.model; return !!m && !m.function_calling; },

      // --- Model ---------------------------------------------------------------------------
      modelChanged: function () {
        var m = this.model;
        if (!m) return;
        this.cfg.model.provider = m.provider;
        this.cfg.model.name = m.name;
        this.cfg.model.mode = m.mode;
        var params = this.cfg.model.completion_params;
        if (m.max_tokens && params.max_tokens > m.max_tokens) params.max_tokens = m.max_tokens;
        if (!m.vision) this.cfg.file_upload.image.enabled = false;
        if (this.expert) this.fillExpertTemplate();
      },
      addStop: function () {
        var value = this.stopDraft.trim();
        var stop = this.cfg.model.completion_params.stop;
        if (value && stop.indexOf(value) < 0 && stop.length < 4) stop.push(value);
        this.stopDraft = "";
      },
      /** Tab adds a typed stop sequence instead of leaving the field (an empty field tabs on). */
      addStopOnTab: function (event) {
        if (!this.stopDraft.trim()) return;
        event.preventDefault();
        this.addStop();
      },
      removeStop: function (i) { this.cfg.model.completion_params.stop.splice(i, 1); },

      // --- Prompt --------------------------------------------------------------------------
      varToken: function (name) { return "{" + "{" + name + "}" + "}"; },
      focusField: function (event) { this.field = event.target; },
      insert: function (text) {
        var el = this.field && document.body.contains(this.field) ? this.field : this.$refs.prompt;
        if (!el) return;
        var start = el.selectionStart == null ? el.value.length : el.selectionStart;
        var end = el.selectionEnd == null ? start : el.selectionEnd;
        el.setRangeText(text, start, end, "end");
        el.dispatchEvent(new Event("input", { bubbles: true }));
        el.focus();
      },
      blocks: function () {
        if (!this.expert) return [];
        if (!this.completionModel) return ["{{#context#}}"];
        return this.isChat ? ["{{#context#}}", "{{#histories#}}", "{{#query#}}"] : ["{{#context#}}"];
      },
      blockUsed: function (block) {
        return this.promptTexts().some(function (text) { return text.indexOf(block) >= 0; });
      },
      fillExpertTemplate: function () {
        var hasKnowledge = ((((this.cfg.dataset_configs || {}).datasets || {}).datasets) || []).length > 0;
        var lead = hasKnowledge ? CONTEXT_TEMPLATE : "";
        var pre = this.cfg.pre_prompt || "";
        if (this.completionModel) {
          var prompt = this.cfg.completion_prompt_config.prompt;
          if (!prompt.text) prompt.text = lead + (this.isChat ? pre + HISTORY_TEMPLATE : pre);
          var stop = this.cfg.model.completion_params.stop;
          if (this.isChat && stop.length === 0) stop.push("Human:");
        } else if (this.cfg.chat_prompt_config.prompt.length === 0) {
          this.cfg.chat_prompt_config.prompt.push({ role: this.isChat ? "system" : "user", text: lead + pre });
        }
      },
      toExpert: function () {
        this.cfg.prompt_type = "advanced";
        this.fillExpertTemplate();
      },
      toBasic: function () {
        if (this.expertLocked || !window.confirm(this.t.confirm_basic)) return;
        this.cfg.prompt_type = "simple";
      },
      addMessage: function () {
        var list = this.cfg.chat_prompt_config.prompt;
        var last = list.length ? list[list.length - 1].role : "assistant";
        list.push({ role: last === "user" ? "assistant" : "user", text: "" });
      },
      move: function (list, i, delta) {
        var j = i + delta;
        if (j < 0 || j >= list.length) return;
        var item = list.splice(i, 1)[0];
        list.splice(j, 0, item);
      },
      scheduleValidate: function () {
        var self = this;
        window.clearTimeout(this.validateTimer);
        if (!this.expert) { this.problems = []; return; }
        this.validateTimer = window.setTimeout(function () {
          self.post(self.urls.validate, self.json).then(function (body) {
            self.problems = (body && body.problems) || [];
          }).catch(function () {});
        }, 350);
      },

      // --- Variables -----------------------------------------------------------------------
      addVariable: function (name) {
        var key = name || "";
        if (!key) {
          var n = this.vars.length + 1;
          while (this.declared.indexOf("var_" + n) >= 0) n++;
          key = "var_" + n;
        }
        this.vars.push({ kind: "text-input", variable: key, label: key, required: true, max_length: 48,
                         options: [], default: "", raw: null });
      },
      removeVariable: function (i) { this.vars.splice(i, 1); },
      addOption: function (v) { v.options.push(""); },

      // --- Saving and publishing -----------------------------------------------------------
      post: function (url, json) {
        var body = new FormData();
        body.append("config", json);
        return fetch(url, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
        }).then(function (r) { return r.json(); });
      },
      /** Save the draft in the background (before a preview run or a publish); true when saved. */
      saveDraft: function () {
        var self = this;
        if (!this.dirty) return Promise.resolve(true);
        var json = this.json;
        this.saving = true;
        return this.post(this.urls.save, json).then(function (body) {
          self.saving = false;
          self.errors = body.errors || [];
          self.problems = body.problems || [];
          if (body.ok) self.savedJson = json;
          return !!body.ok;
        }).catch(function () {
          self.saving = false;
          self.errors = [self.t.save_failed];
          return false;
        });
      },
      publish: function (event) {
        var form = event.target;
        this.saveDraft().then(function (ok) { if (ok) form.submit(); });
      },

      // --- Debug & preview -----------------------------------------------------------------
      resetInputs: function () {
        var inputs = {};
        this.vars.forEach(function (v) {
          if (!v.variable) return;
          inputs[v.variable] = v.kind === "checkbox" ? !!v.default : (v.default == null ? "" : String(v.default));
        });
        this.inputs = Object.assign(inputs, this.inputs);
      },
      fill: function (text) {
        var inputs = this.inputs;
        return (text || "").replace(VARIABLE, function (_, name) { return inputs[name] == null ? "" : String(inputs[name]); });
      },
      restart: function () {
        this.turns = [];
        this.conversationId = null;
        this.runError = "";
      },
      ask: function (question) {
        this.query = question;
        this.run();
      },
      /** One debug turn; `options.moreLikeThis` asks for another take on the same inputs. */
      run: function (options) {
        var self = this;
        var moreLikeThis = !!(options && options.moreLikeThis);
        if (this.running) return;
        var query = this.query.trim();
        if (this.isChat && !query) return;
        this.runError = "";
        this.running = true;
        this.saveDraft().then(function (ok) {
          if (!ok) { self.running = false; self.runError = self.t.fix_first; return; }
          var inputs = {};
          self.vars.forEach(function (v) {
            if (!v.variable || v.raw) return;
            var value = self.inputs[v.variable];
            if (v.kind === "number" && (value === "" || value == null)) value = null;
            inputs[v.variable] = value;
          });
          var images = self.imageUpload ? self.images : [];
          self.images = [];
          if (self.isChat) { self.turns.push({ role: "user", text: query, images: images }); self.query = ""; }
          self.turns.push({ role: "assistant", text: "", log: null, showLog: false, error: "", streaming: true,
                            thoughts: [], files: [],
                            id: "", taskId: "", stopped: false, done: false, suggestions: [], audioUrl: "",
                            speaking: false });
          var answer = self.turns[self.turns.length - 1];
          self.current = answer;
          return fetch(self.urls.debug, {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
            body: JSON.stringify({ query: query, inputs: inputs, conversation_id: self.conversationId,
                                   more_like_this: moreLikeThis, files: images.map(function (img) {
                                     return { type: "image", transfer_method: "local_file", upload_file_id: img.id };
                                   }) })
          }).then(function (response) {
            var type = response.headers.get("Content-Type") || "";
            if (!response.ok || type.indexOf("text/event-stream") < 0) {
              return response.json().catch(function () { return {}; }).then(function (body) {
                answer.error = body.message || self.t.run_failed;
              });
            }
            return self.readStream(response, answer);
          }).catch(function () {
            answer.error = self.t.run_failed;
          }).finally(function () {
            answer.streaming = false;
            self.running = false;
            self.current = null;
            self.$nextTick(function () { self.scrollDown(); });
          });
        });
      },
      readStream: function (response, answer) {
        var self = this;
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              self.handleEvent(buffer.slice(0, cut), answer);
              buffer = buffer.slice(cut + 2);
            }
            return pump();
          });
        }
        return pump();
      },
      /** Knowledge as context: the attached dataset ids, in the DSL's {dataset: {enabled, id}} entries. */
      contextIds: function () {
        return this.cfg.dataset_configs.datasets.datasets.map(function (e) { return (e.dataset || {}).id; });
      },
      hasDataset: function (id) { return this.contextIds().indexOf(id) >= 0; },
      toggleDataset: function (id) {
        var list = this.cfg.dataset_configs.datasets.datasets;
        var at = this.contextIds().indexOf(id);
        if (at >= 0) list.splice(at, 1); else list.push({ dataset: { enabled: true, id: id } });
      },
      handleEvent: function (block, answer) {
        var line = block.split("\n").filter(function (l) { return l.indexOf("data: ") === 0; })[0];
        if (!line) return;
        var event;
        try { event = JSON.parse(line.slice(6)); } catch (err) { return; }
        if (event.event === "prompt_log") {
          answer.log = event.prompt_log;
          answer.id = event.message_id;
          answer.taskId = event.task_id;
        } else if (event.event === "message" || event.event === "agent_message") {
          answer.text += event.answer || "";
          if (event.conversation_id) this.conversationId = event.conversation_id;
          this.scrollDown();
        } else if (event.event === "agent_thought") {
          /* A step of an agent's turn: the same id comes again as the step grows (AG-09). */
          if (!answer.thoughts) answer.thoughts = [];
          var known = answer.thoughts.filter(function (t) { return t.id === event.id; })[0];
          if (known) Object.assign(known, event); else answer.thoughts.push(Object.assign({ open: false }, event));
          this.scrollDown();
        } else if (event.event === "message_file") {
          if (!answer.files) answer.files = [];
          answer.files.push(event);
        } else if (event.event === "message_end") {
          answer.streaming = false;
          if (event.conversation_id) this.conversationId = event.conversation_id;
          var usage = event.metadata && event.metadata.usage;
          answer.tokens = usage ? usage.total_tokens : null;
          answer.citations = (event.metadata && event.metadata.retriever_resources) || [];
          answer.done = true;
          if (this.isChat && !answer.stopped && this.cfg.suggested_questions_after_answer.enabled) {
            this.loadSuggestions(answer);
          }
        } else if (event.event === "error") {
          answer.error = event.message || this.t.run_failed;
        }
      },
      /** Stop the running turn: the server stores the partial answer and ends the stream with
          message_end, which the stream reader then handles as usual. */
      stop: function () {
        var self = this;
        var answer = this.current;
        if (!answer || !answer.taskId || answer.stopped) return;
        answer.stopped = true;
        fetch(this.urls.debug_stop.replace(PLACEHOLDER, answer.taskId), {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
        }).then(function (r) {
          if (!r.ok) answer.stopped = false;
        }).catch(function () { answer.stopped = false; self.runError = self.t.stop_failed; });
      },
      loadSuggestions: function (answer) {
        var self = this;
        fetch(this.urls.debug_suggested.replace(PLACEHOLDER, answer.id), {
          credentials: "same-origin", headers: { "Accept": "application/json" }
        }).then(function (r) { return r.ok ? r.json() : { data: [] }; }).then(function (body) {
          answer.suggestions = (body.data || []).filter(function (q) { return typeof q === "string" && q; });
          self.$nextTick(function () { self.scrollDown(); });
        }).catch(function () {});
      },
      /** Upload a picked image for the next turn (the draft must have image upload on). */
      pickImage: function (event) {
        var self = this;
        var file = event.target.files && event.target.files[0];
        event.target.value = "";
        if (!file || this.images.length >= this.imageLimit) return;
        this.uploading = true;
        this.runError = "";
        this.postFile(this.urls.debug_upload, file, file.name, this.t.upload_failed, function (data) {
          self.images.push({ id: data.id, name: data.name });
        }).finally(function () { self.uploading = false; });
      },
      /** Save the draft (the server checks the saved draft's features), then post one file;
          `done(data)` gets the JSON answer, errors go to runError. */
      postFile: function (url, blob, name, failed, done) {
        var self = this;
        var body = new FormData();
        body.append("file", blob, name);
        return this.saveDraft().then(function (ok) {
          if (!ok) { self.runError = self.t.fix_first; return null; }
          return fetch(url, {
            method: "POST", body: body, credentials: "same-origin",
            headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
          }).then(function (r) {
            return r.json().then(function (data) {
              if (r.ok) done(data);
              else self.runError = data.message || failed;
            });
          });
        }).catch(function () { self.runError = failed; });
      },
      removeImage: function (i) { this.images.splice(i, 1); },
      /** The microphone (PR-12): record, then the transcript fills the message box. */
      toggleMic: function () {
        var self = this;
        if (this.recorder) { this.recorder.stop(); return; }
        if (!navigator.mediaDevices || !window.MediaRecorder) { this.runError = this.t.mic_failed; return; }
        this.runError = "";
        navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
          var chunks = [];
          var recorder = new MediaRecorder(stream);
          recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
          recorder.onstop = function () {
            stream.getTracks().forEach(function (track) { track.stop(); });
            self.recorder = null;
            self.transcribe(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
          };
          self.recorder = recorder;
          recorder.start();
        }).catch(function () { self.runError = self.t.mic_failed; });
      },
      transcribe: function (blob) {
        var self = this;
        var name = "speech." + ((blob.type.split("/")[1] || "webm").split(";")[0]);
        this.transcribing = true;
        this.postFile(this.urls.debug_stt, blob, name, this.t.mic_failed, function (data) {
          self.query = (self.query ? self.query + " " : "") + (data.text || "");
        }).finally(function () { self.transcribing = false; });
      },
      /** An answer read aloud by the workspace's text-to-speech model. */
      speakTurn: function (turn) {
        var self = this;
        if (turn.audioUrl || turn.speaking) return;
        turn.speaking = true;
        this.saveDraft().then(function (ok) {
          if (!ok) { self.runError = self.t.fix_first; return null; }
          return fetch(self.urls.debug_tts.replace(PLACEHOLDER, turn.id), {
            method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() }
          }).then(function (r) {
            if (!r.ok) {
              return r.json().catch(function () { return {}; }).then(function (data) {
                self.runError = data.message || self.t.tts_failed;
              });
            }
            return r.blob().then(function (blob) {
              turn.audioUrl = URL.createObjectURL(blob);
              self.$nextTick(function () {
                var player = document.getElementById("tts-" + turn.id);
                if (player) player.play().catch(function () {});
              });
            });
          });
        }).catch(function () { self.runError = self.t.tts_failed; })
          .finally(function () { turn.speaking = false; });
      },
      isLast: function (turn) { return this.turns[this.turns.length - 1] === turn; },
      scrollDown: function () {
        var box = this.$refs.thread;
        if (box) box.scrollTop = box.scrollHeight;
      }
    };
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("orchestrate", orchestrate);
  });
})();
