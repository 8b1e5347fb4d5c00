/* The draft's graph (Dify DSL, dsl.md §2.3–2.4) ⇄ React Flow's nodes and edges, the tidy-up layout,
   and the clipboard format. Everything the DSL carries that the canvas does not use is kept on the
   node (`keep`) and written back unchanged, so a save never loses a field of the user's file. */
import dagre from "@dagrejs/dagre";

export const CONTAINERS = new Set(["iteration", "loop"]);
const START_TYPES = { "custom-iteration-start": "iteration-start", "custom-loop-start": "loop-start" };
const FLOW_FIELDS = new Set(["id", "type", "data", "position", "positionAbsolute", "parentId", "width", "height",
  "selected", "dragging", "measured", "zIndex", "extent", "draggable", "selectable", "sourcePosition",
  "targetPosition", "style", "keep", "expandParent", "hidden", "resizing"]);

let counter = 0;
/** Node ids like Dify's (a millisecond timestamp), unique within this page. */
export function newId() {
  counter += 1;
  return `${Date.now()}${counter}`;
}

function kindOf(raw) {
  if (raw.type === "custom-note") return "note";
  if (START_TYPES[raw.type]) return "mark";
  if (CONTAINERS.has(raw.data && raw.data.type)) return "container";
  return "step";
}

export function sizeOf(node) {
  const m = node.measured || {};
  const w = m.width || node.width || (node.style && node.style.width) || (node.data && node.data.width) || 240;
  const h = m.height || node.height || (node.style && node.style.height) || (node.data && node.data.height) || 64;
  return { width: Number(w), height: Number(h) };
}

/** One DSL node → one React Flow node. */
export function toFlowNode(raw, editable) {
  const kind = kindOf(raw);
  const data = { ...(raw.data || {}) };
  const keep = {};
  Object.keys(raw).forEach((key) => { if (!FLOW_FIELDS.has(key)) keep[key] = raw[key]; });
  const node = { id: String(raw.id), type: kind, position: { x: Number((raw.position || {}).x) || 0,
    y: Number((raw.position || {}).y) || 0 }, data, keep };
  const parent = raw.parentId || (kind !== "container" && (data.iteration_id || data.loop_id));
  if (parent) { node.parentId = String(parent); node.extent = "parent"; }
  if (kind === "container" || kind === "note") {
    node.style = { width: Number(raw.width || data.width || (kind === "note" ? 240 : 480)),
                   height: Number(raw.height || data.height || (kind === "note" ? 120 : 220)) };
  }
  if (kind === "mark") { node.draggable = false; node.selectable = false; node.deletable = false; }
  if (data.type === "start") node.deletable = false;
  if (!editable) node.draggable = false;
  return node;
}

export function toFlowEdge(raw) {
  return { id: String(raw.id || `${raw.source}-${raw.sourceHandle || "source"}-${raw.target}-target`),
           source: String(raw.source), target: String(raw.target), sourceHandle: String(raw.sourceHandle || "source"),
           targetHandle: "target", type: "wf", data: { ...(raw.data || {}) }, keep: raw };
}

/** Parents must come before their children in React Flow's array. */
export function orderParentsFirst(nodes) {
  const ids = new Set(nodes.map((n) => n.id));
  const top = nodes.filter((n) => !n.parentId || !ids.has(n.parentId));
  const rest = nodes.filter((n) => n.parentId && ids.has(n.parentId));
  top.forEach((n) => { if (n.parentId && !ids.has(n.parentId)) { delete n.parentId; delete n.extent; } });
  return top.concat(rest);
}

export function fromGraph(graph, editable) {
  const nodes = orderParentsFirst((graph.nodes || []).filter((n) => n && n.id).map((n) => toFlowNode(n, editable)));
  const known = new Set(nodes.map((n) => n.id));
  const edges = (graph.edges || []).filter((e) => e && known.has(String(e.source)) && known.has(String(e.target)))
    .map(toFlowEdge);
  return { nodes, edges };
}

function absolute(node, byId) {
  let x = node.position.x, y = node.position.y, parent = node.parentId && byId[node.parentId];
  while (parent) { x += parent.position.x; y += parent.position.y; parent = parent.parentId && byId[parent.parentId]; }
  return { x, y };
}

