import { useMutation } from "@tanstack/react-query";
import { useEffect, useRef, useState, type Dispatch, type FormEvent } from "react";
import { getChat, sendChat, type ToolCallRecord } from "../../api/agents";
import { ApiError } from "../../api/client";
import { ErrorBox, Field } from "../../components/ui";
import type { FeedState } from "../../live/feed";
import { outcomeFromTranscript, type ChatAction, type ChatLine, type ChatState } from "./chat";

interface Props {
  agentId: string;
  chat: ChatState;
  dispatch: Dispatch<ChatAction>;
  feed: FeedState;
  disabled?: boolean;
}

// The conversation with one agent. The state lives in the page (chatReducer), which feeds it
// from /ws/agents/{id}; this panel posts messages and shows the transcript as it grows.
export function ChatPanel({ agentId, chat, dispatch, feed, disabled }: Props) {
  const [message, setMessage] = useState("");
  const send = useMutation({
    mutationFn: (text: string) => sendChat(agentId, text, chat.sessionId),
    onSuccess: (r, text) => {
      dispatch({ type: "sent", sessionId: r.session_id, messageId: r.message_id, content: text });
      setMessage("");
    },
  });
  useTranscriptFallback(chat, dispatch, feed);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    send.mutate(message);
  };
  const apiErr = send.error instanceof ApiError ? send.error : null;
  const streaming = chat.pending ? chat.streams[chat.pending] : undefined;
  const busy = send.isPending || chat.pending !== null;

  return (
    <section className="card flex flex-col" aria-label="Chat">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">Chat</h2>
        {chat.lines.length > 0 && (
          <button
            className="btn-secondary"
            type="button"
            onClick={() => {
              send.reset();
              dispatch({ type: "reset" });
            }}
            disabled={busy}
          >
            New chat
          </button>
        )}
      </div>
      <div className="mb-3 max-h-[60vh] min-h-32 space-y-3 overflow-y-auto" aria-live="polite" data-chat-session={chat.sessionId ?? ""}>
        {chat.lines.length === 0 && !send.isPending && <p className="text-sm text-slate-500">No messages yet. Say something to start a new chat.</p>}
        {chat.lines.map((l) => (
          <Message key={l.id} line={l} />
        ))}
        {chat.pending &&
          (streaming ? (
            <div data-testid="chat-streaming" data-role="assistant" className="max-w-[85%] whitespace-pre-wrap break-words rounded-lg bg-slate-100 px-3 py-2 text-sm">
              {streaming}
              <span className="ml-0.5 inline-block h-3 w-1.5 animate-pulse bg-slate-400 align-middle" aria-hidden />
            </div>
          ) : (
            <div role="status" className="text-sm text-slate-500">
              The agent is thinking…
            </div>
          ))}
      </div>
      <form onSubmit={submit} noValidate className="space-y-2" aria-label="Send a message">
        <Field label="Message" name="message" error={apiErr}>
          <textarea
            className={`input${apiErr?.fieldMessage("message") ? " input-error" : ""}`}
            name="message"
            rows={3}
            value={message}
            onChange={(e) => setMessage(e.target.value)}
            onKeyDown={(e) => {
              // Enter sends, Shift+Enter starts a new line: the usual chat keys.
              if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
                e.preventDefault();
                if (!busy && !disabled) send.mutate(message);
              }
            }}
            disabled={disabled}
          />
        </Field>
        {send.error != null && !apiErr?.fieldMessage("message") && <ErrorBox error={send.error} />}
        <button className="btn" type="submit" disabled={busy || disabled}>
          Send
        </button>
      </form>
    </section>
  );
}

function Message({ line }: { line: ChatLine }) {
  const user = line.role === "user";
  return (
    <div className={`flex flex-col ${user ? "items-end" : "items-start"}`}>
      <div
        data-testid="chat-message"
        data-role={line.role}
        data-status={line.status}
        className={`max-w-[85%] whitespace-pre-wrap break-words rounded-lg px-3 py-2 text-sm ${user ? "bg-indigo-600 text-white" : "bg-slate-100 text-slate-900"}`}
      >
        {line.content}
      </div>
      {line.tools && line.tools.length > 0 && <ToolCalls calls={line.tools} />}
      {line.totals && (
        <div className="mt-0.5 text-xs text-slate-400">
          {line.totals.input_tokens} in · {line.totals.output_tokens} out
          {line.totals.cost_usd > 0 && <> · ${line.totals.cost_usd.toFixed(4)}</>}
          {line.totals.latency_ms > 0 && <> · {(line.totals.latency_ms / 1000).toFixed(1)} s</>}
        </div>
      )}
      {line.status === "failed" && (
        <div role="alert" data-testid="chat-failed" className="mt-1 max-w-[85%] rounded-md border border-rose-200 bg-rose-50 px-3 py-2 text-sm text-rose-800">
          No reply: {line.error}
        </div>
      )}
    </div>
  );
}

function ToolCalls({ calls }: { calls: ToolCallRecord[] }) {
  return (
    <ul className="mt-1 max-w-[85%] space-y-0.5 text-xs text-slate-500">
      {calls.map((c) => (
        <li key={c.tool_call_id || c.name + String(c.step)} data-tool={c.name}>
          <span className="font-mono">{c.name}</span>({short(c.arguments)})
          {c.is_error ? <span className="text-rose-600"> failed: {c.error}</span> : c.output !== undefined && <> → {short(c.output)}</>}
        </li>
      ))}
    </ul>
  );
}

function short(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s && s.length > 120 ? s.slice(0, 117) + "…" : (s ?? "");
}

// useTranscriptFallback reads the session's transcript while a reply is awaited: often when the
// feed is down (the reply event may have passed while nobody listened), rarely when it is live.
function useTranscriptFallback(chat: ChatState, dispatch: Dispatch<ChatAction>, feed: FeedState) {
  const latest = useRef(chat);
  latest.current = chat;
  const { pending, sessionId } = chat;
  useEffect(() => {
    if (!pending || !sessionId) return;
    let stopped = false;
    const every = feed === "live" ? 15_000 : 2_000;
    const timer = setInterval(async () => {
      try {
        const view = await getChat(sessionId);
        const outcome = outcomeFromTranscript(view, pending);
        if (!stopped && outcome && latest.current.pending === pending) {
          dispatch({ type: "outcome", sessionId, messageId: pending, outcome });
        }
      } catch {
        // The read model may not have the session yet; the next tick asks again.
      }
    }, every);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [pending, sessionId, feed, dispatch]);
}
