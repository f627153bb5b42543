import { describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync, spawnSync } from "bun";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../src/read/errors.ts";
import { parseTable, parseTables, readTables } from "../src/read/index.ts";
import { formatSummary } from "../src/read/summary.ts";
import type { TableName } from "../src/types.ts";

const REAL = join(import.meta.dir, "../../shared/data/pluralsight");
const haveReal = await Bun.file(join(REAL, "course_tags.csv")).exists();
if (!haveReal) console.warn(`SKIPPED: real-data reading tests (no ${REAL})`);

/** Small, well-formed versions of the four files in the real export style. */
const FILES: Record<TableName, string> = {
  user_interests: [
    `"user_handle","interest_tag","date_followed"`,
    `1,"python","2017-06-27 16:26:52"`,
    `1,"Cloud-computing","2017-06-27 16:26:52"`,
    `2," cloud-computing ","2017-07-03 04:37:31"`,
    `10,"c#","2017-07-03 04:37:31"`,
    "",
  ].join("\n"),
  user_assessment_scores: [
    `"user_handle","assessment_tag","user_assessment_date","user_assessment_score"`,
    `1,"python","2017-08-11 19:03:38",134`,
    `2,"CSS","2017-08-11 20:09:56",38`,
    "",
  ].join("\n"),
  user_course_views: [
    `"user_handle","view_date","course_id","author_handle","level","view_time_seconds"`,
    `1,"2017-06-27","python-getting-started",104,"Beginner",2449`,
    `2,"2017-06-28","aws-intro",229,"Advanced",0`,
    `10,"2017-06-28","python-getting-started",104,"Beginner",12.5`,
    "",
  ].join("\n"),
  course_tags: [`"course_id","course_tags"`, `"python-getting-started","python"`, `"aws-intro","Cloud-Computing"`, `"aws-intro",""`, ""].join("\n"),
};

async function parse<N extends TableName>(name: N, text: string | Uint8Array) {
  return parseTable(name, text);
}

