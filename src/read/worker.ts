/**
 * Worker side of {@link readTables}' parallel read: parses the tables it is sent, one message
 * each, and answers with the dictionary-encoded table (codes and numbers transferred, not
 * copied) or with the error. Progress goes back as byte counts.
 */
import type { TableName } from "../types.ts";
import { parseEncodedTable } from "./csv.ts";
import { InputError } from "./errors.ts";

export interface ReadRequest {
  name: TableName;
  path: string;
}

export type ReadReply =
  | { kind: "bytes"; name: TableName; bytes: number }
  | { kind: "table"; name: TableName; table: import("./csv.ts").EncodedTable }
  | { kind: "error"; name: TableName; input?: ConstructorParameters<typeof InputError>[0]; message: string };

declare const self: Worker;

self.onmessage = async (event: MessageEvent<ReadRequest>) => {
  const { name, path } = event.data;
  const reply = (message: ReadReply, transfer: Bun.Transferable[] = []) => self.postMessage(message, transfer);
  try {
    const table = await parseEncodedTable(name, Bun.file(path).stream(), { path, onBytes: (bytes) => reply({ kind: "bytes", name, bytes }) });
    const buffers = table.columns.map((c) => (c instanceof Float64Array ? c.buffer : c.codes.buffer) as ArrayBuffer);
    reply({ kind: "table", name, table }, buffers);
  } catch (e) {
    const error = e as Error;
    const input =
      error instanceof InputError
        ? { file: error.file, line: error.line, column: error.column, expected: error.expected, got: error.got, path: error.path }
        : undefined;
    reply({ kind: "error", name, input, message: error?.message ?? String(e) });
  }
};
