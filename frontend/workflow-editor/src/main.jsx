/* Entry point: mounts the editor on #workflow-editor with the config the page rendered as JSON. */
import { createRoot } from "react-dom/client";
import { ReactFlowProvider } from "@xyflow/react";
import { Editor } from "./Editor.jsx";

function mount() {
  const root = document.getElementById("workflow-editor");
  const source = document.getElementById("workflow-editor-config");
  if (!root || !source) return;
  const config = JSON.parse(source.textContent);
  createRoot(root).render(<ReactFlowProvider><Editor config={config} /></ReactFlowProvider>);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount); else mount();
