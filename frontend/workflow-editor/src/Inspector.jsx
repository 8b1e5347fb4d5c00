/* The inspector of the selected node: title, description, branches (IF/ELSE cases, classifier
   classes), error handling and retry, and every other field of the node's data as JSON. */
import { useEffect, useMemo, useState } from "react";
import { availableVariables, FormField } from "./fields.jsx";
import { newId } from "./graph.js";
import { glyph } from "./nodes.jsx";

const OWN = new Set(["type", "title", "desc", "error_strategy", "retry_config", "default_value",
  "selected", "width", "height", "isInIteration", "isInLoop", "iteration_id", "loop_id"]);

/* The JSON box holds what the form does not: every key outside OWN and the form's own keys. */
function rest(data, formKeys) {
  const out = {};
  Object.keys(data).forEach((k) => { if (!OWN.has(k) && !formKeys.has(k)) out[k] = data[k]; });
  return JSON.stringify(out, null, 2);
}

function pretty(value) {
  return value === null || value === undefined || (typeof value === "object" && !Object.keys(value).length)
    ? "" : JSON.stringify(value, null, 2);
}

function LastRun({ run, t }) {
  const meta = run.execution_metadata || {};
  const parts = [["run_inputs", run.inputs], ["run_process", run.process_data], ["run_outputs", run.outputs]];
  return (
    <section className="wfe-section" data-testid="last-run">
      <h4>{t("last_run")}</h4>
      <div className="wfe-row wfe-muted">
        <span className={`wfe-node__status wfe-status--${run.status}`} />
        <span data-testid="last-run-status">{t(`status_${run.status}`)}</span>
        <span>· {Number(run.elapsed_time || 0).toFixed(3)} s</span>
        {meta.total_tokens ? <span>· {t("tokens_n").replace("%(n)s", meta.total_tokens)}</span> : null}
      </div>
      {run.error && <p className="wfe-error">{run.error}</p>}
      {parts.map(([key, value]) => pretty(value) && (
        <details key={key} open={key === "run_outputs"}><summary>{t(key)}</summary><pre className="wfe-pre" data-testid={key}>{pretty(value)}</pre></details>
      ))}
    </section>
  );
}

/* The step test: one input per variable the node reads (as the server lists them), run through the
   step endpoint; the result lands in "Last run" above. */
