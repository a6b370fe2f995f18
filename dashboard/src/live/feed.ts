import { useEffect, useRef, useState } from "react";
import { refreshSession } from "../api/client";
import { useSession } from "../auth/session";

// A live feed over the server's WebSocket endpoints (/ws/agents/{id}, /ws/circles/{name},
// /ws/pipelines/{id}, /ws/schedules/{id}, /ws?topics=...). Browsers cannot set headers on an
// upgrade, so the token travels as a subprotocol. When the socket drops, it reconnects with
// after=<the last position seen>: the server replays what was missed, so nothing is lost and
// nothing is shown twice.
export interface FeedMessage {
  type: string;
  data: any;
  // position orders the log's events; 0 or absent for streamed tokens.
  position?: number;
  timestamp: string;
  stream?: { id: string; type: string; version: number };
  topics?: string[];
}

export type FeedState = "connecting" | "live" | "reconnecting" | "closed";

export function feedURL(path: string, after: number | null): string {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const sep = path.includes("?") ? "&" : "?";
  return `${proto}://${location.host}${path}${after === null ? "" : `${sep}after=${after}`}`;
}

export function useFeed(path: string | null, onMessage: (m: FeedMessage) => void, opts: { from?: number | null } = {}): FeedState {
  const [state, setState] = useState<FeedState>("connecting");
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const access = useSession((s) => s.access);

  useEffect(() => {
    if (!path || !access) {
      setState("closed");
      return;
    }
    let last: number | null = opts.from ?? null;
    let socket: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      const token = useSession.getState().access;
      if (stopped || !token) return;
      setState(attempt === 0 ? "connecting" : "reconnecting");
      socket = new WebSocket(feedURL(path, last), ["gathering.bearer", token]);
      socket.onmessage = (ev) => {
        const m = JSON.parse(ev.data) as FeedMessage;
        if (m.type === "connected") {
          attempt = 0;
          setState("live");
          return;
        }
        // Streamed tokens are not events of the log: they come with position 0 (or none) and
        // are never replayed, so they skip the de-duplication by position.
        if (m.position) {
          if (last !== null && m.position <= last) return; // already shown before a reconnect
          last = m.position;
        }
        handler.current(m);
      };
      socket.onclose = async () => {
        socket = null;
        if (stopped) return;
        setState("reconnecting");
        attempt++;
        // The token may have expired under a long-lived socket.
        if (attempt > 1) await refreshSession();
        timer = setTimeout(connect, Math.min(500 * 2 ** Math.min(attempt, 4), 8000));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (socket) {
        socket.onclose = null;
        socket.close();
      }
      setState("closed");
    };
    // Reconnect from scratch only when the feed itself changes, not on token refresh.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, access === null]);

  return state;
}