async function rejection(name: TableName, text: string): Promise<InputError> {
  try {
    await parseTable(name, text);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error(`expected ${name} to be rejected`);
}

describe("reading one table", () => {
  it("fills typed columns in file order", async () => {
    const { table, summary } = await parse("user_course_views", FILES.user_course_views);
    expect(table.user_handle).toEqual(["1", "2", "10"]);
    expect(table.course_id).toEqual(["python-getting-started", "aws-intro", "python-getting-started"]);
    expect(table.level).toEqual(["Beginner", "Advanced", "Beginner"]);
    expect(table.author_handle).toEqual(["104", "229", "104"]);
    expect(table.view_date).toEqual(["2017-06-27", "2017-06-28", "2017-06-28"]);
    expect(table.view_time_seconds).toBeInstanceOf(Float64Array);
    expect([...table.view_time_seconds]).toEqual([2449, 0, 12.5]);
    expect(summary).toMatchObject({ rowsRead: 3, rowsKept: 3, dropped: {}, distinct: { users: 3, courses: 2 } });
  });

  it("treats 'Cloud-computing' and ' cloud-computing ' as one tag", async () => {
    const { table, summary } = await parse("user_interests", FILES.user_interests);
    expect(table.interest_tag).toEqual(["python", "cloud-computing", "cloud-computing", "c#"]);
    expect(summary.distinct).toEqual({ users: 3, tags: 3 });
  });

  it("drops rows with an empty tag and counts them by reason", async () => {
    const { table, summary } = await parse("course_tags", FILES.course_tags + `"x","   "\n`);
    expect(table.course_id).toEqual(["python-getting-started", "aws-intro"]);
    expect(table.course_tags).toEqual(["python", "cloud-computing"]);
    expect(summary).toMatchObject({ rowsRead: 4, rowsKept: 2, dropped: { "empty course_tags": 2 }, distinct: { courses: 2, tags: 2 } });
  });

  it("trims handles and course ids but keeps their case", async () => {
    const text = `user_handle,view_date,course_id,author_handle,level,view_time_seconds\n" U7 ",2017-06-27,"  My-Course ",1, Beginner ,5\n`;
    const { table } = await parse("user_course_views", text);
    expect(table.user_handle).toEqual(["U7"]);
    expect(table.course_id).toEqual(["My-Course"]);
    expect(table.level).toEqual(["Beginner"]);
  });

  it("normalizes date-times: a T separator and a bare date", async () => {
    const text = `user_handle,interest_tag,date_followed\n1,a,2017-06-27T16:26:52\n1,b,2016-02-29\n1,c,2017-06-27 00:00:01\n`;
    const { table } = await parse("user_interests", text);
    expect(table.date_followed).toEqual(["2017-06-27 16:26:52", "2016-02-29 00:00:00", "2017-06-27 00:00:01"]);
  });

  it("fills an absent optional column with empty strings", async () => {
    const { table } = await parse("user_interests", `user_handle,interest_tag\n1,python\n2,java\n`);
    expect(table.date_followed).toEqual(["", ""]);
  });
});

describe("accepted variants give identical tables", () => {
  const variants: Record<string, (name: TableName, text: string) => string | Uint8Array> = {
    "a UTF-8 BOM": (_, t) => new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(t)]),
    "CRLF line ends": (_, t) => t.replaceAll("\n", "\r\n"),
    "UTF-16LE with a byte-order mark": (_, t) => new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, "utf16le")])),
    "blank trailing lines": (_, t) => t + "\n\n  \n\r\n",
    "no final newline": (_, t) => t.replace(/\n$/, ""),
    "every field quoted": (_, t) =>
      t
        .split("\n")
        .map((line) => (line ? line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map((f) => (f.startsWith('"') ? f : `"${f}"`)).join(",") : line))
        .join("\n"),
    "no field quoted": (_, t) => t.replace(/"([^",]*)"/g, "$1"),
    "columns reversed plus an extra column": (_, t) =>
      t
        .split("\n")
        .map((line, i) => (line ? [i === 0 ? "extra" : `"x${i}"`, ...line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).reverse()].join(",") : line))
        .join("\n"),
  };
  for (const [variant, transform] of Object.entries(variants)) {
    it(`with ${variant}`, async () => {
      const plain = await parseTables(FILES);
      const changed = await parseTables(
        Object.fromEntries(Object.entries(FILES).map(([name, text]) => [name, transform(name as TableName, text)])) as Record<TableName, string | Uint8Array>,
      );
      expect(changed.tables).toEqual(plain.tables);
      expect(changed.summary).toEqual(plain.summary);
    });
  }

  it("when streamed in tiny chunks", async () => {
    const bytes = new TextEncoder().encode(FILES.user_course_views.replaceAll("\n", "\r\n"));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.subarray(i, i + 3));
        controller.close();
      },
    });
    expect((await parseTable("user_course_views", stream)).table).toEqual((await parse("user_course_views", FILES.user_course_views)).table);
  });

  it("with quoted fields holding delimiters, quotes and newlines", async () => {
    const text = `course_id,course_tags\n"a,b","x ""y"""\n"c\nd",z\n`;
    const { table } = await parse("course_tags", text);
    expect(table.course_id).toEqual(["a,b", "c\nd"]);
    expect(table.course_tags).toEqual(['x "y"', "z"]);
  });
});

