/* Inspector widgets. Which fields a node type has, their labels and choices come from the server
   registry (apps/workflows/engine/nodes/registry.py FORMS); this file only knows how to draw each
   widget kind, and which variables a node can read (its upstream nodes, WF-04). */
import { useMemo, useRef, useState } from "react";

export function getPath(data, path) {
  return path.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), data);
}

/** A copy of `data` with `path` set (missing objects on the way are created). */
export function setPath(data, path, value) {
  const keys = path.split(".");
  const top = { ...data };
  let cur = top;
  keys.slice(0, -1).forEach((k) => {
    cur[k] = cur[k] && typeof cur[k] === "object" && !Array.isArray(cur[k]) ? { ...cur[k] } : {};
    cur = cur[k];
  });
  cur[keys[keys.length - 1]] = value;
  return top;
}

const START_TYPES = { "text-input": "string", paragraph: "string", select: "string", number: "number",
  checkbox: "boolean", file: "file", "file-list": "array[file]", json_object: "object" };

/** Variables a node of this data offers downstream: the registry's outputs plus settings-driven ones. */
function outputsOf(node, def) {
  const data = node.data;
  const out = (def && def.outputs ? def.outputs : []).map(([name, type]) => ({ name, type }));
  if (data.type === "start") (data.variables || []).forEach((v) => v.variable && out.push({ name: v.variable, type: START_TYPES[v.type] || "string" }));
  if (data.type === "code") Object.entries(data.outputs || {}).forEach(([name, o]) => out.push({ name, type: (o && o.type) || "any" }));
  if (data.type === "parameter-extractor") (data.parameters || []).forEach((p) => p.name && out.push({ name: p.name, type: p.type || "string" }));
  if (data.type === "loop") (data.loop_variables || []).forEach((v) => v.label && out.push({ name: v.label, type: v.var_type || "any" }));
  if (data.type === "variable-aggregator" && data.output_type) out.forEach((o) => { if (o.name === "output") o.type = data.output_type; });
  return out;
}

/** Groups of variables the node may read: upstream nodes in its scope and its container's scope,
    the container's own item/index, then sys, env and conversation. */
export function availableVariables(nodeId, nodes, edges, types, globals) {
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const incoming = {};
  edges.forEach((e) => { (incoming[e.target] = incoming[e.target] || []).push(e.source); });
  const seen = new Set();
  const order = [];
  const walk = (start) => {
    const queue = [...(incoming[start] || [])];
    while (queue.length) {
      const id = queue.shift();
      if (seen.has(id) || !byId[id]) continue;
      seen.add(id); order.push(id);
      (incoming[id] || []).forEach((s) => queue.push(s));
    }
  };
  walk(nodeId);
  let node = byId[nodeId];
  const groups = [];
  while (node && node.parentId && byId[node.parentId]) {
    const parent = byId[node.parentId];
    if (parent.data.type === "iteration") {
      groups.push({ node: parent.id, title: parent.data.title, vars: [{ name: "item", type: "any" }, { name: "index", type: "number" }] });
    } else if (parent.data.type === "loop") {
      groups.push({ node: parent.id, title: parent.data.title, vars: [{ name: "index", type: "number" },
        ...(parent.data.loop_variables || []).filter((v) => v.label).map((v) => ({ name: v.label, type: v.var_type || "any" }))] });
    }
    walk(parent.id);
    node = parent;
  }
  order.forEach((id) => {
    const n = byId[id];
    if (n.type === "mark" || n.type === "note") return;
    const vars = outputsOf(n, types[n.data.type]);
    if (vars.length) groups.push({ node: id, title: n.data.title || id, vars });
  });
  ["sys", "env", "conversation"].forEach((scope) => {
    const vars = globals.filter((g) => g.node === scope).map((g) => ({ name: g.name, type: g.type }));
    if (vars.length) groups.push({ node: scope, title: scope, vars, global: true });
  });
  return groups;
}

