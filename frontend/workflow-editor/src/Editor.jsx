/* The workflow canvas: React Flow with Tessera's nodes, history, clipboard, autosave and checklist.
   The page gives everything through one JSON config (graph, node registry, strings, URLs, role), so
   the server stays the one source of node types and translations. */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background, Controls, MiniMap, Panel, ReactFlow, SelectionMode, useEdgesState, useNodesState, useReactFlow,
} from "@xyflow/react";
import {
  CLIPBOARD_KEY, CONTAINERS, copyPayload, fromGraph, newId, orderParentsFirst, pastePayload, semanticKey,
  sizeOf, sourceHandles, tidy, toGraph,
} from "./graph.js";
import { ContainerNode, EditorContext, glyph, InsertableEdge, MarkNode, NoteNode, StepNode } from "./nodes.jsx";
import { Inspector } from "./Inspector.jsx";
import { Settings } from "./Settings.jsx";
import { Preview } from "./Preview.jsx";

const nodeTypes = { step: StepNode, container: ContainerNode, mark: MarkNode, note: NoteNode };
const edgeTypes = { wf: InsertableEdge };
const HISTORY = 100;
const SAVE_DELAY = 800;

function csrf() {
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.getAttribute("content") : "";
}

function snapshot(nodes, edges) {
  return { nodes: nodes.map((n) => ({ ...n, selected: false })), edges: edges.map((e) => ({ ...e, selected: false })) };
}

function typing(target) {
  const tag = target && target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
}