describe("rejections name file, line, column and expectation", () => {
  it("a missing required column, listing the columns found", async () => {
    const e = await rejection("user_interests", `user_handle,tag,date_followed\n1,python,2017-06-27 16:26:52\n`);
    expect(e.message).toBe(
      `user_interests.csv line 1, column interest_tag: expected a column named "interest_tag", got columns "user_handle", "tag", "date_followed"`,
    );
    expect(e).toMatchObject({ file: "user_interests.csv", line: 1, column: "interest_tag" });
  });

  it("a row with too few fields", async () => {
    const e = await rejection("user_interests", `user_handle,interest_tag,date_followed\n1,a,2017-06-27 16:26:52\n2,b\n`);
    expect(e.message).toBe(`user_interests.csv line 3, column date_followed: expected 3 fields as in the header, got 2`);
  });

  it("a row with too many fields", async () => {
    const e = await rejection("course_tags", `course_id,course_tags\na,b\nc,d,e\n`);
    expect(e.message).toBe(`course_tags.csv line 3, column #3 (beyond the header): expected 2 fields as in the header, got 3`);
  });

  it("a negative score", async () => {
    const text = FILES.user_assessment_scores + `3,"java","2017-08-11 19:03:38",-3\n`;
    const e = await rejection("user_assessment_scores", text);
    expect(e.message).toBe(`user_assessment_scores.csv line 4, column user_assessment_score: expected a non-negative number, got "-3"`);
  });

  for (const bad of ["abc", "", "0x10", "Infinity", "1,5"]) {
    it(`a non-numeric view time ${JSON.stringify(bad)}`, async () => {
      const text = `user_handle,view_date,course_id,author_handle,level,view_time_seconds\n1,2017-06-27,c,1,Beginner,"${bad}"\n`;
      const e = await rejection("user_course_views", text);
      expect(e.message).toBe(`user_course_views.csv line 2, column view_time_seconds: expected a non-negative number, got ${JSON.stringify(bad)}`);
    });
  }

  for (const bad of ["2017-02-29", "2017-13-01", "27/06/2017", "2017-06-27 10:00:00", ""]) {
    it(`an unparseable view date ${JSON.stringify(bad)}`, async () => {
      const text = `user_handle,view_date,course_id,author_handle,level,view_time_seconds\n1,2017-06-27,c,1,Beginner,5\n1,"${bad}",c,1,Beginner,5\n`;
      const e = await rejection("user_course_views", text);
      expect(e.message).toBe(`user_course_views.csv line 3, column view_date: expected a date YYYY-MM-DD, got ${JSON.stringify(bad)}`);
    });
  }

  for (const bad of ["2017-06-31 10:00:00", "2017-06-27 24:00:00", "2017-06-27 10:61:00", "2017-06-27 10:00", "yesterday"]) {
    it(`an unparseable date_followed ${JSON.stringify(bad)}`, async () => {
      const e = await rejection("user_interests", `user_handle,interest_tag,date_followed\n1,a,"${bad}"\n`);
      expect(e.message).toBe(`user_interests.csv line 2, column date_followed: expected a date and time YYYY-MM-DD HH:MM:SS, got ${JSON.stringify(bad)}`);
    });
  }

  it("an empty user handle", async () => {
    const e = await rejection("user_interests", `user_handle,interest_tag,date_followed\n"  ",a,2017-06-27 16:26:52\n`);
    expect(e.message).toBe(`user_interests.csv line 2, column user_handle: expected a non-empty user handle, got "  "`);
  });

  it("an empty course id", async () => {
    const e = await rejection("course_tags", `course_id,course_tags\n,python\n`);
    expect(e.message).toBe(`course_tags.csv line 2, column course_id: expected a non-empty course id, got ""`);
  });

  it("counts physical lines past blank lines, CRLF and multi-line quoted fields", async () => {
    const text = `course_id,course_tags\r\n"multi\r\nline",a\r\n\r\nb,c\r\n\r\n,d\r\n`;
    const e = await rejection("course_tags", text);
    expect(e).toMatchObject({ line: 7, column: "course_id" });
  });

  it("an unclosed quote, at the line where its field starts", async () => {
    const e = await rejection("course_tags", `course_id,course_tags\na,b\n"c,d\ne,f\n`);
    expect(e.file).toBe("course_tags.csv");
    expect(e.line).toBe(3);
    expect(e.message).toContain("expected a closing quote");
  });

  it("an empty file", async () => {
    const e = await rejection("course_tags", "");
    expect(e.message).toBe(`course_tags.csv line 1: expected a header line with columns course_id, course_tags, got an empty file`);
  });

  it("a missing file, and a missing directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-read-"));
    try {
      for (const [name, text] of Object.entries(FILES)) if (name !== "user_course_views") writeFileSync(join(dir, `${name}.csv`), text);
      const missing = await readTables(dir).catch((e) => e);
      expect(missing).toBeInstanceOf(InputError);
      expect(missing.message).toBe(`user_course_views.csv: expected a file ${join(dir, "user_course_views.csv")}, got no such file`);
      const noDir = await readTables(join(dir, "nope")).catch((e) => e);
      expect(noDir).toBeInstanceOf(InputError);
      expect(noDir.message).toContain("got no such directory");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** `parts` as one byte stream, in chunks of `size` bytes (so sequences split across chunks). */
function chunked(parts: (string | number[])[], size: number): ReadableStream<Uint8Array> {
  const bytes = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(new Uint8Array(bytes.subarray(i, i + size)));
      controller.close();
    },
  });
}