function known(groups, selector) {
  if (!Array.isArray(selector) || selector.length < 2) return true;
  const group = groups.find((g) => g.node === selector[0]);
  return !!group && (group.global || group.node !== selector[0] || group.vars.some((v) => v.name === selector[1]) || selector[0] === "sys");
}

export function typeOf(groups, selector) {
  if (!Array.isArray(selector)) return "any";
  const group = groups.find((g) => g.node === selector[0]);
  const found = group && group.vars.find((v) => v.name === selector[1]);
  return found ? found.type || "any" : "any";
}

export function SelectorPicker({ value, onChange, groups, t, id, label }) {
  const current = Array.isArray(value) && value.length >= 2 ? JSON.stringify(value.slice(0, 2)) : "";
  const ok = known(groups, value);
  return (
    <>
      <select id={id} className={`wfe-input${ok ? "" : " is-dangling"}`} value={current} aria-label={label}
              data-testid="selector" onChange={(e) => onChange(e.target.value ? JSON.parse(e.target.value) : [])}>
        <option value="">{t("choose_variable")}</option>
        {!ok && <option value={current}>{value.join(".")} ⚠</option>}
        {groups.map((g) => (
          <optgroup key={g.node} label={g.global ? t(`${g.node === "sys" ? "system" : g.node === "env" ? "env" : "conversation"}_vars`) : g.title}>
            {g.vars.map((v) => <option key={v.name} value={JSON.stringify([g.node, v.name])}>{`${g.global ? `${g.node}.` : `${g.title} › `}${v.name} · ${v.type}`}</option>)}
          </optgroup>
        ))}
      </select>
      {!ok && <p className="wfe-error" data-testid="dangling">{t("dangling")}</p>}
    </>
  );
}

