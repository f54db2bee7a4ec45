/**
 * A loopback TCP proxy that behaves like venue Wi-Fi: it cuts connections at random points,
 * drops answers the server already sent, and can slow data down. It works below HTTP, so
 * clients and server see real broken connections (a request body cut off midway, a response
 * that never arrives), not simulated errors. Reusable by load and fault tests.
 */
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface FlakyProxyOptions {
  /** Where to forward, e.g. a `wrangler dev` origin: `http://127.0.0.1:8787`. */
  target: string;
  /**
   * How many bytes a connection may carry in one direction before it is cut, drawn for each
   * connection and direction; null never cuts. The default draws 0.5–4 MB.
   */
  cutAfterBytes?: (() => number) | null;
  /**
   * The chance that a connection is cut just as a response begins: the server did the work,
   * the client never hears of it.
   */
  dropResponseChance?: number;
  /** Milliseconds to hold each piece of data before forwarding it (order is kept). */
  delayMs?: () => number;
  random?: () => number;
}

export interface FlakyProxyStats {
  connections: number;
  /** Connections cut after their byte allowance. */
  cuts: number;
  /** Connections cut as a response began. */
  droppedResponses: number;
  bytesUp: number;
  bytesDown: number;
}

const MB = 1_000_000;

export class FlakyProxy {
  readonly origin: string;
  readonly stats: FlakyProxyStats = { connections: 0, cuts: 0, droppedResponses: 0, bytesUp: 0, bytesDown: 0 };
  /** While false, data flows untouched (no cuts, drops or delays). */
  flaky = true;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(server: Server, port: number) {
    this.server = server;
    this.origin = `http://127.0.0.1:${port}`;
  }

  static async start(options: FlakyProxyOptions): Promise<FlakyProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const proxy = new FlakyProxy(server, (server.address() as { port: number }).port);
    server.on("connection", (client) => proxy.relay(client, options));
    return proxy;
  }

  /** The total of cuts and dropped responses: how many times a connection broke. */
  get breaks(): number {
    return this.stats.cuts + this.stats.droppedResponses;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, options: FlakyProxyOptions): void {
    const random = options.random ?? Math.random;
    const allowance = options.cutAfterBytes === undefined ? () => Math.floor(MB / 2 + random() * 3.5 * MB) : options.cutAfterBytes;
    const target = new URL(options.target);
    const server = connect(Number(target.port), target.hostname);
    this.stats.connections += 1;
    for (const socket of [client, server]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => this.sockets.delete(socket));
    }

    let broken = false;
    const breakConnection = (reason: "cuts" | "droppedResponses") => {
      if (broken) return;
      broken = true;
      this.stats[reason] += 1;
      client.destroy();
      server.destroy();
    };
    // A response begins with the first bytes from the server after bytes from the client.
    let awaitingResponse = false;

    const forward = (from: Socket, to: Socket, direction: "up" | "down") => {
      const limit = allowance?.() ?? Infinity;
      let carried = 0;
      // Pieces go out one after another, each after its delay; `end` waits for the last.
      let queue = Promise.resolve();
      from.on("data", (data: Buffer) => {
        from.pause();
        queue = queue.then(async () => {
          const delay = this.flaky ? (options.delayMs?.() ?? 0) : 0;
          if (delay > 0) await sleep(delay);
          if (broken) return;
          if (this.flaky && direction === "down" && awaitingResponse && random() < (options.dropResponseChance ?? 0)) {
            breakConnection("droppedResponses");
            return;
          }
          awaitingResponse = direction === "up";
          const room = this.flaky ? limit - carried : Infinity;
          const piece = data.byteLength > room ? data.subarray(0, Math.max(0, room)) : data;
          carried += piece.byteLength;
          this.stats[direction === "up" ? "bytesUp" : "bytesDown"] += piece.byteLength;
          if (piece !== data) {
            // Cut mid-stream: what fits goes out, then the connection dies.
            to.write(piece, () => breakConnection("cuts"));
            return;
          }
          if (!to.write(piece)) await Promise.race([once(to, "drain"), once(to, "close")]);
          from.resume();
        }).catch(() => {
          to.destroy();
        });
      });
      from.on("end", () => void queue.then(() => !broken && to.end()));
      from.on("error", () => to.destroy());
      // After the data still held back by a delay.
      from.on("close", () => void queue.then(() => to.destroy()));
    };
    forward(client, server, "up");
    forward(server, client, "down");
  }
}