async function rejectionOf(name: TableName, source: Parameters<typeof parseTable>[1]): Promise<InputError> {
  const e = await parseTable(name, source).catch((x) => x);
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

const UTF8 = "UTF-8 text (or UTF-16LE with a byte-order mark)";

describe("bytes that are not UTF-8 text are refused, never stored", () => {
  const head = "user_handle,interest_tag,date_followed\n1,python,2017-06-27 16:26:52\n";
  it("a Latin-1 file: file, line, column, the byte, and what the file looks like", async () => {
    const e = await rejectionOf("user_interests", chunked([head, "2,caf", [0xe9], ",2017-06-27 16:26:52\n"], 1 << 16));
    expect(e.message).toBe(
      `user_interests.csv line 3, column interest_tag: expected ${UTF8}, got the byte 0xE9, which is not UTF-8 (character 6 of the line; this looks like Latin-1 or Windows-1252: save the file as UTF-8)`,
    );
  });

  it("two different bad handles are two errors, not one merged U+FFFD user", async () => {
    const e = await rejectionOf("user_interests", chunked(["user_handle,interest_tag\n", "a", [0xe9], ",x\n", "a", [0xe8], ",y\n"], 7));
    expect(e).toMatchObject({ line: 2, column: "user_handle" });
  });

  it("bad bytes in a number column are an encoding error, not a number error", async () => {
    const e = await rejectionOf("user_assessment_scores", chunked(["user_handle,assessment_tag,user_assessment_score\n1,python,1", [0xff], "\n"], 5));
    expect(e).toMatchObject({ line: 2, column: "user_assessment_score" });
    expect(e.message).toContain(`expected ${UTF8}, got the byte 0xFF`);
  });

  it("a NUL byte", async () => {
    const e = await rejectionOf("user_interests", head + "2,py\0thon,2017-06-27 16:26:52\n");
    expect(e.message).toBe(`user_interests.csv line 3, column interest_tag: expected ${UTF8}, got a NUL byte (0x00) (character 5 of the line)`);
  });

  it("an invalid sequence split across chunks, and one cut off by the end of the file", async () => {
    // E2 82 is the start of € (E2 82 AC) followed by a letter: invalid, whatever the chunking.
    for (const size of [1, 2, 3, 64]) {
      const e = await rejectionOf("user_interests", chunked([head, "2,ab", [0xe2, 0x82], "x,2017-06-27 16:26:52\n"], size));
      expect(e).toMatchObject({ line: 3, column: "interest_tag" });
      expect(e.message).toContain("got the bytes 0xE2 0x82, which are not UTF-8 (character 5 of the line)");
      const cut = await rejectionOf("user_interests", chunked([head, "2,ab", [0xe2, 0x82]], size));
      expect(cut).toMatchObject({ line: 3 });
      expect(cut.message).toContain("got the bytes 0xE2 0x82, which are not UTF-8");
    }
  });

  it("accepts UTF-8 (any chunking) and a U+FFFD that is really in the file", async () => {
    const text = `${head}2,café-€-𝄞-\uFFFD,2017-06-27 16:26:52\n`;
    for (const size of [1, 2, 3, 5]) {
      const { table } = await parseTable("user_interests", chunked([text], size));
      expect(table.interest_tag).toEqual(["python", "café-€-𝄞-\uFFFD"]);
    }
  });

  it("a file of the wrong kind is named: gzip, zip, UTF-16BE, UTF-16 without a byte-order mark", async () => {
    const csv = "course_id,course_tags\npy,python\n";
    const cases: [Uint8Array, string][] = [
      [gzipSync(Buffer.from(csv)), "gzip-compressed data (this looks like gzip: decompress it first, e.g. with gunzip)"],
      [Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]), "a ZIP archive (this looks like a zip file or an Excel workbook: export the sheet as CSV)"],
      [Uint8Array.from(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(csv, "utf16le").swap16()])), "UTF-16BE (this looks like UTF-16BE: convert it, e.g. with iconv -f UTF-16BE -t UTF-8)"],
      [Uint8Array.from(Buffer.from(csv, "utf16le")), "UTF-16LE without a byte-order mark (this looks like UTF-16LE: convert it, e.g. with iconv -f UTF-16LE -t UTF-8)"],
      [Uint8Array.from(Buffer.from(csv, "utf16le").swap16()), "UTF-16BE without a byte-order mark (this looks like UTF-16BE: convert it, e.g. with iconv -f UTF-16BE -t UTF-8)"],
    ];
    for (const [bytes, got] of cases) {
      const e = await rejectionOf("course_tags", bytes);
      expect(e.message).toBe(`course_tags.csv: expected a CSV file of ${UTF8}, got ${got}`);
    }
  });
});

