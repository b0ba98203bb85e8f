// The better-auth peer of the HTTP load script (benches/load/run.sh, PEERS=better-auth).
//
//   node server.mjs            # DATABASE_URL, BETTER_AUTH_SECRET, PORT (0: any free port)
//
// better-auth with its defaults: email and password sign-in (its default hash: scrypt N=16384,
// r=16, p=1 through node:crypto, on libuv's thread pool), database sessions read on every
// get-session (no cookie cache: off by default), PostgreSQL through `pg` (its default pool of
// 10 connections). One change: the rate limiter is off, as usermgmt's global limit is set out of
// reach in the same run; otherwise every measured figure would be its 429s.
//
// One node process (node's default: the event loop runs JavaScript on one core; only the scrypt
// hashes run on the thread pool). Listens on 127.0.0.1 only; runs better-auth's own migrations
// first; prints `better-auth listening on http://ADDR` as its first stdout line.
import http from "node:http";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import pg from "pg";

const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.BETTER_AUTH_SECRET;
if (!databaseUrl || !secret) {
  console.error("better-auth peer: DATABASE_URL and BETTER_AUTH_SECRET are needed");
  process.exit(1);
}
const host = new URL(databaseUrl).hostname;
if (host !== "127.0.0.1" && host !== "localhost") {
  console.error("better-auth peer: DATABASE_URL must point at 127.0.0.1 or localhost");
  process.exit(1);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", resolve));
const { port } = server.address();
const baseURL = `http://127.0.0.1:${port}`;

const auth = betterAuth({
  baseURL,
  secret,
  database: new pg.Pool({ connectionString: databaseUrl }),
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

server.on("request", toNodeHandler(auth));
console.log(`better-auth listening on ${baseURL}`);

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
