import { create } from "zustand";
import { persist } from "zustand/middleware";

// The session lives in localStorage so that it survives a reload; the access token is short
// lived (15 minutes) and refreshed with the rotating refresh token when the API says 401.
export interface User {
  id: string;
  email: string;
  role: "admin" | "member";
  display_name?: string;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  user: User;
}

interface SessionState {
  access: string | null;
  refresh: string | null;
  user: User | null;
  save: (t: Tokens) => void;
  clear: () => void;
}

export const useSession = create<SessionState>()(
  persist(
    (set) => ({
      access: null,
      refresh: null,
      user: null,
      save: (t) => set({ access: t.access_token, refresh: t.refresh_token, user: t.user }),
      clear: () => set({ access: null, refresh: null, user: null }),
    }),
    { name: "gathering.session" },
  ),
);

export const isAdmin = (u: User | null) => u?.role === "admin";