describe("messages say what is wrong, where it starts, in our words", () => {
  const lineEnds = (n: number, from: string, to: string) =>
    `user_interests.csv line ${n}: expected every line to end the same way (lines before ${n} end in ${from}), got a line ending in ${to}: the line ends change here; convert the file to one kind (e.g. with dos2unix)`;

  it("line ends that change kind mid-file, quoted or not", async () => {
    const rows = ['"user_handle","interest_tag","date_followed"', '1,"python","2017-06-27 16:26:52"', '2,"css","2017-06-27 16:26:52"', '3,"css","2017-06-27 16:26:52"'];
    const bare = rows.map((r) => r.replaceAll('"', ""));
    expect((await rejectionOf("user_interests", `${rows[0]}\r\n${rows[1]}\r\n${rows[2]}\n${rows[3]}\n`)).message).toBe(lineEnds(3, "CRLF", "LF"));
    expect((await rejectionOf("user_interests", `${bare[0]}\r\n${bare[1]}\r\n${bare[2]}\n${bare[3]}\n`)).message).toBe(lineEnds(3, "CRLF", "LF"));
    expect((await rejectionOf("user_interests", `${rows[0]}\n${rows[1]}\r\n${rows[2]}\n`)).message).toBe(lineEnds(2, "LF", "CRLF"));
  });

  it("a bare LF inside a quoted field of a CRLF file (a spreadsheet's multi-line cell) is not blamed for a later error", async () => {
    const e = await rejectionOf("course_tags", `course_id,course_tags\r\n"two\nlines",a\r\nb,c\r\n,d\r\n`);
    expect(e.message).toBe('course_tags.csv line 5, column course_id: expected a non-empty course id, got ""');
    const f = await rejectionOf("course_tags", `course_id,course_tags\r\n"two\nlines",a\r\nb,c,x\r\n`);
    expect(f.message).toContain("course_tags.csv line 4, column #3 (beyond the header): expected 2 fields as in the header, got 3");
  });

  it("an unclosed quote mid-file: at the line it opens, not where csv-parse gave up", async () => {
    const e = await rejectionOf("user_interests", 'user_handle,interest_tag,date_followed\n1,"python",2017-06-27\n2,"css,2017-06-27\n3,"css",2017-06-27\n');
    expect(e.message).toBe(
      'user_interests.csv line 3, column interest_tag: expected a closing quote on this line for the quoted field that starts here, got none until line 4, with "c" after it',
    );
  });

  it("an unclosed quote at the end of the file, in our words", async () => {
    const e = await rejectionOf("user_interests", 'user_handle,interest_tag,date_followed\n1,python,2017-06-27\n2,"css,2017-06-27\n');
    expect(e.message).toBe("user_interests.csv line 3, column interest_tag: expected a closing quote for the quoted field that starts on this line, got none before the end of the file");
  });

  it("a stray quote and a character after a closing quote, without csv-parse's text", async () => {
    const a = await rejectionOf("course_tags", 'course_id,course_tags\npy,pyt"hon\n');
    expect(a.message).toBe('course_tags.csv line 2, column course_tags: expected a quote only at the start of a field (a literal quote inside a quoted field is written ""), got a quote inside an unquoted field');
    const b = await rejectionOf("course_tags", 'course_id,course_tags\n"py"x,python\n');
    expect(b.message).toBe('course_tags.csv line 2, column course_id: expected a delimiter or the end of the line after a closing quote, got "x" after it');
  });

  // csv-parse takes about a second per megabyte-long field: a generous timeout on a busy machine.
  it("a 1 MB header is shortened in messages", { timeout: 60_000 }, async () => {
    const huge = "a".repeat(1 << 20);
    const e = await rejectionOf("course_tags", `course_id,${huge}\npy,x\n`);
    expect(e.message.length).toBeLessThan(300);
    expect(e.message).toStartWith('course_tags.csv line 1, column course_tags: expected a column named "course_tags", got columns "course_id", "aaaa');
    const many = await rejectionOf("course_tags", `${Array.from({ length: 5000 }, (_, i) => `c${i}`).join(",")}\n`);
    expect(many.message).toEndWith(', "c9", … (5000 columns)');
    const wide = await rejectionOf("course_tags", `course_id,course_tags,${huge}\npy\n`);
    expect(wide.message.length).toBeLessThan(300);
  });

  it("a directory or a named pipe where a CSV should be is said to be one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-read-"));
    try {
      for (const [name, text] of Object.entries(FILES)) if (name !== "course_tags") writeFileSync(join(dir, `${name}.csv`), text);
      mkdirSync(join(dir, "course_tags.csv"));
      expect((await readTables(dir).catch((e) => e)).message).toBe(`course_tags.csv: expected a file ${join(dir, "course_tags.csv")}, got a directory`);
      rmSync(join(dir, "course_tags.csv"), { recursive: true });
      expect(spawnSync(["mkfifo", join(dir, "course_tags.csv")]).exitCode).toBe(0);
      expect((await readTables(dir).catch((e) => e)).message).toBe(`course_tags.csv: expected a file ${join(dir, "course_tags.csv")}, got a named pipe (FIFO)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("readTables", () => {
  it("reads a directory and summarizes every table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-read-"));
    try {
      for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, `${name}.csv`), text);
      const seen: [string, number, number][] = [];
      const { tables, summary } = await readTables(dir, { onProgress: (s, d, t) => seen.push([s, d, t]) });
      expect(tables).toEqual((await parseTables(FILES)).tables);
      expect(summary.tables.map((t) => t.table)).toEqual(["user_interests", "user_assessment_scores", "user_course_views", "course_tags"]);
      const total = Object.values(FILES).reduce((n, t) => n + Buffer.byteLength(t), 0);
      expect(seen.at(-1)).toEqual(["read", total, total]);
      const text = formatSummary(summary);
      expect(text.split("\n")[0]).toMatch(/^table\s+rows read\s+kept\s+dropped\s+distinct$/);
      expect(text).toMatch(/course_tags\s+3\s+2\s+1 \(empty course_tags\)\s+courses 2, tags 2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the same tables and the same first error when a worker parses half the files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-read-"));
    try {
      for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, `${name}.csv`), text);
      const one = await readTables(dir, { threads: 1 });
      const two = await readTables(dir, { threads: 2 });
      expect(two).toEqual(one);
      // Both halves fail; the error reported is the one of the first table, whichever thread read it.
      writeFileSync(join(dir, "user_interests.csv"), FILES.user_interests + `"",x,2017-06-27 16:26:52\n`);
      writeFileSync(join(dir, "user_course_views.csv"), FILES.user_course_views + `1,2017-06-27,c,1,Beginner,-1\n`);
      for (const threads of [1, 2]) {
        const e = await readTables(dir, { threads }).catch((x) => x);
        expect(e).toBeInstanceOf(InputError);
        expect(e.message).toBe(`user_interests.csv line 6, column user_handle: expected a non-empty user handle, got ""`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!haveReal)("reads the real course_tags.csv and user_assessment_scores.csv", async () => {
    const tags = await parseTable("course_tags", Bun.file(join(REAL, "course_tags.csv")).stream());
    // DATA_CARD.md: 11,337 rows; 112 courses have no tag (their one row has an empty tag).
    expect(tags.summary.rowsRead).toBe(11337);
    expect(tags.summary.dropped).toEqual({ "empty course_tags": 112 });
    expect(tags.table.course_tags.every((t) => t === t.trim().toLowerCase() && t !== "")).toBe(true);
    const scores = await parseTable("user_assessment_scores", Bun.file(join(REAL, "user_assessment_scores.csv")).stream());
    // DATA_CARD.md: 3,114 users with assessments, 54 assessment tags.
    expect(scores.summary).toMatchObject({ rowsRead: 6571, rowsKept: 6571, distinct: { users: 3114, tags: 54 } });
    expect(scores.table.user_assessment_date.every((d) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(d))).toBe(true);
  });
});
