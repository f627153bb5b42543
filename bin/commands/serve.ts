import { defineCommand } from "citty";
import { maskLocation } from "../../src/db/store.ts";
import { CliError, dbArgs, log, positiveInt, positiveNumber, resolveDb, resolveEnv, resolveTable, tableArg } from "../common.ts";

/** Largest --max-connections: beyond it the process's file descriptors run out first. */
const MAX_CONNECTIONS = 65_536;

export default defineCommand({
  meta: {
    name: "serve",
    description: "Serve the rankings over HTTP: GET|POST /api/similarity/, /healthz, /api/openapi.json",
  },
  args: {
    host: { type: "string", valueHint: "ADDR", description: "Address to bind (default: $HOST, else 127.0.0.1; prod: only this flag changes it)" },
    port: { type: "string", valueHint: "PORT", description: "Port (default: $PORT, else 5000; 0 picks a free one)" },
    ...dbArgs,
    ...tableArg,
    "max-connections": {
      type: "string",
      valueHint: "N",
      description:
        "Most connections open at once (default 1024, at most 65,536); at the limit a newcomer takes the slot of the connection idle longest, or with none idle is answered 503 with Retry-After: 1",
    },
    "first-byte-timeout": {
      type: "string",
      valueHint: "SECONDS",
      description: "Seconds a new connection may take to send its first byte before it is closed (default 5)",
    },
    quiet: { type: "boolean", description: "No access log", default: false },
  },
  async run({ args }) {
    const env = resolveEnv(args);
    const dbPath = resolveDb(args);
    const table = resolveTable(args);
    let hostname = args.host || (env === "dev" ? process.env.HOST : undefined) || "127.0.0.1";
    if (env === "prod" && !args.host && process.env.HOST && process.env.HOST !== hostname) {
      log.warn(`--env prod binds ${hostname} unless --host says otherwise; ignoring HOST=${process.env.HOST}`);
    }
    hostname = hostname.trim();
    const portText = args.port || process.env.PORT || "5000";
    const port = Number(portText);
    const portFrom = args.port ? "--port" : "PORT";
    if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new CliError(`${portFrom} must be an integer 0..65535, got ${JSON.stringify(portText)}`);
    // Each connection holds buffers and a file descriptor: a bound keeps a typo from exhausting either.
    const maxConnections = positiveInt(args["max-connections"], "max-connections", 1024, 1, MAX_CONNECTIONS);
    const firstByteTimeout = positiveNumber(args["first-byte-timeout"], "first-byte-timeout", 5);
    if (firstByteTimeout > 300) throw new CliError(`--first-byte-timeout must be at most 300 seconds, got ${args["first-byte-timeout"]}`);
    let token: string | undefined;
    if (env === "prod") {
      token = process.env.RECSYS_API_TOKEN;
      if (!token) throw new CliError("--env prod requires RECSYS_API_TOKEN (clients must send Authorization: Bearer <token>)");
      if (/\s/.test(token)) throw new CliError("RECSYS_API_TOKEN must not contain whitespace");
    }
    // Loaded here, not at the top: `--help` and argument errors stay fast.
    const { startServer, StartupError } = await import("../../src/server/serve.ts");
    let server;
    try {
      server = await startServer({ dbPath, table, hostname, port, readonly: true, token, accessLog: !args.quiet, maxConnections, firstByteTimeout });
    } catch (e) {
      if (e instanceof StartupError) {
        // Bun says only "Failed to listen": if something answers there, the address is taken.
        if (port !== 0 && /^cannot listen on /.test(e.message) && (await answers(hostname, port))) {
          throw new CliError(`address ${hostname}:${port} is in use (another server listens there); try --port with another port, or --port 0 for a free one`, 1);
        }
        throw new CliError(e.message, 1);
      }
      throw e;
    }
    // Straight to stderr, not through consola: this line must show whatever the log level
    // (consola goes quiet under NODE_ENV=test), and scripts read the port from it.
    const say = (line: string) => process.stderr.write(`recsys serve: ${line}\n`);
    say(`listening on ${server.url} (${env}, table ${table}, database ${maskLocation(dbPath)}${token ? ", bearer token required on /api" : ""})`);
    await new Promise<void>((resolve) => {
      let signalled = false;
      const stop = (signal: string) => {
        if (signalled) return;
        signalled = true;
        const closing = server.close();
        say(`${signal}: finishing in-flight requests`);
        closing.then(resolve, resolve);
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
    say("stopped");
  },
});

/** True if a TCP connection to hostname:port is accepted within a second. */
async function answers(hostname: string, port: number): Promise<boolean> {
  try {
    const socket = await Promise.race([
      Bun.connect({ hostname, port, socket: { data() {} } }),
      Bun.sleep(1000).then(() => Promise.reject(new Error("timeout"))),
    ]);
    socket.end();
    return true;
  } catch {
    return false;
  }
}
