import { parseUnifiedDiff } from "../../api/workspace";
import { Empty } from "../../components/ui";

const lineStyle = {
  add: "bg-emerald-50 text-emerald-900",
  del: "bg-rose-50 text-rose-900",
  ctx: "text-slate-700",
  meta: "text-slate-400 italic",
};

const mark = { add: "+", del: "-", ctx: " ", meta: "" };

// DiffView shows git's unified diff with both sides' line numbers; it scrolls sideways rather
// than wrapping, so code keeps its shape on a phone.
export function DiffView({ diff, truncated }: { diff: string; truncated?: boolean }) {
  const files = parseUnifiedDiff(diff);
  if (files.length === 0) return <Empty>No differences.</Empty>;
  return (
    <div className="space-y-3" data-testid="ws-diff">
      {files.map((f, i) => (
        <div key={i} className="overflow-hidden rounded border border-slate-200">
          <div className="border-b border-slate-200 bg-slate-50 px-2 py-1 font-mono text-xs text-slate-700">
            {f.oldPath && f.oldPath !== f.newPath ? `${f.oldPath} → ${f.newPath}` : f.newPath}
            {f.headers.map((h) => (
              <div key={h} className="text-slate-500">
                {h}
              </div>
            ))}
          </div>
          <div className="overflow-x-auto">
            <table className="w-full border-collapse font-mono text-xs">
              <tbody>
                {f.hunks.map((h, j) => [
                  <tr key={`h${j}`} className="bg-indigo-50 text-indigo-700">
                    <td colSpan={3} className="px-2 py-0.5">
                      {h.header}
                    </td>
                  </tr>,
                  ...h.lines.map((l, k) => (
                    <tr key={`${j}-${k}`} className={lineStyle[l.kind]} data-kind={l.kind}>
                      <td className="w-10 select-none px-1 text-right text-slate-400">{l.oldLine ?? ""}</td>
                      <td className="w-10 select-none px-1 text-right text-slate-400">{l.newLine ?? ""}</td>
                      <td className="whitespace-pre px-2">
                        {mark[l.kind]}
                        {l.text}
                      </td>
                    </tr>
                  )),
                ])}
              </tbody>
            </table>
          </div>
        </div>
      ))}
      {truncated && <p className="text-xs text-amber-700">The diff is too large to show whole; it stops here.</p>}
    </div>
  );
}
