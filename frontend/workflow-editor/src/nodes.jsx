/* The canvas's node and edge components. Text reaches the DOM only as React children (escaped). */
import { createContext, useContext, useState } from "react";
import { BaseEdge, EdgeLabelRenderer, getBezierPath, Handle, NodeResizer, Position } from "@xyflow/react";
import { noteState, noteText } from "./graph.js";

export const EditorContext = createContext(null);

const GLYPHS = {
  start: "▶", end: "■", answer: "✎", llm: "✦", "knowledge-retrieval": "❏", "question-classifier": "⑂",
  "parameter-extractor": "⇲", "if-else": "⋔", iteration: "↻", loop: "⟲", "loop-end": "⏹", code: "{}",
  "template-transform": "T", "variable-aggregator": "⊕", "variable-assigner": "⊕", assigner: "=",
  "http-request": "⇄", "list-operator": "☰", "document-extractor": "⎙", tool: "⚒", agent: "☉",
};

export function glyph(type) { return GLYPHS[type] || "•"; }

function useNodeInfo(id, data) {
  const ctx = useContext(EditorContext);
  const def = ctx.types[data.type] || {};
  return { ctx, def, status: ctx.statuses[id] || "", problems: ctx.problems[id] || [] };
}

function Branch({ id, label, tone }) {
  return (
    <div className={`wfe-branch${tone ? ` wfe-branch--${tone}` : ""}`} data-handle={id}>
      <span>{label}</span>
      <Handle type="source" position={Position.Right} id={id} className="wfe-handle" />
    </div>
  );
}

function Branches({ data, t }) {
  const rows = [];
  if (data.type === "if-else") {
    if (Array.isArray(data.cases)) {
      data.cases.forEach((c, i) => rows.push(<Branch key={c.case_id} id={String(c.case_id)} label={i === 0 ? "IF" : `ELIF ${i}`} />));
    } else {
      rows.push(<Branch key="true" id="true" label="IF" />);
    }
    rows.push(<Branch key="false" id="false" label="ELSE" />);
  } else if (data.type === "question-classifier") {
    (data.classes || []).forEach((c, i) => rows.push(
      <Branch key={c.id} id={String(c.id)} label={c.name || t("class_n").replace("%(n)s", i + 1)} />));
  }
  if (data.error_strategy === "fail-branch") {
    if (!rows.length) rows.push(<Branch key="source" id="source" label={t("success")} />);
    rows.push(<Branch key="fail" id="fail-branch" label={t("fail_branch")} tone="fail" />);
  }
  return rows.length ? <div className="wfe-branches">{rows}</div> : null;
}

export function StepNode({ id, data, selected }) {
  const { ctx, def, status, problems } = useNodeInfo(id, data);
  const branching = data.type === "if-else" || data.type === "question-classifier" || data.error_strategy === "fail-branch";
  const terminal = data.type === "end" || data.type === "loop-end";
  return (
    <div className={`wfe-node wfe-group--${def.group || "other"}${selected ? " is-selected" : ""}${status ? ` is-${status}` : ""}${problems.length ? " has-problem" : ""}`}
         data-testid="wf-node" data-node-id={id} data-type={data.type} data-status={status}>
      {data.type !== "start" && <Handle type="target" position={Position.Left} id="target" className="wfe-handle" />}
      <div className="wfe-node__head">
        <span className="wfe-node__icon" aria-hidden="true">{glyph(data.type)}</span>
        <span className="wfe-node__title">{data.title || def.label}</span>
        {problems.length > 0 && <span className="wfe-node__warn" title={problems.join("\n")} aria-label={ctx.t("has_problems")}>!</span>}
        {status && <span className={`wfe-node__status wfe-status--${status}`} title={ctx.t(`status_${status}`)} />}
      </div>
      {data.desc ? <div className="wfe-node__desc">{data.desc}</div>
        : data.title && data.title !== def.label ? <div className="wfe-node__type">{def.label || data.type}</div> : null}
      <Branches data={data} t={ctx.t} />
      {!branching && !terminal && <Handle type="source" position={Position.Right} id="source" className="wfe-handle" />}
    </div>
  );
}

