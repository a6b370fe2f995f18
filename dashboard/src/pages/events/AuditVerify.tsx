import { useMutation } from "@tanstack/react-query";
import { auditSummary, verifyAudit, type AuditReport } from "../../api/events";
import { ErrorBox } from "../../components/ui";

// Recomputes the hash chains on the server, of the whole log or of the filtered stream.
export function AuditVerify({ stream }: { stream: string }) {
  const verify = useMutation<AuditReport, Error, string>({ mutationFn: verifyAudit });
  const checked = verify.variables;
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2">
        <button type="button" className="btn-secondary" onClick={() => verify.mutate(stream)} disabled={verify.isPending}>
          {verify.isPending ? "Verifying…" : "Verify audit chain"}
        </button>
        <span className="text-xs text-slate-500">{stream ? <>of stream <code>{stream}</code></> : "of the whole log"}</span>
      </div>
      {verify.isError && <ErrorBox error={verify.error} />}
      {verify.data && <AuditResult report={verify.data} stream={checked ?? ""} />}
    </div>
  );
}

export function AuditResult({ report, stream }: { report: AuditReport; stream: string }) {
  return (
    <div
      data-testid="audit-result"
      data-ok={report.ok}
      role="status"
      className={`rounded-md border p-3 text-sm ${report.ok ? "border-emerald-200 bg-emerald-50 text-emerald-900" : "border-rose-200 bg-rose-50 text-rose-900"}`}
    >
      <div className="font-medium">
        {report.ok ? "✓ " : "✗ "}
        {auditSummary(report)}
        {stream && <span className="font-normal"> (stream {stream})</span>}
      </div>
      {report.breaks.length > 0 && (
        <div className="mt-2 overflow-x-auto">
          <table className="table">
            <thead>
              <tr>
                <th>Stream</th>
                <th>Version</th>
                <th>Position</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {report.breaks.map((b) => (
                <tr key={`${b.stream_id}/${b.version}`} data-testid="audit-break">
                  <td className="break-all font-mono text-xs">{b.stream_id}</td>
                  <td>{b.version}</td>
                  <td>{b.position}</td>
                  <td>{b.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