function StepTest({ nodeId, step, t }) {
  const [names, setNames] = useState(null);
  const [values, setValues] = useState({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  function load(e) {
    if (!e.target.open || names) return;
    step.variables(nodeId).then((found) => { setNames(found); setError(""); }).catch((err) => setError(err.message));
  }
  function run() {
    setBusy(true); setError("");
    const sent = {};
    (names || []).forEach((name) => { sent[name] = parse(values[name] || ""); });
    step.run(nodeId, sent).catch((err) => setError(err.message)).finally(() => setBusy(false));
  }
  return (
    <details className="wfe-section" data-testid="node-step-test" onToggle={load}>
      <summary>{t("step_test")}</summary>
      <p className="wfe-muted">{t("step_hint")}</p>
      {names && !names.length && <p className="wfe-muted">{t("step_none")}</p>}
      {(names || []).map((name) => (
        <label key={name} className="wfe-step-var">
          <code>{name}</code>
          <textarea className="wfe-input" rows={1} data-testid="step-input" data-variable={name} value={values[name] || ""}
                    onChange={(e) => setValues((v) => ({ ...v, [name]: e.target.value }))} />
        </label>
      ))}
      {names && <button type="button" className="wfe-btn wfe-btn--primary" data-testid="step-run" disabled={busy} onClick={run}>
        {busy ? t("step_running") : `▶ ${t("step_run")}`}</button>}
      {error && <p className="wfe-error" role="alert">{error}</p>}
    </details>
  );
}

/* A value typed for the step test: JSON when it parses as a number, list, object or boolean, else text. */
function parse(text) {
  const trimmed = text.trim();
  if (/^(-?\d|\[|\{|true$|false$|null$)/.test(trimmed)) {
    try { return JSON.parse(trimmed); } catch (err) { return text; }
  }
  return text;
}

export function Inspector({ node, def, ctx, problems, onClose, nodes, edges, lastRun }) {
  const { t, editable } = ctx;
  const data = node.data;
  const set = (patch, field) => ctx.updateData(node.id, patch, field);
  const form = (def && def.form) || [];
  const formKeys = useMemo(() => new Set(form.map((f) => f.key.split(".")[0])), [form]);
  const groups = useMemo(() => availableVariables(node.id, nodes, edges, ctx.types, ctx.globals), [node.id, nodes, edges, ctx]);
  const [json, setJson] = useState(() => rest(data, formKeys));
  const [jsonError, setJsonError] = useState("");
  useEffect(() => { setJson(rest(data, formKeys)); }, [data, formKeys]);
  const id = (name) => `wfe-${node.id}-${name}`;
  const retry = data.retry_config || { retry_enabled: false, max_retries: 3, retry_interval: 1000 };
  const kind = def || { label: data.type, description: "" };

  function applyJson() {
    let parsed;
    try { parsed = JSON.parse(json || "{}"); } catch (err) { setJsonError(t("invalid_json")); return; }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { setJsonError(t("invalid_json")); return; }
    setJsonError("");
    if (JSON.stringify(parsed, null, 2) === rest(data, formKeys)) return;
    const next = {};
    Object.keys(data).forEach((k) => { if (OWN.has(k) || formKeys.has(k)) next[k] = data[k]; });
    Object.keys(data).forEach((k) => { if (!OWN.has(k) && !formKeys.has(k) && !(k in parsed)) next[k] = undefined; });
    set({ ...next, ...parsed }, "json");
  }

  return (
    <aside className="wfe-inspector" data-testid="inspector" data-node-id={node.id} aria-label={t("inspector")}>
      <header className="wfe-inspector__head">
        <span className={`wfe-node__icon wfe-group--${kind.group || "other"}`} aria-hidden="true">{glyph(data.type)}</span>
        <div>
          <div className="wfe-inspector__kind">{kind.label}</div>
          <div className="wfe-muted">{kind.description}</div>
        </div>
        <button type="button" className="wfe-btn wfe-btn--icon" onClick={onClose} aria-label={t("close")}>×</button>
      </header>
      {ctx.step && data.type !== "start" && <StepTest nodeId={node.id} step={ctx.step} t={t} />}
      {lastRun && <LastRun run={lastRun} t={t} />}
      {problems.length > 0 && <ul className="wfe-problems" data-testid="node-problems">{problems.map((p) => <li key={p}>{p}</li>)}</ul>}
      <fieldset disabled={!editable} className="wfe-form">
        <label htmlFor={id("title")}>{t("title")}</label>
        <input id={id("title")} className="wfe-input" data-testid="field-title" value={data.title || ""}
               onChange={(e) => set({ title: e.target.value }, "title")} />
        <label htmlFor={id("desc")}>{t("description")}</label>
        <textarea id={id("desc")} className="wfe-input" rows={2} data-testid="field-desc" value={data.desc || ""}
                  placeholder={t("description_placeholder")} onChange={(e) => set({ desc: e.target.value }, "desc")} />

        {form.map((field) => (
          <FormField key={field.key} field={field} data={data} set={set} ctx={ctx} groups={groups} nodeId={node.id} />
        ))}

        {data.type === "if-else" && Array.isArray(data.cases) && (
          <div className="wfe-section">
            <h4>{t("cases")}</h4>
            {data.cases.map((c, i) => (
              <div key={c.case_id} className="wfe-row">
                <span className="wfe-pill">{i === 0 ? "IF" : `ELIF ${i}`}</span>
                <span className="wfe-muted">{t("conditions_n").replace("%(n)s", (c.conditions || []).length)}</span>
                {data.cases.length > 1 && <button type="button" className="wfe-btn wfe-btn--icon" aria-label={t("remove")}
                  onClick={() => set({ cases: data.cases.filter((x) => x.case_id !== c.case_id) }, "cases")}>×</button>}
              </div>
            ))}
            <button type="button" className="wfe-btn" data-testid="add-case"
                    onClick={() => set({ cases: data.cases.concat([{ case_id: newId(), logical_operator: "and", conditions: [] }]) }, "cases")}>
              ＋ ELIF</button>
          </div>
        )}

        {data.type === "question-classifier" && (
          <div className="wfe-section">
            <h4>{t("classes")}</h4>
            {(data.classes || []).map((c, i) => (
              <div key={c.id} className="wfe-row">
                <input className="wfe-input" aria-label={t("class_n").replace("%(n)s", i + 1)} value={c.name || ""}
                       placeholder={t("class_n").replace("%(n)s", i + 1)}
                       onChange={(e) => set({ classes: data.classes.map((x) => (x.id === c.id ? { ...x, name: e.target.value } : x)) }, `class-${c.id}`)} />
                {data.classes.length > 1 && <button type="button" className="wfe-btn wfe-btn--icon" aria-label={t("remove")}
                  onClick={() => set({ classes: data.classes.filter((x) => x.id !== c.id) }, "classes")}>×</button>}
              </div>
            ))}
            <button type="button" className="wfe-btn" data-testid="add-class"
                    onClick={() => set({ classes: (data.classes || []).concat([{ id: newId(), name: "" }]) }, "classes")}>＋ {t("add_class")}</button>
          </div>
        )}

        {kind.error_handling && (
          <div className="wfe-section">
            <h4>{t("error_handling")}</h4>
            <label htmlFor={id("strategy")}>{t("on_error")}</label>
            <select id={id("strategy")} className="wfe-input" data-testid="field-error-strategy" value={data.error_strategy || ""}
                    onChange={(e) => set({ error_strategy: e.target.value || undefined }, "error_strategy")}>
              <option value="">{t("on_error_stop")}</option>
              <option value="default-value">{t("on_error_default")}</option>
              <option value="fail-branch">{t("on_error_branch")}</option>
            </select>
            <label className="wfe-check">
              <input type="checkbox" checked={!!retry.retry_enabled}
                     onChange={(e) => set({ retry_config: { ...retry, retry_enabled: e.target.checked } }, "retry")} /> {t("retry")}
            </label>
            {retry.retry_enabled && (
              <div className="wfe-grid2">
                <label>{t("max_retries")}<input type="number" min="1" max="10" className="wfe-input" value={retry.max_retries}
                  onChange={(e) => set({ retry_config: { ...retry, max_retries: Number(e.target.value) } }, "retry")} /></label>
                <label>{t("retry_interval")}<input type="number" min="100" max="5000" step="100" className="wfe-input" value={retry.retry_interval}
                  onChange={(e) => set({ retry_config: { ...retry, retry_interval: Number(e.target.value) } }, "retry")} /></label>
              </div>
            )}
          </div>
        )}

        <details className="wfe-section" open={!form.length}>
          <summary>{form.length ? t("more_settings") : t("fields")}</summary>
          <p className="wfe-muted">{t("fields_hint")}</p>
          <textarea className="wfe-input wfe-code" rows={12} spellCheck={false} data-testid="field-json" aria-label={t("fields")}
                    value={json} onChange={(e) => setJson(e.target.value)} onBlur={applyJson} />
          {jsonError && <p className="wfe-error" role="alert">{jsonError}</p>}
        </details>
        <p className="wfe-muted wfe-id">ID · <code>{node.id}</code></p>
      </fieldset>
    </aside>
  );
}
