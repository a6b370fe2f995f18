import type { Catalog } from "../../api/agents";
import { Empty } from "../../components/ui";

// toolRows pairs the agent's tools with their descriptions, where the catalog has them.
export function toolRows(tools: string[] | null | undefined, catalog?: Catalog): { name: string; description?: string }[] {
  return (tools ?? []).map((name) => ({ name, description: catalog?.tools?.find((t) => t.name === name)?.description }));
}

export function ToolsPanel({ tools, catalog }: { tools: string[] | null | undefined; catalog?: Catalog }) {
  const rows = toolRows(tools, catalog);
  const others = (catalog?.tools ?? []).filter((t) => !(tools ?? []).includes(t.name));
  return (
    <section className="card space-y-3" aria-label="Tools">
      <h2 className="text-lg font-semibold">Tools</h2>
      {rows.length === 0 ? (
        <Empty>This agent has no tools. Add tool names under Settings.</Empty>
      ) : (
        <ul className="space-y-2">
          {rows.map((t) => (
            <li key={t.name} data-tool={t.name}>
              <code className="text-sm font-semibold">{t.name}</code>
              {t.description && <p className="text-sm text-slate-600">{t.description}</p>}
            </li>
          ))}
        </ul>
      )}
      {others.length > 0 && (
        <details className="text-sm">
          <summary className="cursor-pointer text-slate-600">Other tools it could be given</summary>
          <ul className="mt-2 space-y-1">
            {others.map((t) => (
              <li key={t.name}>
                <code>{t.name}</code> <span className="text-slate-600">— {t.description}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
