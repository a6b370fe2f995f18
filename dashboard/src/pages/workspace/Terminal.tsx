import { lazy, Suspense, useState } from "react";
import { refreshSession } from "../../api/client";
import { Loading } from "../../components/ui";
import type { Phase } from "./TerminalView";

// xterm is loaded with the first terminal opened, not with the page.
const TerminalView = lazy(() => import("./TerminalView"));

// A shell in the project's workspace over /ws/terminal/<id>: JSON text frames both ways
// ({type: input|resize} up, {type: output|exit|error} down). It opens only when asked, since each
// session is a process on the server, and it is never reopened behind the user's back.

export function TerminalPanel({ projectId, onExit, onCommand }: { projectId: string; onExit?: () => void; onCommand?: () => void }) {
  const [session, setSession] = useState(0);
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const running = phase.kind === "connecting" || phase.kind === "open";

  const open = async () => {
    // A socket refused before it opened is most likely an expired token.
    if (phase.kind === "failed" && !phase.opened) await refreshSession();
    setPhase({ kind: "connecting" });
    setSession((n) => n + 1);
  };
  const close = () => {
    setSession(0);
    setPhase({ kind: "idle" });
  };

  return (
    <section className="card space-y-2 p-3" aria-label="Terminal" data-testid="ws-terminal" data-state={phase.kind}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-sm font-semibold">Terminal</h2>
        <div className="flex items-center gap-2 text-xs">
          {phase.kind === "connecting" && <span className="text-slate-500">connecting…</span>}
          {phase.kind === "open" && <span className="pill bg-emerald-100 text-emerald-800">connected</span>}
          {running ? (
            <button className="btn-secondary px-2 py-1 text-xs" onClick={close}>
              Close terminal
            </button>
          ) : (
            <button className="btn px-2 py-1 text-xs" onClick={open}>
              {session === 0 ? "Open terminal" : "Open a new terminal"}
            </button>
          )}
        </div>
      </div>
      {phase.kind === "exited" && (
        <p className="text-xs text-slate-600" data-testid="ws-terminal-exit">
          The shell exited with code {phase.code}.
        </p>
      )}
      {phase.kind === "failed" && (
        <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-2 text-xs text-rose-800">
          {phase.message}
        </div>
      )}
      {session > 0 ? (
        <Suspense fallback={<Loading what="Loading the terminal" />}>
          <TerminalView
            key={session}
            projectId={projectId}
            onCommand={onCommand}
            onPhase={(p) => {
              setPhase(p);
              if (p.kind === "exited") onExit?.();
            }}
          />
        </Suspense>
      ) : (
        phase.kind === "idle" && <p className="text-xs text-slate-500">A shell in this project's workspace; it runs until you close it or it exits.</p>
      )}
    </section>
  );
}