/** React Flow nodes and edges → the DSL graph the draft API stores. */
export function toGraph(nodes, edges, viewport) {
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const outNodes = nodes.map((n) => {
    const size = sizeOf(n);
    const data = { ...n.data };
    let type = "custom";
    if (n.type === "note") type = "custom-note";
    if (n.type === "mark") type = data.type === "loop-start" ? "custom-loop-start" : "custom-iteration-start";
    if (n.type === "container" || n.type === "note") { data.width = size.width; data.height = size.height; }
    const parent = n.parentId && byId[n.parentId];
    if (parent && n.type !== "note") {
      const inLoop = parent.data.type === "loop";
      if (inLoop) { data.isInLoop = true; data.loop_id = parent.id; } else { data.isInIteration = true; data.iteration_id = parent.id; }
    }
    const out = { ...(n.keep || {}), id: n.id, type, data, position: { x: round(n.position.x), y: round(n.position.y) },
      positionAbsolute: roundPoint(absolute(n, byId)), width: round(size.width), height: round(size.height),
      sourcePosition: "right", targetPosition: "left" };
    if (n.parentId) { out.parentId = n.parentId; out.zIndex = 1002; }
    if (n.type === "mark") { out.draggable = false; out.selectable = false; }
    return out;
  });
  const outEdges = edges.map((e) => {
    const s = byId[e.source], t = byId[e.target];
    const parent = s && s.parentId && byId[s.parentId];
    const data = { ...(e.data || {}), sourceType: s ? s.data.type : "", targetType: t ? t.data.type : "",
                   isInIteration: !!(parent && parent.data.type === "iteration"), isInLoop: !!(parent && parent.data.type === "loop") };
    if (parent) data[parent.data.type === "loop" ? "loop_id" : "iteration_id"] = parent.id;
    return { ...(e.keep || {}), id: e.id, type: "custom", source: e.source, sourceHandle: e.sourceHandle || "source",
             target: e.target, targetHandle: "target", data, zIndex: parent ? 1002 : 0 };
  });
  return { nodes: outNodes, edges: outEdges, viewport: viewport || { x: 0, y: 0, zoom: 1 } };
}

function round(v) { return Math.round(Number(v) * 10) / 10; }
function roundPoint(p) { return { x: round(p.x), y: round(p.y) }; }

/** What a save would change: node data, places and links (not sizes measured by the browser). */
export function semanticKey(nodes, edges) {
  return JSON.stringify([
    nodes.map((n) => [n.id, n.type, n.parentId || "", round(n.position.x), round(n.position.y), n.data,
                      n.style ? [n.style.width, n.style.height] : null]),
    edges.map((e) => [e.source, e.sourceHandle || "source", e.target]),
  ]);
}

/** The source handles a node offers: one per IF/ELSE case plus ELSE, one per class, a fail branch. */
export function sourceHandles(data) {
  if (!data) return ["source"];
  let handles;
  if (data.type === "if-else") {
    handles = Array.isArray(data.cases) ? data.cases.map((c) => String(c.case_id)).concat(["false"]) : ["true", "false"];
  } else if (data.type === "question-classifier") {
    handles = (data.classes || []).map((c) => String(c.id));
  } else if (data.type === "end" || data.type === "loop-end") {
    handles = [];
  } else {
    handles = ["source"];
  }
  if (data.error_strategy === "fail-branch") handles = handles.concat(["fail-branch"]);
  return handles;
}

/** Tidy up: dagre lays out each scope (the top level, then each container's children) left to right. */
export function tidy(nodes, edges) {
  const scopes = {};
  nodes.forEach((n) => {
    if (n.type === "note" && !n.parentId) return;
    const scope = n.parentId || "";
    (scopes[scope] = scopes[scope] || []).push(n);
  });
  const placed = {};
  const sizes = {};
  const containers = Object.keys(scopes).filter((s) => s);
  // Children first, so each container's size is known before its own scope is laid out.
  containers.concat([""]).forEach((scope) => {
    const members = scopes[scope];
    if (!members) return;
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 36, ranksep: 72, marginx: scope ? 28 : 0, marginy: scope ? 64 : 0 });
    g.setDefaultEdgeLabel(() => ({}));
    const ids = new Set(members.map((n) => n.id));
    members.forEach((n) => { const s = sizes[n.id] || sizeOf(n); g.setNode(n.id, { width: s.width, height: s.height }); });
    edges.forEach((e) => { if (ids.has(e.source) && ids.has(e.target)) g.setEdge(e.source, e.target); });
    dagre.layout(g);
    let maxX = 0, maxY = 0, minX = Infinity, minY = Infinity;
    members.forEach((n) => {
      const p = g.node(n.id);
      const s = sizes[n.id] || sizeOf(n);
      placed[n.id] = { x: p.x - s.width / 2, y: p.y - s.height / 2 };
      minX = Math.min(minX, placed[n.id].x); minY = Math.min(minY, placed[n.id].y);
      maxX = Math.max(maxX, placed[n.id].x + s.width); maxY = Math.max(maxY, placed[n.id].y + s.height);
    });
    if (scope) {
      // Inside a container, keep a margin for its header whatever dagre did.
      members.forEach((n) => { placed[n.id].x += 28 - minX; placed[n.id].y += 64 - minY; });
      sizes[scope] = { width: Math.max(360, maxX - minX + 56), height: Math.max(180, maxY - minY + 96) };
    }
  });
  const origin = nodes.find((n) => !n.parentId && placed[n.id]);
  const shift = origin ? { x: origin.position.x - placed[origin.id].x, y: origin.position.y - placed[origin.id].y } : { x: 0, y: 0 };
  return nodes.map((n) => {
    const p = placed[n.id];
    if (!p) return n;
    const moved = { ...n, position: n.parentId ? p : { x: p.x + shift.x, y: p.y + shift.y } };
    if (sizes[n.id]) moved.style = { ...(n.style || {}), width: sizes[n.id].width, height: sizes[n.id].height };
    return moved;
  });
}

