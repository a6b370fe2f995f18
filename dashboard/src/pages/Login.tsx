import { useState, type FormEvent } from "react";
import { ApiError, login } from "../api/client";
import { ErrorBox, Field } from "../components/ui";

export function LoginPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email, password);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const apiErr = error instanceof ApiError ? error : null;
  return (
    <div className="flex min-h-screen items-center justify-center p-4">
      <form onSubmit={submit} className="card w-full max-w-sm space-y-4" aria-label="Log in">
        <h1 className="text-xl font-semibold">GatheRing</h1>
        <p className="text-sm text-slate-500">Log in to watch and steer your agents.</p>
        <Field label="Email" name="email" error={apiErr}>
          <input className="input" type="email" name="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </Field>
        <Field label="Password" name="password" error={apiErr}>
          <input className="input" type="password" name="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </Field>
        {error != null && !apiErr?.field && <ErrorBox error={error} />}
        <button className="btn w-full justify-center" disabled={busy} type="submit">
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </div>
  );
}
