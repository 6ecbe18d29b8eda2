/**
 * Label names and the values of one label, over the batches of a time range (optionally narrowed by matchers):
 * what the console's query bar autocompletes from. Labels sit in each batch's source header, so records are never
 * decoded. The answer is sorted and capped at `limit` entries (`truncated` says so), and a scan stopped by its
 * budget is `partial`: autocompletion wants an answer quickly more than a complete one.
 */
import type { LogStore } from '../storage/log-store.ts';
import { type BatchScanRequest, scanBatches } from './batch-scan.ts';

export interface LabelsRequest extends BatchScanRequest {
  /** The values of this label; without it, the label names. */
  readonly name?: string;
  readonly limit: number;
}

export interface LabelsAnswer {
  readonly values: readonly string[];
  readonly truncated: boolean;
  readonly partial: boolean;
}

export async function collectLabels(store: LogStore, request: LabelsRequest): Promise<LabelsAnswer> {
  const seen = new Set<string>();
  const { name } = request;
  const summary = await scanBatches(store, request, ({ source }) => {
    if (name === undefined) {
      for (const label of Object.keys(source.labels)) seen.add(label);
    } else {
      const value = source.labels[name];
      if (value !== undefined) seen.add(value);
    }
  });
  const sorted = [...seen].sort();
  return {
    values: sorted.slice(0, request.limit),
    truncated: sorted.length > request.limit,
    partial: summary.partial,
  };
}
