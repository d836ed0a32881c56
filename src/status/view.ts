/**
 * One instance as `rdhpf status` sees it: the daemon's status document plus
 * where it came from (a live answer, or the state file a stopped daemon left),
 * and the JSON shape `--format json|yaml` prints for it.
 *
 * @module
 */
import { z } from "zod";
import { type StatusDocument, StatusDocumentSchema } from "./schema.ts";

/** A status document and its provenance. */
export interface InstanceView {
  doc: StatusDocument;
  /** True when the daemon answered on its control socket just now. */
  live: boolean;
  /** When not live: seconds since the state file's document was written; null when live. */
  staleAgeS: number | null;
  /**
   * Not live, yet a process with the document's PID exists and the daemon did
   * not say it was stopping: it is hung, stopped (SIGSTOP, a sleeping laptop)
   * or still starting, rather than gone.
   */
  unresponsive: boolean;
}

/** One instance in JSON/YAML output: the status document plus provenance fields. */
export const InstanceReportSchema = StatusDocumentSchema.extend({
  live: z.boolean(),
  stale_age_s: z.number().int().nonnegative().nullable(),
  unresponsive: z.boolean(),
});
export type InstanceReport = z.infer<typeof InstanceReportSchema>;

/** Output without `--host`: every instance found for this user. */
export const StatusListReportSchema = z.object({ instances: z.array(InstanceReportSchema) });
export type StatusListReport = z.infer<typeof StatusListReportSchema>;

/** The JSON form of one view. */
export function instanceReport(view: InstanceView): InstanceReport {
  return { ...view.doc, live: view.live, stale_age_s: view.staleAgeS, unresponsive: view.unresponsive };
}