export function ContainerNode({ id, data, selected }) {
  const { ctx, def, status, problems } = useNodeInfo(id, data);
  return (
    <div className={`wfe-container${selected ? " is-selected" : ""}${status ? ` is-${status}` : ""}${problems.length ? " has-problem" : ""}`}
         data-testid="wf-node" data-node-id={id} data-type={data.type} data-status={status}>
      <NodeResizer isVisible={selected && ctx.editable} minWidth={320} minHeight={160} color="var(--wfe-accent)" />
      <Handle type="target" position={Position.Left} id="target" className="wfe-handle" />
      <div className="wfe-container__head">
        <span className="wfe-node__icon" aria-hidden="true">{glyph(data.type)}</span>
        <span className="wfe-node__title">{data.title || def.label}</span>
        {problems.length > 0 && <span className="wfe-node__warn" title={problems.join("\n")}>!</span>}
        <span className="wfe-container__hint">{ctx.t(data.type === "loop" ? "loop_hint" : "iteration_hint")}</span>
      </div>
      {data.error_strategy === "fail-branch" ? <Branches data={data} t={ctx.t} />
        : <Handle type="source" position={Position.Right} id="source" className="wfe-handle" />}
    </div>
  );
}

export function MarkNode() {
  return (
    <div className="wfe-mark" data-testid="wf-container-start" aria-hidden="true">
      ▶
      <Handle type="source" position={Position.Right} id="source" className="wfe-handle" />
    </div>
  );
}

const THEMES = ["yellow", "blue", "green", "pink", "violet"];

export function NoteNode({ id, data, selected }) {
  const ctx = useContext(EditorContext);
  const [text, setText] = useState(() => noteText(data.text));
  const theme = THEMES.includes(data.theme) ? data.theme : "yellow";
  return (
    <div className={`wfe-note wfe-note--${theme}${selected ? " is-selected" : ""}`} data-testid="wf-note" data-node-id={id}>
      <NodeResizer isVisible={selected && ctx.editable} minWidth={160} minHeight={80} color="var(--wfe-accent)" />
      <div className="wfe-note__bar">
        {ctx.editable && THEMES.map((name) => (
          <button key={name} type="button" className={`wfe-swatch wfe-note--${name}${name === theme ? " is-on" : ""}`}
                  aria-label={ctx.t(`theme_${name}`)} title={ctx.t(`theme_${name}`)}
                  onClick={() => ctx.updateData(id, { theme: name })} />
        ))}
        {data.showAuthor && data.author ? <span className="wfe-note__author">{data.author}</span> : null}
      </div>
      <textarea className="wfe-note__text nodrag nowheel" value={text} readOnly={!ctx.editable}
                aria-label={ctx.t("note")} placeholder={ctx.t("note_placeholder")}
                onChange={(e) => setText(e.target.value)}
                onBlur={() => { if (text !== noteText(data.text)) ctx.updateData(id, { text: noteState(text) }); }} />
    </div>
  );
}

export function InsertableEdge(props) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, selected, style } = props;
  const ctx = useContext(EditorContext);
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  const status = ctx.edgeStatus(props.source, props.target);
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd}
                style={{ ...style, stroke: selected ? "var(--wfe-accent)" : status === "succeeded" ? "var(--wfe-ok)" : undefined,
                         strokeWidth: selected ? 2.5 : 1.75 }} />
      {ctx.editable && (
        <EdgeLabelRenderer>
          <button type="button" className={`wfe-edge-insert nodrag nopan${selected ? " is-visible" : ""}`}
                  style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
                  data-testid="edge-insert" data-edge-id={id} aria-label={ctx.t("insert_on_edge")} title={ctx.t("insert_on_edge")}
                  onClick={(e) => { e.stopPropagation(); ctx.openInsert(id, { x: labelX, y: labelY }); }}>+</button>
        </EdgeLabelRenderer>
      )}
    </>
  );
}