export function Editor({ config }) {
  const t = useCallback((key) => (config.i18n[key] !== undefined ? config.i18n[key] : key), [config]);
  const editable = !config.readonly;
  const initial = useMemo(() => fromGraph(config.graph, editable), [config, editable]);
  const [nodes, setNodes, onNodesChange] = useNodesState(initial.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState(initial.edges);
  const flow = useReactFlow();
  const types = useMemo(() => Object.fromEntries(config.types.map((d) => [d.type, d])), [config]);
  const [past, setPast] = useState([]);
  const [future, setFuture] = useState([]);
  const [palette, setPalette] = useState(null);       // null | {mode: "add"} | {mode: "insert", edgeId}
  const [query, setQuery] = useState("");
  const [problems, setProblems] = useState(config.checklist);
  const [statuses, setStatuses] = useState({});
  const [runs, setRuns] = useState({});
  const [run, setRun] = useState({ running: false, stoppable: false, stopping: false });
  const [save, setSave] = useState({ state: "saved", at: config.updated_at, error: "" });
  const [conflict, setConflict] = useState(false);
  const [showChecklist, setShowChecklist] = useState(false);
  const [showKeys, setShowKeys] = useState(false);
  const [extras, setExtras] = useState(() => ({ environment_variables: config.environment_variables || [],
    conversation_variables: config.conversation_variables || [], features: config.features || {} }));
  const [showSettings, setShowSettings] = useState(false);
  const [showPreview, setShowPreview] = useState(false);
  const base = useRef(config.updated_at);
  const fullKey = (n, e, x) => semanticKey(n, e) + JSON.stringify(x);
  const savedKey = useRef(fullKey(initial.nodes, initial.edges, extras));
  const extrasRef = useRef(extras);
  extrasRef.current = extras;
  const state = useRef({ nodes, edges });
  state.current = { nodes, edges };
  const wrapper = useRef(null);

  /* History: a snapshot before every change the user makes; undo and redo swap them. */
  const record = useCallback(() => {
    const { nodes: n, edges: e } = state.current;
    setPast((p) => p.concat([snapshot(n, e)]).slice(-HISTORY));
    setFuture([]);
  }, []);
  const undo = useCallback(() => {
    setPast((p) => {
      if (!p.length) return p;
      const last = p[p.length - 1];
      setFuture((f) => f.concat([snapshot(state.current.nodes, state.current.edges)]));
      setNodes(last.nodes); setEdges(last.edges);
      return p.slice(0, -1);
    });
  }, [setNodes, setEdges]);
  const redo = useCallback(() => {
    setFuture((f) => {
      if (!f.length) return f;
      const next = f[f.length - 1];
      setPast((p) => p.concat([snapshot(state.current.nodes, state.current.edges)]).slice(-HISTORY));
      setNodes(next.nodes); setEdges(next.edges);
      return f.slice(0, -1);
    });
  }, [setNodes, setEdges]);

  /* Node data edits (inspector, notes). Edges from handles that no longer exist go with them. */
  const lastEdit = useRef({ key: "", at: 0 });
  const updateData = useCallback((id, patch, field) => {
    const key = `${id}:${field || Object.keys(patch).join(",")}`;
    const now = Date.now();
    // Typing into one field is one undo step, not one per keystroke.
    if (lastEdit.current.key !== key || now - lastEdit.current.at > 1500) record();
    lastEdit.current = { key, at: now };
    let handles = null;
    setNodes((ns) => ns.map((n) => {
      if (n.id !== id) return n;
      const data = { ...n.data, ...patch };
      handles = sourceHandles(data);
      return { ...n, data };
    }));
    setEdges((es) => es.filter((e) => e.source !== id || !handles || handles.includes(e.sourceHandle || "source")));
  }, [record, setNodes, setEdges]);

  /* Adding nodes: at a point, inside a selected container, or after the selected node. */
  const makeNode = useCallback((type, position, parent) => {
    const def = types[type];
    const id = newId();
    const data = JSON.parse(JSON.stringify(def.data));
    const created = [];
    const node = { id, type: CONTAINERS.has(type) ? "container" : "step", position, data, keep: {} };
    if (parent) { node.parentId = parent.id; node.extent = "parent"; }
    if (CONTAINERS.has(type)) {
      node.style = { width: data.width || 480, height: data.height || 220 };
      data.start_node_id = `${id}start`;
      created.push(node, { id: `${id}start`, type: "mark", parentId: id, extent: "parent", position: { x: 24, y: 72 },
        draggable: false, selectable: false, deletable: false, keep: {},
        data: { type: type === "loop" ? "loop-start" : "iteration-start", title: "", desc: "" } });
    } else {
      created.push(node);
    }
    return created;
  }, [types]);

  const addNode = useCallback((type, at) => {
    const { nodes: ns, edges: es } = state.current;
    const selected = ns.filter((n) => n.selected);
    const one = selected.length === 1 ? selected[0] : null;
    let parent = null, position, link = null;
    const bounds = wrapper.current.getBoundingClientRect();
    if (at) {
      position = flow.screenToFlowPosition(at);
      parent = ns.find((n) => n.type === "container" && !CONTAINERS.has(type) && inside(n, position, ns));
      if (parent) position = { x: position.x - parent.position.x, y: position.y - parent.position.y };
    } else if (one && one.type === "container" && !CONTAINERS.has(type)) {
      parent = one;
      const kids = ns.filter((n) => n.parentId === one.id);
      position = { x: 24 + 280 * Math.max(0, kids.length - 1) + 80, y: 72 };
    } else if (one && one.type !== "note") {
      parent = one.parentId ? ns.find((n) => n.id === one.parentId) : null;
      const size = sizeOf(one);
      position = { x: one.position.x + size.width + 80, y: one.position.y };
      const handles = sourceHandles(one.data);
      const free = handles.find((h) => !es.some((e) => e.source === one.id && (e.sourceHandle || "source") === h));
      if (free) link = { source: one.id, sourceHandle: free };
    } else {
      position = flow.screenToFlowPosition({ x: bounds.left + bounds.width / 2 - 120, y: bounds.top + bounds.height / 2 - 30 });
    }
    if ((type === "loop-end") && !(parent && parent.data.type === "loop")) return;
    record();
    const created = makeNode(type, position, parent);
    const first = created[0];
    setNodes((cur) => orderParentsFirst(cur.map((n) => ({ ...n, selected: false })).concat(
      created.map((n, i) => ({ ...n, selected: i === 0 })))));
    if (link) {
      setEdges((cur) => cur.concat([{ id: `${link.source}-${link.sourceHandle}-${first.id}-target`, ...link,
        target: first.id, targetHandle: "target", type: "wf", data: {} }]));
    }
  }, [flow, makeNode, record, setNodes, setEdges]);

  const insertOnEdge = useCallback((edgeId, type) => {
    const { nodes: ns, edges: es } = state.current;
    const edge = es.find((e) => e.id === edgeId);
    if (!edge) return;
    const s = ns.find((n) => n.id === edge.source), tgt = ns.find((n) => n.id === edge.target);
    if (!s || !tgt || CONTAINERS.has(type) && s.parentId) return;
    record();
    const parent = s.parentId ? ns.find((n) => n.id === s.parentId) : null;
    const size = sizeOf(s);
    const position = { x: (s.position.x + size.width + tgt.position.x) / 2 - 120, y: (s.position.y + tgt.position.y) / 2 + 40 };
    const created = makeNode(type, position, parent);
    const mid = created[0];
    // Push the target and everything after it to the right, so the new node has room.
    const after = downstream(edge.target, es);
    const shifted = ns.map((n) => (after.has(n.id) && n.parentId === s.parentId
      ? { ...n, position: { ...n.position, x: n.position.x + 280 } } : { ...n, selected: false }));
    setNodes(orderParentsFirst(shifted.concat(created.map((n, i) => ({ ...n, selected: i === 0 })))));
    setEdges(es.filter((e) => e.id !== edgeId).concat([
      { id: `${edge.source}-${edge.sourceHandle || "source"}-${mid.id}-target`, source: edge.source,
        sourceHandle: edge.sourceHandle || "source", target: mid.id, targetHandle: "target", type: "wf", data: {} },
      ...(sourceHandles(mid.data).length ? [{ id: `${mid.id}-${sourceHandles(mid.data)[0]}-${edge.target}-target`, source: mid.id,
        sourceHandle: sourceHandles(mid.data)[0], target: edge.target, targetHandle: "target", type: "wf", data: {} }] : []),
    ]));
  }, [makeNode, record, setNodes, setEdges]);

  const choose = useCallback((type) => {
    if (palette && palette.mode === "insert") insertOnEdge(palette.edgeId, type); else addNode(type);
    setPalette(null); setQuery("");
  }, [palette, insertOnEdge, addNode]);

  const addNote = useCallback(() => {
    const bounds = wrapper.current.getBoundingClientRect();
    const position = flow.screenToFlowPosition({ x: bounds.left + 80, y: bounds.top + 80 });
    record();
    setNodes((cur) => cur.map((n) => ({ ...n, selected: false })).concat([{ id: newId(), type: "note", position, selected: true,
      style: { width: 240, height: 120 }, keep: {},
      data: { type: "", title: "", desc: "", text: "", theme: "yellow", author: config.user, showAuthor: true } }]));
  }, [flow, record, setNodes, config]);

  /* Clipboard: the system clipboard when the browser allows it (so a paste works in another app's
     editor too), with localStorage as the fallback for the same browser. */
  const copy = useCallback(async () => {
    const text = copyPayload(state.current.nodes, state.current.edges);
    if (!text) return false;
    try { localStorage.setItem(CLIPBOARD_KEY, text); } catch (err) { /* private mode: clipboard only */ }
    try { await navigator.clipboard.writeText(text); } catch (err) { /* no permission: localStorage only */ }
    return true;
  }, []);
  const paste = useCallback(async () => {
    let text = "";
    try { text = await navigator.clipboard.readText(); } catch (err) { text = ""; }
    let pasted = text && pastePayload(text, state.current.nodes, 40);
    if (!pasted) {
      try { text = localStorage.getItem(CLIPBOARD_KEY) || ""; } catch (err) { text = ""; }
      pasted = text && pastePayload(text, state.current.nodes, 40);
    }
    if (!pasted || !pasted.nodes.length) return;
    record();
    setNodes((cur) => orderParentsFirst(cur.map((n) => ({ ...n, selected: false })).concat(pasted.nodes)));
    setEdges((cur) => cur.concat(pasted.edges));
  }, [record, setNodes, setEdges]);

  const removeSelected = useCallback(() => {
    const { nodes: ns, edges: es } = state.current;
    const gone = new Set(ns.filter((n) => n.selected && n.deletable !== false).map((n) => n.id));
    ns.forEach((n) => { if (n.parentId && gone.has(n.parentId)) gone.add(n.id); });
    const edgesGone = new Set(es.filter((e) => e.selected).map((e) => e.id));
    if (!gone.size && !edgesGone.size) return;
    record();
    setNodes(ns.filter((n) => !gone.has(n.id)));
    setEdges(es.filter((e) => !edgesGone.has(e.id) && !gone.has(e.source) && !gone.has(e.target)));
  }, [record, setNodes, setEdges]);

  const tidyUp = useCallback(() => {
    record();
    setNodes(tidy(state.current.nodes, state.current.edges));
    window.requestAnimationFrame(() => flow.fitView({ padding: 0.15, duration: 200 }));
  }, [flow, record, setNodes]);

  /* Keyboard shortcuts (React Flow itself handles arrows, Shift+drag box selection and Tab focus). */
  useEffect(() => {
    function onKey(e) {
      if (typing(e.target) || !wrapper.current) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "z" && !e.shiftKey) { if (editable) { e.preventDefault(); undo(); } }
      else if (mod && (key === "y" || (key === "z" && e.shiftKey))) { if (editable) { e.preventDefault(); redo(); } }
      else if (mod && key === "c") { copy(); }
      else if (mod && key === "v") { if (editable) { e.preventDefault(); paste(); } }
      else if (mod && key === "d") { if (editable) { e.preventDefault(); copy().then((ok) => ok && paste()); } }
      else if (mod && key === "a") { e.preventDefault(); setNodes((ns) => ns.map((n) => ({ ...n, selected: n.type !== "mark" }))); }
      else if (mod && e.shiftKey && key === "l") { if (editable) { e.preventDefault(); tidyUp(); } }
      else if (!mod && e.shiftKey && e.key === "!") { e.preventDefault(); flow.fitView({ padding: 0.15, duration: 200 }); }
      else if (!mod && e.shiftKey && key === "a") { if (editable) { e.preventDefault(); setPalette({ mode: "add" }); } }
      else if (!mod && e.shiftKey && key === "n") { if (editable) { e.preventDefault(); addNote(); } }
      else if ((key === "delete" || key === "backspace") && editable) { e.preventDefault(); removeSelected(); }
      else if (key === "escape") { setPalette(null); setShowKeys(false); setShowChecklist(false); }
      else if (e.key === "?") { setShowKeys((v) => !v); }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [editable, undo, redo, copy, paste, tidyUp, addNote, removeSelected, flow, setNodes]);

  /* Autosave: a debounced POST of the whole draft, based on the draft we last loaded or saved. */
  const conflictRef = useRef(false);
  const saving = useRef(false);
  const pending = useRef(false);
  const doSave = useCallback(async () => {
    if (!editable || conflictRef.current) return;
    if (saving.current) { pending.current = true; return; }
    const { nodes: ns, edges: es } = state.current;
    const more = extrasRef.current;
    const key = fullKey(ns, es, more);
    if (key === savedKey.current) { setSave((s) => ({ ...s, state: "saved" })); return; }
    saving.current = true;
    setSave((s) => ({ ...s, state: "saving" }));
    try {
      const response = await fetch(config.urls.draft, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
        body: JSON.stringify({ graph: toGraph(ns, es, flow.getViewport()), base_updated_at: base.current,
                               environment_variables: more.environment_variables,
                               features: more.features,
                               ...(config.mode === "advanced-chat" ? { conversation_variables: more.conversation_variables } : {}) }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 409) {
        conflictRef.current = true;
        setConflict(true);
        setSave({ state: "conflict", at: base.current, error: body.message || t("conflict") });
      } else if (!response.ok) {
        setSave({ state: "error", at: base.current, error: (body.errors || [body.message || t("save_failed")]).join(" ") });
      } else {
        base.current = body.updated_at;
        savedKey.current = key;
        setProblems(body.checklist_items || []);
        setSave({ state: "saved", at: body.updated_at, error: "" });
        window.dispatchEvent(new CustomEvent("workflow:saved", { detail: { graph: body.graph } }));
      }
    } catch (err) {
      setSave({ state: "error", at: base.current, error: t("save_failed") });
    } finally {
      saving.current = false;
      if (pending.current) { pending.current = false; doSave(); }
    }
  }, [config, editable, flow, t]);
  const dirty = fullKey(nodes, edges, extras) !== savedKey.current;
  useEffect(() => {
    if (!dirty || !editable || conflict) return undefined;
    setSave((s) => (s.state === "saving" ? s : { ...s, state: "unsaved" }));
    const timer = window.setTimeout(doSave, SAVE_DELAY);
    return () => window.clearTimeout(timer);
  }, [nodes, edges, extras, dirty, editable, conflict, doSave]);
  useEffect(() => {
    function beforeUnload(e) {
      if (fullKey(state.current.nodes, state.current.edges, extrasRef.current) !== savedKey.current && !conflictRef.current) e.preventDefault();
    }
    window.addEventListener("beforeunload", beforeUnload);
    return () => window.removeEventListener("beforeunload", beforeUnload);
  }, []);

  /* Node statuses from the run panel (static/js/workflow.js relays the run's SSE events). */
  useEffect(() => {
    function onStatus(e) {
      const { nodeId, status, run } = e.detail;
      setStatuses((s) => (nodeId === "*" ? {} : { ...s, [nodeId]: status }));
      if (nodeId === "*") setRuns({}); else if (run) setRuns((r) => ({ ...r, [nodeId]: run }));
    }
    function onRunState(e) { setRun({ ...e.detail, stopping: false }); }
    window.addEventListener("workflow:node-status", onStatus);
    window.addEventListener("workflow:run-state", onRunState);
    return () => {
      window.removeEventListener("workflow:node-status", onStatus);
      window.removeEventListener("workflow:run-state", onRunState);
    };
  }, []);
  /* Single-node step test (inspector): save first, since the server runs the node of the saved draft. */
  const stepUrl = (id) => config.urls.step.replace("__node__", encodeURIComponent(id));
  const stepVariables = useCallback(async (id) => {
    if (fullKey(state.current.nodes, state.current.edges, extrasRef.current) !== savedKey.current) await doSave();
    const response = await fetch(stepUrl(id), { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(t("step_failed"));
    return (await response.json()).variables;
  }, [config, doSave, t]);
  const runStep = useCallback(async (id, values) => {
    if (fullKey(state.current.nodes, state.current.edges, extrasRef.current) !== savedKey.current) await doSave();
    setStatuses((s) => ({ ...s, [id]: "running" }));
    const response = await fetch(stepUrl(id), { method: "POST", body: JSON.stringify({ values }),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    const node = response.ok && body.node ? body.node : { status: "failed", error: body.message || t("step_failed") };
    setStatuses((s) => ({ ...s, [id]: node.status }));
    setRuns((r) => ({ ...r, [id]: node }));
  }, [config, doSave, t]);
  /* The preview chat's run events colour the canvas as the test run panel's do. */
  const previewEvent = useCallback((event) => {
    if (event.event === "reset") { setStatuses({}); setRuns({}); }
    else if (event.event === "node_started") setStatuses((s) => ({ ...s, [event.data.node_id]: "running" }));
    else if (event.event === "node_finished") {
      setStatuses((s) => ({ ...s, [event.data.node_id]: event.data.status }));
      setRuns((r) => ({ ...r, [event.data.node_id]: event.data }));
    }
  }, []);
  const saveFirst = useCallback(async () => {
    if (fullKey(state.current.nodes, state.current.edges, extrasRef.current) !== savedKey.current) await doSave();
  }, [doSave]);
  const stopRun = useCallback(() => {
    setRun((r) => ({ ...r, stopping: true }));
    window.dispatchEvent(new CustomEvent("workflow:stop"));
  }, []);

  const publish = useCallback(async () => {
    if (dirty) await doSave();
    if (problemsRef.current.length) { setShowChecklist(true); return; }
    document.getElementById(config.publish_form).requestSubmit();
  }, [config, dirty, doSave]);
  const problemsRef = useRef(problems);
  problemsRef.current = problems;

  const byNode = useMemo(() => {
    const map = {};
    problems.forEach((p) => { if (p.node_id) (map[p.node_id] = map[p.node_id] || []).push(p.message); });
    return map;
  }, [problems]);

  const focusNode = useCallback((id) => {
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
    const node = state.current.nodes.find((n) => n.id === id);
    if (node) flow.fitView({ nodes: [{ id }], duration: 250, maxZoom: 1.2 });
    setShowChecklist(false);
  }, [flow, setNodes]);

  const ctx = useMemo(() => ({
    t, types, editable, statuses, problems: byNode, updateData,
    step: editable && config.urls.step ? { variables: stepVariables, run: runStep } : null,
    models: config.models, datasets: config.datasets, operators: config.operators, unary: config.unary_operators,
    globals: config.variables.filter((v) => v.node === "sys").concat(
      extras.environment_variables.filter((v) => v.name).map((v) => ({ node: "env", name: v.name, type: v.value_type })),
      extras.conversation_variables.filter((v) => v.name).map((v) => ({ node: "conversation", name: v.name, type: v.value_type }))),
    openInsert: (edgeId) => setPalette({ mode: "insert", edgeId }),
    edgeStatus: (s, target) => (statuses[s] === "succeeded" && statuses[target] ? "succeeded" : ""),
  }), [t, types, editable, statuses, byNode, updateData, config, extras, stepVariables, runStep]);

  const isValidConnection = useCallback((c) => {
    const { nodes: ns, edges: es } = state.current;
    const s = ns.find((n) => n.id === c.source), tgt = ns.find((n) => n.id === c.target);
    if (!s || !tgt || s.id === tgt.id || tgt.type === "mark" || tgt.type === "note" || tgt.data.type === "start") return false;
    if ((s.parentId || "") !== (tgt.parentId || "") && !(s.type === "mark" && s.parentId === tgt.parentId)) return false;
    return !es.some((e) => e.source === c.source && e.target === c.target && (e.sourceHandle || "source") === (c.sourceHandle || "source"));
  }, []);
  const onConnect = useCallback((c) => {
    record();
    const handle = c.sourceHandle || "source";
    setEdges((es) => es.concat([{ id: `${c.source}-${handle}-${c.target}-target`, source: c.source, sourceHandle: handle,
      target: c.target, targetHandle: "target", type: "wf", data: {} }]));
  }, [record, setEdges]);

  const onDrop = useCallback((e) => {
    const type = e.dataTransfer.getData("application/x-tessera-node");
    if (!type || !editable) return;
    e.preventDefault();
    setNodes((ns) => ns.map((n) => ({ ...n, selected: false })));
    state.current.nodes = state.current.nodes.map((n) => ({ ...n, selected: false }));
    addNode(type, { x: e.clientX - 120, y: e.clientY - 30 });
    setPalette(null);
  }, [addNode, editable, setNodes]);

  const selected = nodes.filter((n) => n.selected && n.type !== "mark");
  const paletteGroups = useMemo(() => {
    const q = query.trim().toLowerCase();
    return config.groups.map((g) => ({ ...g, items: config.types.filter((d) => d.palette && d.group === g.id && (!q
      || d.label.toLowerCase().includes(q) || d.description.toLowerCase().includes(q) || d.type.includes(q))
      && !(palette && palette.mode === "insert" && CONTAINERS.has(d.type))) })).filter((g) => g.items.length);
  }, [config, query, palette]);

  const saveLabel = { saved: t("saved"), saving: t("saving"), unsaved: t("unsaved"), error: t("save_failed"), conflict: t("conflict_short") }[save.state];

  return (
    <EditorContext.Provider value={ctx}>
      <div className={`wfe${editable ? "" : " wfe--readonly"}`} data-testid="workflow-editor" data-save-state={save.state} data-dirty={dirty ? "true" : "false"}
           data-can-undo={past.length > 0 ? "true" : "false"} data-can-redo={future.length > 0 ? "true" : "false"}>
        <div className="wfe-toolbar" role="toolbar" aria-label={t("toolbar")}>
          {editable && <>
            <button type="button" className="wfe-btn wfe-btn--accent" data-testid="add-node" aria-expanded={!!palette}
                    onClick={() => setPalette(palette ? null : { mode: "add" })} title={`${t("add_node")} (Shift+A)`}>＋ {t("add_node")}</button>
            <button type="button" className="wfe-btn" data-testid="add-note" onClick={addNote} title={`${t("add_note")} (Shift+N)`}>✎ {t("add_note")}</button>
            <span className="wfe-sep" />
            <button type="button" className="wfe-btn wfe-btn--icon" data-testid="undo" onClick={undo} disabled={!past.length} title={`${t("undo")} (Ctrl+Z)`} aria-label={t("undo")}>↶</button>
            <button type="button" className="wfe-btn wfe-btn--icon" data-testid="redo" onClick={redo} disabled={!future.length} title={`${t("redo")} (Ctrl+Shift+Z)`} aria-label={t("redo")}>↷</button>
            <button type="button" className="wfe-btn" data-testid="tidy" onClick={tidyUp} title={`${t("tidy")} (Ctrl+Shift+L)`}>⊞ {t("tidy")}</button>
          </>}
          <button type="button" className="wfe-btn" data-testid="settings-toggle" aria-expanded={showSettings}
                  onClick={() => { setShowSettings((v) => !v); setPalette(null); }}>⚙ {t(config.mode === "advanced-chat" ? "settings" : "env_short")}</button>
          {editable && config.mode === "advanced-chat" && config.urls.run && (
            <button type="button" className="wfe-btn" data-testid="preview-toggle" aria-expanded={showPreview}
                    onClick={() => setShowPreview((v) => !v)}>💬 {t("preview")}</button>
          )}
          <button type="button" className="wfe-btn" data-testid="fit" onClick={() => flow.fitView({ padding: 0.15, duration: 200 })} title={`${t("fit")} (Shift+1)`}>⤢ {t("fit")}</button>
          <button type="button" className="wfe-btn wfe-btn--icon" onClick={() => setShowKeys((v) => !v)} aria-expanded={showKeys} title={t("shortcuts")} aria-label={t("shortcuts")}>?</button>
          <span className="wfe-spacer" />
          {run.running && (
            <button type="button" className="wfe-btn wfe-btn--danger" data-testid="canvas-stop" onClick={stopRun}
                    disabled={!run.stoppable || run.stopping}>■ {run.stopping ? t("stopping") : t("stop")}</button>
          )}
          {editable && <span className={`wfe-save wfe-save--${save.state}`} data-testid="save-state" role="status" aria-live="polite">{saveLabel}</span>}
          <button type="button" className={`wfe-btn${problems.length ? " wfe-btn--warn" : ""}`} data-testid="checklist-toggle"
                  aria-expanded={showChecklist} onClick={() => setShowChecklist((v) => !v)}>
            {problems.length ? `${t("checklist")} · ${problems.length}` : `✓ ${t("checklist")}`}
          </button>
          {editable && config.publish_form && <button type="button" className="wfe-btn wfe-btn--primary" data-testid="publish" onClick={publish}
                  aria-disabled={problems.length > 0} title={problems.length ? t("publish_blocked") : ""}>{t("publish")}</button>}
        </div>
        {!editable && <div className="wfe-banner wfe-banner--info" data-testid="readonly" role="note">{config.readonly}</div>}
        {conflict && (
          <div className="wfe-banner wfe-banner--danger" data-testid="conflict" role="alert">
            <span>{save.error}</span>
            <button type="button" className="wfe-btn wfe-btn--primary" data-testid="reload" onClick={() => window.location.reload()}>{t("reload")}</button>
          </div>
        )}
        {save.state === "error" && <div className="wfe-banner wfe-banner--danger" role="alert" data-testid="save-error">{save.error}</div>}
        <div className="wfe-body">
          {showSettings && !palette && (
            <Settings extras={extras} setExtras={setExtras} chat={config.mode === "advanced-chat"} t={t} editable={editable}
                      onClose={() => setShowSettings(false)} />
          )}
          {palette && editable && (
            <aside className="wfe-palette" data-testid="palette" aria-label={t("palette")}>
              <div className="wfe-palette__head">
                <strong>{palette.mode === "insert" ? t("insert_on_edge") : t("add_node")}</strong>
                <button type="button" className="wfe-btn wfe-btn--icon" onClick={() => setPalette(null)} aria-label={t("close")}>×</button>
              </div>
              <input type="search" className="wfe-input" placeholder={t("search_nodes")} aria-label={t("search_nodes")} value={query}
                     autoFocus onChange={(e) => setQuery(e.target.value)}
                     onKeyDown={(e) => { if (e.key === "Enter") { const first = paletteGroups[0] && paletteGroups[0].items[0]; if (first) choose(first.type); } }} />
              {paletteGroups.map((g) => (
                <section key={g.id} className="wfe-palette__group">
                  <h3>{g.label}</h3>
                  {g.items.map((d) => (
                    <button key={d.type} type="button" className={`wfe-palette__item wfe-group--${d.group}`} data-testid={`palette-${d.type}`}
                            draggable onDragStart={(e) => { e.dataTransfer.setData("application/x-tessera-node", d.type); e.dataTransfer.effectAllowed = "move"; }}
                            onClick={() => choose(d.type)}>
                      <span className="wfe-node__icon" aria-hidden="true">{glyph(d.type)}</span>
                      <span><span className="wfe-palette__label">{d.label}</span><span className="wfe-palette__desc">{d.description}</span></span>
                    </button>
                  ))}
                </section>
              ))}
            </aside>
          )}
          <div className="wfe-canvas" ref={wrapper} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}>
            <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} edgeTypes={edgeTypes}
                       onNodesChange={onNodesChange} onEdgesChange={onEdgesChange} onConnect={onConnect}
                       isValidConnection={isValidConnection} onNodeDragStart={record} onSelectionDragStart={record}
                       onNodeResizeStart={record}
                       nodesDraggable={editable} nodesConnectable={editable} edgesReconnectable={false}
                       deleteKeyCode={null} selectionKeyCode="Shift" multiSelectionKeyCode={["Meta", "Control"]}
                       selectionMode={SelectionMode.Partial} defaultViewport={config.graph.viewport || undefined}
                       fitView fitViewOptions={{ padding: 0.2, maxZoom: 1 }} minZoom={0.1} maxZoom={2.5}
                       proOptions={{ hideAttribution: true }} ariaLabelConfig={{ "node.a11yDescription.default": t("a11y_nodes") }}>
              <Background gap={20} size={1.2} color="var(--wfe-dot)" />
              <Controls showInteractive={false} position="bottom-left" />
              <MiniMap pannable zoomable position="bottom-right" nodeStrokeWidth={2}
                       nodeColor={(n) => (n.type === "note" ? "#f6e7a8" : n.type === "container" ? "#e3e9f4" : "#fff")}
                       nodeStrokeColor={(n) => (byNode[n.id] ? "#d97706" : "#8a93a6")} ariaLabel={t("minimap")} />
              {showChecklist && (
                <Panel position="top-right" className="wfe-popover" data-testid="checklist">
                  <h3>{t("checklist")}</h3>
                  {problems.length ? (
                    <>
                      <p className="wfe-muted">{t("publish_blocked")}</p>
                      <ul>{problems.map((p, i) => (
                        <li key={i}>{p.node_id ? <button type="button" className="wfe-link" onClick={() => focusNode(p.node_id)}>{p.message}</button> : p.message}</li>
                      ))}</ul>
                    </>
                  ) : <p className="wfe-muted">{t("no_problems")}</p>}
                </Panel>
              )}
              {showKeys && (
                <Panel position="top-left" className="wfe-popover" data-testid="shortcuts">
                  <h3>{t("shortcuts")}</h3>
                  <dl className="wfe-keys">{config.shortcuts.map(([keys, label]) => (
                    <div key={keys}><dt><kbd>{keys}</kbd></dt><dd>{label}</dd></div>))}</dl>
                </Panel>
              )}
            </ReactFlow>
          </div>
          {showPreview && (
            <Preview config={config} declared={extras.conversation_variables} t={t} beforeRun={saveFirst}
                     onEvent={previewEvent} onClose={() => setShowPreview(false)} />
          )}
          {selected.length === 1 && selected[0].type !== "note" && (
            <Inspector key={selected[0].id} node={selected[0]} def={types[selected[0].data.type]} ctx={ctx}
                       problems={byNode[selected[0].id] || []} nodes={nodes} edges={edges} lastRun={runs[selected[0].id]} onClose={() => setNodes((ns) => ns.map((n) => ({ ...n, selected: false })))} />
          )}
        </div>
      </div>
    </EditorContext.Provider>
  );
}

function inside(container, point, nodes) {
  const size = sizeOf(container);
  const abs = container.position;
  return !container.parentId && point.x >= abs.x && point.y >= abs.y && point.x <= abs.x + size.width && point.y <= abs.y + size.height
    && nodes.length > 0;
}

function downstream(start, edges) {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length) {
    const id = queue.shift();
    edges.forEach((e) => { if (e.source === id && !seen.has(e.target)) { seen.add(e.target); queue.push(e.target); } });
  }
  return seen;
}
