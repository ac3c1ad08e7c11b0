// PostGraphile 5 over the gateway schema: the peer of the tasks(first: 50) benchmark.
// bench.run copies this file next to the node_modules it installs (outside the repository)
// and runs it with DATABASE_URL and PORT; it listens on loopback only.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

// @dataplan/pg 1.1 calls Promise.withResolvers (Node >= 22); Taskstream supports Node >= 20.19,
// where it is missing and every query fails with "reading 'items'". The standard polyfill:
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};

const port = Number(process.env.PORT);
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["gateway"],
      // The same pool size as the gateway's (TASKSTREAM_DB_POOL_SIZE defaults to 20).
      poolConfig: { max: 20 },
    }),
  ],
  grafserv: { port, host: "127.0.0.1", graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
// No websockets are needed: a plain request handler, plus the health route bench.run polls.
const handler = serv.createHandler();
const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  } else {
    handler(req, res);
  }
});
server.listen(port, "127.0.0.1", () => {
  console.log(`PostGraphile is up at http://127.0.0.1:${port}/graphql`);
});
const stop = () => {
  server.close();
  pgl.release().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
