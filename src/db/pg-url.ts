/**
 * Postgres connection URLs: checked before anything connects (a bad one is a usage error naming
 * what is wrong), and shown only with the password masked. Credentials come only from the URL or
 * the standard `PG*` environment variables (`PGPASSWORD`, `PGUSER`, …), never from anywhere else.
 *
 * The syntax is libpq's: `postgres[ql]://[user[:password]@][host][:port][/dbname][?key=value&…]`,
 * with `?host=/dir` (or an empty host) for a unix socket.
 */

/** A URL recsys cannot use; the message names the part at fault, the password masked. */
export class PgUrlError extends Error {
  override name = "PgUrlError";
}

/** What recsys needs to know about a Postgres URL (everything else is the driver's business). */
export interface PgUrl {
  /** The URL exactly as given (handed to the driver). */
  readonly url: string;
  /** The URL with its password masked, for every message and `store.location`. */
  readonly masked: string;
  readonly user?: string;
  readonly password?: string;
  /** Host name or address (IPv6 without brackets); undefined means the driver's default. */
  readonly host?: string;
  readonly port?: number;
  /** Database name from the path; undefined means PGDATABASE, else the user name. */
  readonly database?: string;
  /** Query-string parameters, decoded. */
  readonly params: ReadonlyMap<string, string>;
}

const SCHEME = /^postgres(?:ql)?:\/\//i;
/** Query parameters that carry a secret and are masked like the password. */
const SECRET_PARAMS = new Set(["password", "sslpassword"]);

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(location: string): boolean {
  return SCHEME.test(location);
}

/** Splits a URL into its raw (still percent-encoded) parts without judging them. */
function split(url: string): { userinfo?: string; hostport: string; path?: string; query?: string } {
  const rest = url.replace(SCHEME, "");
  const q = rest.indexOf("?");
  const beforeQuery = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? undefined : rest.slice(q + 1);
  // The user info ends at the last "@": masking then hides all of a password that holds an
  // unencoded "@" or "/" (which parsing refuses).
  const at = beforeQuery.lastIndexOf("@");
  const userinfo = at < 0 ? undefined : beforeQuery.slice(0, at);
  const afterUser = at < 0 ? beforeQuery : beforeQuery.slice(at + 1);
  const slash = afterUser.indexOf("/");
  return {
    userinfo,
    hostport: slash < 0 ? afterUser : afterUser.slice(0, slash),
    path: slash < 0 ? undefined : afterUser.slice(slash + 1),
    query,
  };
}

/**
 * `url` with the password (in the user info and in `password=`/`sslpassword=` parameters) replaced
 * by `***`. Works on any string that starts like a Postgres URL, valid or not, so even the message
 * about a malformed URL never shows its password.
 */
export function maskUrl(url: string): string {
  if (!isPostgresUrl(url)) return url;
  const scheme = SCHEME.exec(url)![0];
  const { userinfo, hostport, path, query } = split(url);
  let out = scheme;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    out += (colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`) + "@";
  }
  out += hostport;
  if (path !== undefined) out += "/" + path;
  if (query !== undefined) {
    out +=
      "?" +
      query
        .split("&")
        .map((kv) => {
          const eq = kv.indexOf("=");
          const key = safeDecode(eq < 0 ? kv : kv.slice(0, eq)) ?? "";
          return eq >= 0 && SECRET_PARAMS.has(key.toLowerCase()) ? `${kv.slice(0, eq)}=***` : kv;
        })
        .join("&");
  }
  return out;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Parses and checks a Postgres URL.
 * @throws {PgUrlError} naming what is wrong (scheme, percent-encoding, port, several hosts), password masked.
 */
export function parsePgUrl(url: string): PgUrl {
  const masked = maskUrl(url);
  const fail = (what: string): never => {
    throw new PgUrlError(`invalid Postgres URL ${masked}: ${what} (expected postgres://user:password@host:port/database)`);
  };
  if (!isPostgresUrl(url)) fail("it must start with postgres:// or postgresql://");
  if (/\s/.test(url)) fail("it contains whitespace");
  const { userinfo, hostport, path, query } = split(url);
  const decode = (s: string, what: string) => safeDecode(s) ?? fail(`bad percent-encoding in the ${what}`);
  let user: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    if (/[@/]/.test(userinfo)) fail('percent-encode "@" and "/" in the user name and password (%40, %2F)');
    const colon = userinfo.indexOf(":");
    user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), "user name") || undefined;
    password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), "password");
  }
  if (hostport.includes(",")) fail("several hosts are not supported; give one host");
  let host: string | undefined;
  let portText: string | undefined;
  if (hostport.startsWith("[")) {
    const close = hostport.indexOf("]");
    if (close < 0) fail("unclosed [ in the IPv6 host");
    host = hostport.slice(1, close);
    const after = hostport.slice(close + 1);
    if (after && !after.startsWith(":")) fail(`unexpected ${JSON.stringify(after)} after the IPv6 host`);
    portText = after ? after.slice(1) : undefined;
  } else {
    const colon = hostport.lastIndexOf(":");
    host = colon < 0 ? hostport : hostport.slice(0, colon);
    portText = colon < 0 ? undefined : hostport.slice(colon + 1);
    host = decode(host, "host");
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) fail(`port must be a number from 1 to 65535, got ${JSON.stringify(portText)}`);
  }
  const database = path ? decode(path, "database name") : undefined;
  if (database?.includes("/")) fail(`database name ${JSON.stringify(database)} contains "/"`);
  const params = new Map<string, string>();
  for (const kv of query ? query.split("&") : []) {
    if (!kv) continue;
    const eq = kv.indexOf("=");
    if (eq <= 0) fail(`query parameter ${JSON.stringify(SECRET_PARAMS.has(kv.toLowerCase()) ? "***" : kv)} needs a value (key=value)`);
    params.set(decode(kv.slice(0, eq), "query string"), decode(kv.slice(eq + 1), "query string"));
  }
  const portParam = params.get("port");
  if (portParam !== undefined && !(/^\d{1,5}$/.test(portParam) && Number(portParam) >= 1 && Number(portParam) <= 65535)) {
    fail(`port must be a number from 1 to 65535, got ${JSON.stringify(portParam)}`);
  }
  return { url, masked, user, password, host: host || undefined, port, database: database || undefined, params };
}

/**
 * The secrets that may reach this process for `url` (its passwords, PGPASSWORD), for scrubbing
 * messages that did not come from us (driver and server errors).
 */
export function secretsOf(url: PgUrl): string[] {
  const out = [url.password, url.params.get("password"), url.params.get("sslpassword"), process.env.PGPASSWORD];
  // Very short secrets are not scrubbed literally: masking every "p" in a message would garble it,
  // and no message we or the driver write contains a password except through a URL (masked).
  return [...new Set(out.filter((s): s is string => s !== undefined && s.length >= 4))];
}

/** `text` with every URL masked and every secret of `url` replaced by `***`. */
export function scrub(text: string, url: PgUrl): string {
  let out = text.replace(/postgres(?:ql)?:\/\/[^\s"'`]*/gi, (m) => maskUrl(m));
  for (const secret of secretsOf(url)) {
    out = out.split(secret).join("***");
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join("***");
  }
  return out;
}
