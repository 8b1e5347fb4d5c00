/* Chatflow preview inside the editor: a chat with the saved draft (the console's debug run, streamed
   as SSE), node statuses on the canvas as the turn runs, and the conversation variables as they
   stand after each turn. */
import { useEffect, useRef, useState } from "react";

const PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

function csrf() {
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.getAttribute("content") : "";
}

function shown(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function Preview({ config, declared, t, beforeRun, onEvent, onClose }) {
  const [turns, setTurns] = useState([]);
  const [query, setQuery] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [variables, setVariables] = useState(null);
  const conversation = useRef("");
  const task = useRef("");

  /* The canvas's Stop button stops a preview turn as it stops a test run. */
  function runState(running, stoppable) {
    window.dispatchEvent(new CustomEvent("workflow:run-state", { detail: { running, stoppable } }));
  }
  useEffect(() => {
    function onStop() {
      if (!task.current) return;
      fetch(config.urls.stop.replace(PLACEHOLDER, task.current), { method: "POST", headers: { "X-CSRFToken": csrf() } });
    }
    window.addEventListener("workflow:stop", onStop);
    return () => window.removeEventListener("workflow:stop", onStop);
  }, [config]);

  async function loadVariables() {
    if (!conversation.current) return;
    const response = await fetch(config.urls.preview_variables.replace(PLACEHOLDER, conversation.current),
                                 { headers: { Accept: "application/json" } });
    if (response.ok) setVariables((await response.json()).data);
  }

  async function send(e) {
    e.preventDefault();
    const text = query.trim();
    if (!text || busy) return;
    setBusy(true); setError(""); setQuery("");
    setTurns((ts) => ts.concat([{ query: text, answer: "" }]));
    task.current = "";
    runState(true, false);
    try {
      await beforeRun();
      onEvent({ event: "reset" });
      const response = await fetch(config.urls.run, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ inputs: {}, query: text, conversation_id: conversation.current }) });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.message || t("run_failed"));
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (block.indexOf("data: ") !== 0) continue;
          const event = JSON.parse(block.slice(6));
          if (event.conversation_id) conversation.current = event.conversation_id;
          if (event.task_id && !task.current) { task.current = event.task_id; runState(true, true); }
          if (event.event === "message") {
            setTurns((ts) => ts.map((turn, i) => (i === ts.length - 1 ? { ...turn, answer: turn.answer + event.answer } : turn)));
          } else if (event.event === "error") {
            setError(event.message || t("run_failed"));
          }
          onEvent(event);
        }
      }
      await loadVariables();
    } catch (err) {
      setError(err.message || t("run_failed"));
    } finally {
      task.current = "";
      runState(false, false);
      setBusy(false);
    }
  }

  function restart() {
    conversation.current = "";
    setTurns([]); setVariables(null); setError("");
    onEvent({ event: "reset" });
  }

  return (
    <aside className="wfe-inspector wfe-preview" data-testid="preview" aria-label={t("preview")}>
      <header className="wfe-inspector__head">
        <div><div className="wfe-inspector__kind">{t("preview")}</div><div className="wfe-muted">{t("preview_hint")}</div></div>
        <button type="button" className="wfe-btn wfe-btn--icon" onClick={onClose} aria-label={t("close")}>×</button>
      </header>
      <ol className="wfe-chat" data-testid="preview-messages" aria-live="polite">
        {turns.map((turn, i) => (
          <li key={i}>
            <p className="wfe-chat__q" data-testid="preview-query"><span className="wfe-sr">{t("you")}: </span>{turn.query}</p>
            {turn.answer && <p className="wfe-chat__a" data-testid="preview-answer"><span className="wfe-sr">{t("bot")}: </span>{turn.answer}</p>}
          </li>
        ))}
      </ol>
      {error && <p className="wfe-error" role="alert">{error}</p>}
      <form className="wfe-chat__form" onSubmit={send}>
        <textarea className="wfe-input" rows={2} data-testid="preview-input" aria-label={t("message")} placeholder={t("message")}
                  value={query} onChange={(e) => setQuery(e.target.value)}
                  onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) send(e); }} />
        <div className="wfe-row">
          <button type="submit" className="wfe-btn wfe-btn--primary" data-testid="preview-send" disabled={busy || !query.trim()}>{t("send")}</button>
          <button type="button" className="wfe-btn" data-testid="preview-restart" onClick={restart} disabled={busy}>{t("new_conversation")}</button>
        </div>
      </form>
      <section className="wfe-section" data-testid="preview-variables">
        <h4>{t("conversation_variables")}</h4>
        {!declared.filter((v) => v.name).length && <p className="wfe-muted">{t("no_conversation_variables")}</p>}
        <dl className="wfe-keys">
          {declared.filter((v) => v.name).map((v) => {
            const now = variables && variables.find((row) => row.name === v.name);
            return (
              <div key={v.name} data-testid="preview-variable" data-name={v.name}>
                <dt><code>{v.name}</code> <span className="wfe-muted">{v.value_type}</span></dt>
                <dd data-testid="preview-variable-value">{now ? shown(now.value) : shown(v.value)}</dd>
              </div>
            );
          })}
        </dl>
      </section>
    </aside>
  );
}
