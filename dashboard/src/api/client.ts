import { useSession, type Tokens } from "../auth/session";

// One way to the API: JSON in and out, the bearer token on every request, one refresh attempt
// on a 401 (shared by concurrent requests, since a refresh token is single-use), and errors as
// ApiError carrying the API's code, message and field errors so forms can show them in place.
export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  status: number;
  code: string;
  field?: string;
  fields: FieldError[];
  requestId?: string;

  constructor(status: number, body: { error?: { code?: string; message?: string; field?: string; fields?: FieldError[]; request_id?: string } } | null) {
    const e = body?.error ?? {};
    super(e.message ?? `request failed (${status})`);
    this.status = status;
    this.code = e.code ?? "unknown";
    this.field = e.field;
    this.fields = e.fields ?? (e.field ? [{ field: e.field, message: e.message ?? "" }] : []);
    this.requestId = e.request_id;
  }

  // fieldMessage is the message for one field (or a nested path under it), if any.
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.field === field || f.field.startsWith(field + ".") || f.field.startsWith(field + "["))?.message;
  }
}

let refreshing: Promise<boolean> | null = null;

export function refreshSession(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      const token = useSession.getState().refresh;
      if (!token) return false;
      try {
        const res = await fetch("/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: token }),
        });
        if (!res.ok) return false;
        useSession.getState().save((await res.json()) as Tokens);
        return true;
      } catch {
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  // form sends a multipart body as it is (uploads).
  form?: FormData;
}

export interface Answer<T> {
  data: T;
  status: number;
  etag: string | null;
  location: string | null;
}

export async function request<T>(path: string, opts: RequestOptions = {}, retried = false): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = useSession.getState().access;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, { method: opts.method ?? "GET", headers, body });
  if (res.status === 401 && !retried && path !== "/auth/login" && (await refreshSession())) {
    return request<T>(path, opts, true);
  }
  if (res.status === 401 && path !== "/auth/login") useSession.getState().clear();
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return { data: data as T, status: res.status, etag: res.headers.get("ETag"), location: res.headers.get("Location") };
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return (await request<T>(path, opts)).data;
}

export async function login(email: string, password: string): Promise<void> {
  const tokens = await api<Tokens>("/auth/login", { method: "POST", body: { email, password } });
  useSession.getState().save(tokens);
}

export async function logout(): Promise<void> {
  try {
    await api("/auth/logout", { method: "POST" });
  } catch {
    // The session ends here whatever the server says.
  }
  useSession.getState().clear();
}

export interface Page<T> {
  items: T[];
  next_cursor?: string;
}
