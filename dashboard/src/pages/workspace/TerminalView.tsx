import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef } from "react";
import { useSession } from "../../auth/session";
import { feedURL } from "../../live/feed";

export type Phase =
  | { kind: "idle" }
  | { kind: "connecting" }
  | { kind: "open" }
  | { kind: "exited"; code: number }
  | { kind: "failed"; message: string; opened: boolean };

// TerminalView is one terminal session: an xterm fitted to its box, wired to one socket.
export default function TerminalView(props: { projectId: string; onPhase: (p: Phase) => void; onCommand?: () => void }) {
  const { projectId } = props;
  const host = useRef<HTMLDivElement>(null);
  const report = useRef(props.onPhase);
  report.current = props.onPhase;
  const command = useRef(props.onCommand);
  command.current = props.onCommand;

  useEffect(() => {
    const token = useSession.getState().access;
    if (!token) {
      report.current({ kind: "failed", message: "Sign in again to open a terminal.", opened: false });
      return;
    }
    const term = new Terminal({ cursorBlink: true, fontSize: 13, convertEol: false, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);

    let opened = false;
    let ended = false;
    const socket = new WebSocket(feedURL(`/ws/terminal/${encodeURIComponent(projectId)}`, null), ["gathering.bearer", token]);
    const send = (msg: object) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
    };
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // not measurable while hidden; the next resize fits it
      }
    };
    socket.onopen = () => {
      opened = true;
      report.current({ kind: "open" });
      refit();
      send({ type: "resize", cols: term.cols, rows: term.rows });
      term.focus();
    };
    socket.onmessage = (ev) => {
      let m: { type: string; data?: string; code?: number; message?: string };
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m.type === "output" && typeof m.data === "string") term.write(m.data);
      else if (m.type === "exit") {
        ended = true;
        term.write(`\r\n[exited with code ${m.code ?? 0}]\r\n`);
        report.current({ kind: "exited", code: m.code ?? 0 });
      } else if (m.type === "error") {
        ended = true;
        report.current({ kind: "failed", message: m.message ?? "the terminal failed", opened });
      }
    };
    socket.onclose = (ev) => {
      if (ended) return;
      ended = true;
      report.current({
        kind: "failed",
        opened,
        message: opened ? "The terminal was disconnected." : `The terminal could not connect${ev.code ? ` (${ev.code})` : ""}.`,
      });
    };
    // A shell changes files without workspace events: a second after each command line the
    // page looks at the files again.
    let settle: ReturnType<typeof setTimeout> | undefined;
    const input = term.onData((data) => {
      send({ type: "input", data });
      if (data.includes("\r")) {
        clearTimeout(settle);
        settle = setTimeout(() => command.current?.(), 1000);
      }
    });
    const resized = term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
    const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(refit);
    observer?.observe(host.current!);
    refit();

    return () => {
      ended = true;
      clearTimeout(settle);
      observer?.disconnect();
      input.dispose();
      resized.dispose();
      socket.onclose = null;
      socket.close();
      term.dispose();
    };
  }, [projectId]);

  return <div ref={host} className="h-72 w-full overflow-hidden rounded bg-black p-1" data-testid="ws-terminal-screen" />;
}
