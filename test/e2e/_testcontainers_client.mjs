// Testcontainers for Node, used as its users use it, in a Node process of its
// own (it reads its configuration from the environment once per process).
// Starts argv[2] with port 80 exposed and an HTTP wait strategy, fetches
// getHost():getMappedPort(80), stops the container, and prints one JSON line
// with what it saw, including every address this process dialed.
import net from "node:net";

/** Every connect() of this process: "unix:<path>" or "tcp:<host>:<port>". */
const dialed = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() passes its normalised [options, callback] as one array.
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === "object" && first !== null) dialed.push(first.path ? `unix:${first.path}` : `tcp:${first.host ?? "localhost"}:${first.port}`);
  else if (typeof first === "string" && !/^\d+$/.test(first)) dialed.push(`unix:${first}`);
  else dialed.push(`tcp:${typeof args[1] === "string" ? args[1] : "localhost"}:${first}`);
  return connect.apply(this, args);
};

const { GenericContainer, Wait } = await import("testcontainers");
const image = process.argv[2];
const started = Date.now();
const container = await new GenericContainer(image)
  .withExposedPorts(80)
  .withWaitStrategy(Wait.forHttp("/", 80))
  .withStartupTimeout(30_000)
  .start();
const startMs = Date.now() - started;
const host = container.getHost();
const port = container.getMappedPort(80);
const res = await fetch(`http://${host}:${port}/`);
const body = await res.text();
await container.stop();
console.log(JSON.stringify({ host, port, status: res.status, body, id: container.getId(), startMs, dialed }));
