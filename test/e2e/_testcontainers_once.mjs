// Testcontainers (Node) through rdhpf's Docker socket, with a wait strategy
// that makes ONE connection attempt to the mapped port: it passes only when
// the port is forwarded by the time the container start has returned.
// Usage: node _testcontainers_once.mjs IMAGE COUNT; prints one JSON line.
import net from "node:net";
import testcontainers from "testcontainers";
import { AbstractWaitStrategy } from "testcontainers/build/wait-strategies/wait-strategy.js";

const { GenericContainer } = testcontainers;

class OneConnectionAttempt extends AbstractWaitStrategy {
  async waitUntilReady(_container, boundPorts) {
    const port = boundPorts.getBinding(80);
    await new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("connect", () => { s.destroy(); resolve(); });
      s.once("error", (err) => reject(new Error(`one attempt on 127.0.0.1:${port}: ${err.message}`)));
    });
  }
}

const [image, count] = [process.argv[2], Number(process.argv[3] ?? 50)];
let passed = 0;
const failures = [];
for (let i = 0; i < count; i++) {
  try {
    const c = await new GenericContainer(image).withExposedPorts(80).withWaitStrategy(new OneConnectionAttempt()).start();
    passed++;
    await c.stop({ timeout: 0 });
  } catch (err) {
    failures.push(String(err?.message ?? err).slice(0, 300));
  }
}
console.log(JSON.stringify({ passed, count, failures: failures.slice(0, 5) }));
