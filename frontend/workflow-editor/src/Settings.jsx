/* The workflow's own settings beside the graph: environment variables (secret values never come
   back from the server: they show masked, and an untouched mask keeps the stored secret),
   conversation variables and the chatflow features. Saved with the draft. */
import { useState } from "react";

const ENV_TYPES = ["string", "number", "secret"];
const CONVERSATION_TYPES = ["string", "number", "boolean", "object", "array[string]", "array[number]", "array[object]"];

function uuid() {
  return (window.crypto && window.crypto.randomUUID) ? window.crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

function shown(value, type) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" && !type.startsWith("array") && type !== "object" ? value : JSON.stringify(value);
}

function parsed(text, type) {
  if (type === "number") return text === "" ? 0 : Number(text);
  if (type === "boolean") return text === "true";
  if (type === "object" || type.startsWith("array")) {
    try { return JSON.parse(text); } catch (err) { return text; }
  }
  return text;
}

function VariableRows({ items, onChange, types, t, kind, editable }) {
  const set = (i, patch) => onChange(items.map((v, j) => (j === i ? { ...v, ...patch } : v)));
  return (
    <div className="wfe-stack" data-testid={`${kind}-variables`}>
      {items.map((v, i) => (
        <div key={v.id || i} className="wfe-rowbox">
          <div className="wfe-pair">
            <div className="wfe-grid2">
              <input className="wfe-input" value={v.name || ""} placeholder={t("variable_name")} aria-label={t("variable_name")}
                     onChange={(e) => set(i, { name: e.target.value })} />
              <select className="wfe-input" value={v.value_type || "string"} aria-label={t("type")}
                      onChange={(e) => set(i, { value_type: e.target.value, value: e.target.value === "number" ? 0 : "" })}>
                {!types.includes(v.value_type || "string") && <option value={v.value_type}>{v.value_type}</option>}
                {types.map((ty) => <option key={ty} value={ty}>{ty}</option>)}
              </select>
            </div>
            <input className="wfe-input" type={v.value_type === "secret" ? "password" : "text"} autoComplete="off"
                   value={shown(v.value, v.value_type || "string")} placeholder={t("value")} aria-label={t("value")}
                   onChange={(e) => set(i, { value: parsed(e.target.value, v.value_type || "string") })} />
            {kind === "conversation" && <input className="wfe-input" value={v.description || ""} placeholder={t("description")}
                                               aria-label={t("description")} onChange={(e) => set(i, { description: e.target.value })} />}
          </div>
          {editable && <button type="button" className="wfe-btn wfe-btn--icon" aria-label={t("remove")} onClick={() => onChange(items.filter((_, j) => j !== i))}>×</button>}
        </div>
      ))}
      {editable && <button type="button" className="wfe-btn" data-testid={`${kind}-variables-add`}
              onClick={() => onChange(items.concat([{ id: uuid(), name: "", value_type: "string", value: "", description: "" }]))}>＋ {t("add")}</button>}
    </div>
  );
}

function Switch({ label, checked, onChange, testid }) {
  return <label className="wfe-check" data-testid={testid}><input type="checkbox" checked={!!checked} onChange={(e) => onChange(e.target.checked)} /> {label}</label>;
}

function Features({ features, onChange, t }) {
  const f = features || {};
  const toggle = (key) => (on) => onChange({ ...f, [key]: { ...(f[key] || {}), enabled: on } });
  const questions = f.suggested_questions || [];
  return (
    <div className="wfe-stack" data-testid="features">
      <label htmlFor="wfe-opener">{t("opener")}</label>
      <textarea id="wfe-opener" className="wfe-input" rows={3} value={f.opening_statement || ""} data-testid="opener"
                onChange={(e) => onChange({ ...f, opening_statement: e.target.value })} />
      <label>{t("suggested_questions")}</label>
      {questions.map((q, i) => (
        <div key={i} className="wfe-row">
          <input className="wfe-input" value={q} aria-label={t("suggested_questions")}
                 onChange={(e) => onChange({ ...f, suggested_questions: questions.map((x, j) => (j === i ? e.target.value : x)) })} />
          <button type="button" className="wfe-btn wfe-btn--icon" aria-label={t("remove")}
                  onClick={() => onChange({ ...f, suggested_questions: questions.filter((_, j) => j !== i) })}>×</button>
        </div>
      ))}
      <button type="button" className="wfe-btn" onClick={() => onChange({ ...f, suggested_questions: questions.concat([""]) })}>＋ {t("add")}</button>
      <Switch label={t("follow_ups")} checked={(f.suggested_questions_after_answer || {}).enabled} onChange={toggle("suggested_questions_after_answer")} testid="feature-follow-ups" />
      <Switch label={t("file_upload")} checked={(f.file_upload || {}).enabled} onChange={toggle("file_upload")} testid="feature-file-upload" />
      <Switch label={t("citations")} checked={(f.retriever_resource || {}).enabled} onChange={toggle("retriever_resource")} testid="feature-citations" />
      <Switch label={t("speech_to_text")} checked={(f.speech_to_text || {}).enabled} onChange={toggle("speech_to_text")} />
      <Switch label={t("text_to_speech")} checked={(f.text_to_speech || {}).enabled} onChange={toggle("text_to_speech")} />
      <Switch label={t("moderation")} checked={(f.sensitive_word_avoidance || {}).enabled} onChange={toggle("sensitive_word_avoidance")} />
    </div>
  );
}

export function Settings({ extras, setExtras, chat, t, editable, onClose }) {
  const tabs = ["env"].concat(chat ? ["conversation", "features"] : []);
  const [tab, setTab] = useState("env");
  return (
    <aside className="wfe-palette wfe-settings" data-testid="settings" aria-label={t("settings")}>
      <div className="wfe-palette__head">
        <strong>{t("settings")}</strong>
        <button type="button" className="wfe-btn wfe-btn--icon" onClick={onClose} aria-label={t("close")}>×</button>
      </div>
      <div className="wfe-tabs" role="tablist">
        {tabs.map((name) => (
          <button key={name} type="button" role="tab" aria-selected={tab === name} className={`wfe-tab${tab === name ? " is-on" : ""}`}
                  data-testid={`tab-${name}`} onClick={() => setTab(name)}>{t(`tab_${name}`)}</button>
        ))}
      </div>
      <fieldset disabled={!editable} className="wfe-form">
        {tab === "env" && <>
          <p className="wfe-muted">{t("env_hint")}</p>
          <VariableRows kind="env" items={extras.environment_variables} types={ENV_TYPES} t={t} editable={editable}
                        onChange={(items) => setExtras({ ...extras, environment_variables: items })} />
        </>}
        {tab === "conversation" && <>
          <p className="wfe-muted">{t("conversation_hint")}</p>
          <VariableRows kind="conversation" items={extras.conversation_variables} types={CONVERSATION_TYPES} t={t} editable={editable}
                        onChange={(items) => setExtras({ ...extras, conversation_variables: items })} />
        </>}
        {tab === "features" && <Features features={extras.features} t={t} onChange={(features) => setExtras({ ...extras, features })} />}
      </fieldset>
    </aside>
  );
}