const REF = /\{\{#([a-zA-Z0-9_]{1,50})\.([a-zA-Z_][a-zA-Z0-9_]{0,29})/g;

/** A template textarea: "Insert a variable…" puts {{#node.var#}} at the cursor; unknown references are flagged. */
export function TemplateBox({ value, onChange, groups, t, id, label, rows = 4, line = false, code = false }) {
  const box = useRef(null);
  const text = value || "";
  const dangling = useMemo(() => {
    const bad = [];
    let m;
    REF.lastIndex = 0;
    while ((m = REF.exec(text))) {
      if (m[1] === "context" || m[1] === "sys") continue;
      if (!known(groups, [m[1], m[2]]) || !groups.some((g) => g.node === m[1])) bad.push(`${m[1]}.${m[2]}`);
    }
    return bad;
  }, [text, groups]);
  function insert(e) {
    const raw = e.target.value;
    e.target.value = "";
    if (!raw) return;
    const [node, name] = JSON.parse(raw);
    const ref = `{{#${node}.${name}#}}`;
    const el = box.current;
    const at = el ? el.selectionStart : text.length;
    const end = el ? el.selectionEnd : text.length;
    onChange(text.slice(0, at) + ref + text.slice(end));
  }
  const Tag = line ? "input" : "textarea";
  return (
    <div className="wfe-template">
      <Tag ref={box} id={id} className={`wfe-input${code ? " wfe-code" : ""}`} rows={line ? undefined : rows} value={text}
           aria-label={label} spellCheck={!code} data-testid="template" onChange={(e) => onChange(e.target.value)} />
      <select className="wfe-input wfe-input--small" aria-label={t("insert_variable")} defaultValue="" onChange={insert} data-testid="insert-variable">
        <option value="">{t("insert_variable")}</option>
        {groups.map((g) => (
          <optgroup key={g.node} label={g.title}>
            {g.vars.map((v) => <option key={v.name} value={JSON.stringify([g.node, v.name])}>{`${g.node}.${v.name} · ${v.type}`}</option>)}
          </optgroup>
        ))}
      </select>
      {dangling.length > 0 && <p className="wfe-error" data-testid="dangling">{t("dangling")} {dangling.join(", ")}</p>}
    </div>
  );
}

function ModelPicker({ value, onChange, ctx, id, label, modelType }) {
  const { t } = ctx;
  const v = value || {};
  const choices = ctx.models.filter((m) => m.model_type === (modelType || "llm"));
  const current = v.provider && v.name ? JSON.stringify([v.provider, v.name]) : "";
  const params = v.completion_params || {};
  return (
    <div className="wfe-stack">
      <select id={id} className="wfe-input" value={current} aria-label={label} data-testid="model"
              onChange={(e) => {
                if (!e.target.value) { onChange({ ...v, provider: "", name: "" }); return; }
                const [provider, name] = JSON.parse(e.target.value);
                const m = choices.find((c) => c.provider === provider && c.name === name);
                onChange({ ...v, provider, name, mode: (m && m.mode) || "chat", completion_params: params });
              }}>
        <option value="">{t("choose_model")}</option>
        {current && !choices.some((c) => JSON.stringify([c.provider, c.name]) === current) && <option value={current}>{`${v.provider} / ${v.name} ⚠`}</option>}
        {choices.map((m) => <option key={`${m.provider}/${m.name}`} value={JSON.stringify([m.provider, m.name])}>{`${m.provider_label} · ${m.label}`}</option>)}
      </select>
      {!choices.length && <p className="wfe-muted">{t("no_models")}</p>}
      {modelType !== "rerank" && (
        <div className="wfe-grid2">
          <label>{t("temperature")}<input type="number" step="0.1" min="0" max="2" className="wfe-input" value={params.temperature ?? ""}
            onChange={(e) => onChange({ ...v, completion_params: { ...params, temperature: e.target.value === "" ? undefined : Number(e.target.value) } })} /></label>
          <label>{t("max_tokens")}<input type="number" min="1" className="wfe-input" value={params.max_tokens ?? ""}
            onChange={(e) => onChange({ ...v, completion_params: { ...params, max_tokens: e.target.value === "" ? undefined : Number(e.target.value) } })} /></label>
        </div>
      )}
    </div>
  );
}

function Rows({ items, onChange, make, render, t, testid }) {
  const list = Array.isArray(items) ? items : [];
  return (
    <div className="wfe-stack" data-testid={testid}>
      {list.map((item, i) => (
        <div key={i} className="wfe-rowbox">
          {render(item, (next) => onChange(list.map((x, j) => (j === i ? next : x))), i)}
          <button type="button" className="wfe-btn wfe-btn--icon" aria-label={t("remove")} onClick={() => onChange(list.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" className="wfe-btn" data-testid={testid ? `${testid}-add` : undefined} onClick={() => onChange(list.concat([make()]))}>＋ {t("add")}</button>
    </div>
  );
}

function Conditions({ value, onChange, ctx, groups }) {
  const { t } = ctx;
  const cases = Array.isArray(value) ? value : [];
  const setCase = (i, next) => onChange(cases.map((c, j) => (j === i ? next : c)));
  return (
    <div className="wfe-stack" data-testid="conditions">
      {cases.map((c, i) => (
        <div key={c.case_id} className="wfe-case">
          <div className="wfe-row"><span className="wfe-pill">{i === 0 ? "IF" : `ELIF ${i}`}</span>
            {(c.conditions || []).length > 1 && (
              <select className="wfe-input wfe-input--small" value={c.logical_operator || "and"} aria-label={t("and")}
                      onChange={(e) => setCase(i, { ...c, logical_operator: e.target.value })}>
                <option value="and">{t("and")}</option><option value="or">{t("or")}</option>
              </select>)}
          </div>
          {(c.conditions || []).map((cond, k) => {
            const kind = typeOf(groups, cond.variable_selector).split("[")[0];
            const ops = ctx.operators[kind] || ctx.operators.any;
            const setCond = (patch) => setCase(i, { ...c, conditions: c.conditions.map((x, j) => (j === k ? { ...x, ...patch } : x)) });
            return (
              <div key={k} className="wfe-cond" data-testid="condition">
                <SelectorPicker value={cond.variable_selector} groups={groups} t={t} label={t("choose_variable")}
                                onChange={(sel) => setCond({ variable_selector: sel, varType: typeOf(groups, sel) })} />
                <div className="wfe-row">
                  <select className="wfe-input" value={cond.comparison_operator || ""} aria-label={t("type")} data-testid="operator"
                          onChange={(e) => setCond({ comparison_operator: e.target.value })}>
                    {!ops.includes(cond.comparison_operator) && <option value={cond.comparison_operator || ""}>{cond.comparison_operator || "—"}</option>}
                    {ops.map((op) => <option key={op} value={op}>{op}</option>)}
                  </select>
                  {!ctx.unary.includes(cond.comparison_operator) && (
                    <input className="wfe-input" value={cond.value ?? ""} aria-label={t("value")} placeholder={t("value")} data-testid="condition-value"
                           onChange={(e) => setCond({ value: e.target.value })} />)}
                  <button type="button" className="wfe-btn wfe-btn--icon" aria-label={t("remove")}
                          onClick={() => setCase(i, { ...c, conditions: c.conditions.filter((_, j) => j !== k) })}>×</button>
                </div>
              </div>
            );
          })}
          <button type="button" className="wfe-btn" data-testid="add-condition"
                  onClick={() => setCase(i, { ...c, conditions: (c.conditions || []).concat([{ variable_selector: [], comparison_operator: "contains", value: "" }]) })}>
            ＋ {t("add_condition")}</button>
        </div>
      ))}
    </div>
  );
}

function Datasets({ value, onChange, ctx }) {
  const { t } = ctx;
  const [q, setQ] = useState("");
  const chosen = Array.isArray(value) ? value : [];
  const shown = ctx.datasets.filter((d) => !q || d.name.toLowerCase().includes(q.toLowerCase()));
  return (
    <div className="wfe-stack" data-testid="datasets">
      {ctx.datasets.length ? <input type="search" className="wfe-input" placeholder={t("search_datasets")} aria-label={t("search_datasets")} value={q} onChange={(e) => setQ(e.target.value)} />
        : <p className="wfe-muted">{t("no_datasets")}</p>}
      {shown.map((d) => (
        <label key={d.id} className="wfe-check">
          <input type="checkbox" checked={chosen.includes(d.id)}
                 onChange={(e) => onChange(e.target.checked ? chosen.concat([d.id]) : chosen.filter((x) => x !== d.id))} /> {d.name}
        </label>
      ))}
    </div>
  );
}

const START_FIELD_TYPES = ["text-input", "paragraph", "select", "number", "checkbox", "file", "file-list", "json_object"];

/** One field of the registry's form, drawn by its widget. */
export function FormField({ field, data, set, ctx, groups, nodeId }) {
  const { t } = ctx;
  const value = getPath(data, field.key);
  const change = (v) => set(setPath(data, field.key, v), field.key);
  const id = `wfe-${nodeId}-${field.key.replace(/\W/g, "-")}`;
  const w = field.widget;
  let input;
  if (w === "text") input = <input id={id} className="wfe-input" value={value ?? ""} onChange={(e) => change(e.target.value)} />;
  else if (w === "number") input = <input id={id} type="number" className="wfe-input" value={value ?? ""} onChange={(e) => change(e.target.value === "" ? null : Number(e.target.value))} />;
  else if (w === "switch") return (
    <label className="wfe-check" data-field={field.key}><input type="checkbox" checked={!!value} onChange={(e) => change(e.target.checked)} /> {field.label}</label>);
  else if (w === "select") input = (
    <select id={id} className="wfe-input" value={value ?? ""} onChange={(e) => change(e.target.value)}>
      {!field.options.some(([v]) => v === value) && <option value={value ?? ""}>{value ?? "—"}</option>}
      {field.options.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
    </select>);
  else if (w === "selector") input = <SelectorPicker id={id} value={value} onChange={change} groups={groups} t={t} label={field.label} />;
  else if (w === "template" || w === "template-line" || w === "code") input = (
    <TemplateBox id={id} value={value} onChange={change} groups={groups} t={t} label={field.label}
                 line={w === "template-line"} code={w === "code"} rows={w === "code" ? 10 : 4} />);
  else if (w === "model") input = <ModelPicker id={id} value={value} onChange={change} ctx={ctx} label={field.label} modelType={field.model_type} />;
  else if (w === "datasets") input = <Datasets value={value} onChange={change} ctx={ctx} />;
  else if (w === "conditions") input = <Conditions value={value} onChange={change} ctx={ctx} groups={groups} />;
  else if (w === "selector-list") input = (
    <Rows items={value} onChange={change} make={() => []} t={t} testid="selector-list"
          render={(sel, put) => <SelectorPicker value={sel} onChange={put} groups={groups} t={t} label={field.label} />} />);
  else if (w === "named-variables" || w === "outputs") input = (
    <Rows items={value} onChange={change} make={() => ({ variable: "", value_selector: [] })} t={t} testid={w === "outputs" ? "end-outputs" : w}
          render={(item, put) => (
            <div className="wfe-pair">
              <input className="wfe-input" value={item.variable || ""} placeholder={t("variable_name")} aria-label={t("variable_name")}
                     onChange={(e) => put({ ...item, variable: e.target.value })} />
              <SelectorPicker value={item.value_selector} groups={groups} t={t} label={t("choose_variable")}
                              onChange={(sel) => put({ ...item, value_selector: sel, ...(w === "outputs" ? { value_type: typeOf(groups, sel) } : {}) })} />
            </div>)} />);
  else if (w === "start-variables") input = (
    <Rows items={value} onChange={change} t={t} testid="start-variables"
          make={() => ({ variable: "", label: "", type: "text-input", required: true, max_length: 256, options: [] })}
          render={(item, put) => (
            <div className="wfe-pair">
              <div className="wfe-grid2">
                <input className="wfe-input" value={item.variable || ""} placeholder={t("variable_name")} aria-label={t("variable_name")}
                       onChange={(e) => put({ ...item, variable: e.target.value, label: item.label || "" })} />
                <input className="wfe-input" value={item.label || ""} placeholder={t("label")} aria-label={t("label")}
                       onChange={(e) => put({ ...item, label: e.target.value })} />
              </div>
              <div className="wfe-row">
                <select className="wfe-input" value={item.type || "text-input"} aria-label={t("type")} onChange={(e) => put({ ...item, type: e.target.value })}>
                  {START_FIELD_TYPES.map((ty) => <option key={ty} value={ty}>{ty}</option>)}
                </select>
                <label className="wfe-check"><input type="checkbox" checked={!!item.required} onChange={(e) => put({ ...item, required: e.target.checked })} /> {t("required")}</label>
              </div>
              {item.type === "select" && <input className="wfe-input" placeholder={t("options_csv")} aria-label={t("options_csv")} value={(item.options || []).join(", ")}
                                                onChange={(e) => put({ ...item, options: e.target.value.split(",").map((s) => s.trim()).filter(Boolean) })} />}
            </div>)} />);
  else if (w === "prompt") input = (
    <Rows items={Array.isArray(value) ? value : value ? [value] : []} onChange={change} t={t} testid="prompt"
          make={() => ({ role: "user", text: "" })}
          render={(item, put, i) => (
            <div className="wfe-pair">
              <select className="wfe-input wfe-input--small" value={item.role || "user"} aria-label={t("role")} onChange={(e) => put({ ...item, role: e.target.value })}>
                {["system", "user", "assistant"].map((r) => <option key={r} value={r}>{r.toUpperCase()}</option>)}
              </select>
              <TemplateBox value={item.text} onChange={(text) => put({ ...item, text })} groups={groups} t={t} label={`${field.label} ${i + 1}`} />
            </div>)} />);
  else input = <p className="wfe-muted">{w}</p>;
  return (
    <div className="wfe-field" data-field={field.key} data-widget={w}>
      <label htmlFor={id}>{field.label}</label>
      {input}
    </div>
  );
}
