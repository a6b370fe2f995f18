import { useState, type ReactNode } from "react";
import { NavLink } from "react-router-dom";
import { logout } from "../api/client";
import { isAdmin, useSession } from "../auth/session";

const links = [
  { to: "/", label: "Overview" },
  { to: "/agents", label: "Agents" },
  { to: "/circles", label: "Circles" },
  { to: "/memory", label: "Memory" },
  { to: "/pipelines", label: "Pipelines" },
  { to: "/schedules", label: "Schedules" },
  { to: "/calendar", label: "Calendar" },
  // The workspace page starts with a project picker when it has no project.
  { to: "/projects/_/workspace", label: "Workspaces" },
];

export function Layout({ children }: { children: ReactNode }) {
  const user = useSession((s) => s.user);
  const [open, setOpen] = useState(false);
  const all = isAdmin(user) ? [...links, { to: "/events", label: "Event log" }] : links;
  return (
    <div className="min-h-screen md:flex">
      <header className="flex items-center justify-between bg-slate-900 px-4 py-3 text-white md:hidden">
        <span className="font-semibold">GatheRing</span>
        <button aria-label="Menu" className="rounded border border-slate-600 px-2 py-1 text-sm" onClick={() => setOpen(!open)}>
          ☰
        </button>
      </header>
      <nav className={`${open ? "block" : "hidden"} w-full bg-slate-900 text-slate-200 md:block md:min-h-screen md:w-52 md:shrink-0`}>
        <div className="hidden px-4 py-4 text-lg font-semibold text-white md:block">GatheRing</div>
        <ul className="space-y-0.5 px-2 pb-4">
          {all.map((l) => (
            <li key={l.to}>
              <NavLink
                to={l.to}
                end={l.to === "/"}
                onClick={() => setOpen(false)}
                className={({ isActive }) => `block rounded px-3 py-1.5 text-sm ${isActive ? "bg-slate-700 text-white" : "hover:bg-slate-800"}`}
              >
                {l.label}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="border-t border-slate-700 px-4 py-3 text-xs">
          <div className="truncate" data-user={user?.email}>
            {user?.email} <span className="text-slate-400">({user?.role})</span>
          </div>
          <button className="mt-2 text-slate-300 underline hover:text-white" onClick={() => logout()}>
            Log out
          </button>
        </div>
      </nav>
      <main className="min-w-0 flex-1 p-4 md:p-6">{children}</main>
    </div>
  );
}