export const CLIPBOARD_KEY = "tessera-workflow-clipboard";

/** The selection as clipboard text: DSL nodes (containers with their children) and the edges between them. */
export function copyPayload(nodes, edges) {
  const chosen = new Set(nodes.filter((n) => n.selected && n.data.type !== "start").map((n) => n.id));
  nodes.forEach((n) => { if (n.parentId && chosen.has(n.parentId)) chosen.add(n.id); });
  if (!chosen.size) return null;
  const graph = toGraph(nodes.filter((n) => chosen.has(n.id)),
    edges.filter((e) => chosen.has(e.source) && chosen.has(e.target)));
  return JSON.stringify({ [CLIPBOARD_KEY]: 1, nodes: graph.nodes, edges: graph.edges });
}

/** Parse clipboard text; give every node a new id, so a paste never collides (also from another app). */
export function pastePayload(text, existing, offset) {
  let parsed;
  try { parsed = JSON.parse(text); } catch (err) { return null; }
  if (!parsed || parsed[CLIPBOARD_KEY] !== 1 || !Array.isArray(parsed.nodes)) return null;
  const ids = {};
  const hasStart = existing.some((n) => n.data.type === "start");
  const rawNodes = parsed.nodes.filter((n) => !(hasStart && n.data && n.data.type === "start"));
  rawNodes.forEach((n) => { ids[n.id] = newId(); });
  rawNodes.forEach((n) => { if (START_TYPES[n.type] && ids[n.parentId]) ids[n.id] = ids[n.parentId] + "start"; });
  const remap = (v) => (ids[v] || v);
  const nodes = rawNodes.map((raw) => {
    const data = { ...raw.data };
    if (data.start_node_id) data.start_node_id = remap(data.start_node_id);
    if (data.iteration_id) data.iteration_id = remap(data.iteration_id);
    if (data.loop_id) data.loop_id = remap(data.loop_id);
    const copy = { ...raw, id: ids[raw.id], data, parentId: raw.parentId ? remap(raw.parentId) : undefined };
    if (!copy.parentId) { delete copy.parentId; copy.position = { x: raw.position.x + offset, y: raw.position.y + offset }; }
    const node = toFlowNode(copy, true);
    if (node.type !== "mark") node.selected = true;
    return node;
  });
  const edges = (parsed.edges || []).filter((e) => ids[e.source] && ids[e.target]).map((e) => {
    const edge = toFlowEdge({ ...e, source: ids[e.source], target: ids[e.target] });
    edge.id = `${edge.source}-${edge.sourceHandle}-${edge.target}-target`;
    delete edge.keep;
    return edge;
  });
  return { nodes: orderParentsFirst(nodes), edges };
}

/* Notes keep Dify's format: `text` is a Lexical editor state (JSON). We show and edit its plain text
   and write it back as paragraphs of that format, so a note survives export to Dify and back. */
export function noteText(text) {
  if (!text) return "";
  try {
    const state = JSON.parse(text);
    if (!state || !state.root) return String(text);
    const walk = (n) => (n.type === "text" ? n.text || "" : (n.children || []).map(walk).join(""));
    return (state.root.children || []).map(walk).join("\n");
  } catch (err) {
    return String(text);
  }
}

export function noteState(plain) {
  const paragraph = (line) => ({ children: line ? [{ detail: 0, format: 0, mode: "normal", style: "", text: line,
    type: "text", version: 1 }] : [], direction: "ltr", format: "", indent: 0, type: "paragraph", version: 1 });
  return JSON.stringify({ root: { children: plain.split("\n").map(paragraph), direction: "ltr", format: "", indent: 0,
    type: "root", version: 1 } });
}
