import { useCallback, useEffect, useRef, useState } from "react";
import { eventsAfter, feedPathFor, fromFeed, matchesFilters, MAX_LIMIT, type EventFilters, type LogEvent } from "../../api/events";
import { useFeed, type FeedState } from "../../live/feed";

// useLiveEvents follows the log while `follow` is on. An event from the feed is shown at once
// from the message (type, stream, payload), then completed (metadata, hashes) by reading the
// log after the newest complete event, which also fills anything the feed was not there for.
// The caller keys its component by the filters, so a change of filters starts afresh.
export function useLiveEvents(filters: EventFilters, follow: boolean, loaded: LogEvent[] | undefined) {
  const [live, setLive] = useState<LogEvent[]>([]);
  const liveRef = useRef(live);
  liveRef.current = live;
  const loadedRef = useRef(loaded);
  loadedRef.current = loaded;
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const inflight = useRef(false);
  const again = useRef(false);
  const completeRef = useRef<() => void>(() => {});

  // Several events in a burst share one read of the log.
  const schedule = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => completeRef.current(), 250);
  }, []);

  completeRef.current = async () => {
    if (inflight.current) {
      again.current = true;
      return;
    }
    inflight.current = true;
    try {
      const anchor = (liveRef.current.find((e) => !e.partial) ?? loadedRef.current?.[0])?.position ?? 0;
      const fetched = await eventsAfter(filtersRef.current, anchor);
      const shown = new Set((loadedRef.current ?? []).map((e) => e.position));
      const got = new Set(fetched.map((e) => e.position));
      const newestFirst = fetched.filter((e) => !shown.has(e.position)).reverse();
      setLive((prev) => [
        ...prev.filter((e) => e.partial && !got.has(e.position)),
        ...newestFirst,
        ...prev.filter((e) => !e.partial && !got.has(e.position)),
      ]);
      if (fetched.length >= MAX_LIMIT) again.current = true;
    } catch {
      // The rows stay as the feed gave them; the next event or a click on one tries again.
    } finally {
      inflight.current = false;
      if (again.current) {
        again.current = false;
        schedule();
      }
    }
  };

  useEffect(() => () => clearTimeout(timer.current), []);

  // Resume after the newest event already on screen: the server replays what came since.
  const from = live[0]?.position ?? loaded?.[0]?.position ?? null;
  const path = follow && loaded !== undefined ? feedPathFor(filters) : null;
  const state: FeedState = useFeed(
    path,
    (m) => {
      const e = fromFeed(m);
      if (!e || !matchesFilters(e, filtersRef.current)) return;
      if (loadedRef.current?.some((x) => x.position === e.position)) return;
      setLive((prev) => (prev.some((x) => x.position === e.position) ? prev : [e, ...prev]));
      schedule();
    },
    { from },
  );

  return { live, state, complete: schedule };
}
