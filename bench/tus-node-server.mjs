// The reference tus server for `npm run bench:tus`: @tus/server with @tus/file-store, storing in
// the directory given as the first argument. Runs in a process of its own (as the service runs in
// workerd), so it does not share the bench client's event loop. Listens on a free loopback port
// and prints {"origin"} as one JSON line once it accepts connections.
import http from "node:http";
import { FileStore } from "@tus/file-store";
import { Server } from "@tus/server";

const directory = process.argv[2];
if (!directory) throw new Error("usage: node bench/tus-node-server.mjs <directory>");

const tus = new Server({ path: "/files", datastore: new FileStore({ directory }) });
const server = http.createServer(tus.handle.bind(tus));
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ origin: `http://127.0.0.1:${server.address().port}` }));
});
