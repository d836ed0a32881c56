/**
 * Keeps the examples in docs/status.md true: each block between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` must equal what
 * the formatters print for the sample document. To refresh them after a
 * change: `UPDATE_DOCS=1 bun test src/status/docs_test.ts`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SAMPLE_NOW, sampleDocument } from "./_sample_document.ts";
import { metricCatalog } from "./metrics.ts";
import { renderStatus } from "./render.ts";
import { StatusDocumentSchema } from "./schema.ts";
import type { InstanceView } from "./view.ts";

const DOC_PATH = fileURLToPath(new URL("../../docs/status.md", import.meta.url));

async function blocks(): Promise<Record<string, string>> {
  const live: InstanceView = { doc: sampleDocument(), live: true, staleAgeS: null, unresponsive: false };
  const stale: InstanceView = { doc: { ...sampleDocument(), state: "stopping", forwards: [] }, live: false, staleAgeS: 312, unresponsive: false };
  const opts = { color: false, now: SAMPLE_NOW, single: true };
  const fence = (lang: string, body: string) => `\`\`\`${lang}\n${body}\`\`\``;
  return {
    table: fence("text", await renderStatus([live], "table", opts)),
    "table-stale": fence("text", (await renderStatus([stale], "table", opts)).split("\n").slice(0, 2).join("\n") + "\n"),
    json: fence("json", await renderStatus([live], "json", opts)),
    yaml: fence("yaml", await renderStatus([live], "yaml", opts)),
    openmetrics: fence("text", await renderStatus([live], "openmetrics", opts)),
  };
}

function replaceBlock(text: string, name: string, body: string): string {
  const open = `<!-- generated:${name} -->`;
  const close = `<!-- /generated:${name} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  if (start < 0 || end < start) throw new Error(`docs/status.md lacks the markers of block ${name}`);
  return `${text.slice(0, start + open.length)}\n${body}\n${text.slice(end)}`;
}

describe("docs/status.md", () => {
  it("shows examples that the formatters really print for the sample document", async () => {
    const text = readFileSync(DOC_PATH, "utf8");
    let want = text;
    for (const [name, body] of Object.entries(await blocks())) want = replaceBlock(want, name, body);
    if (process.env.UPDATE_DOCS === "1" && want !== text) writeFileSync(DOC_PATH, want);
    else assert.equal(text, want, "examples are out of date: run UPDATE_DOCS=1 bun test src/status/docs_test.ts");
  });

  it("documents every field of the status document", () => {
    const text = readFileSync(DOC_PATH, "utf8");
    type Node = { shape?: Record<string, Node>; unwrap?: () => Node; element?: Node };
    const objectOf = (n: Node): Record<string, Node> | undefined => n.shape ?? n.unwrap?.().shape ?? n.element?.shape;
    const fields = (shape: Record<string, Node>, prefix = ""): string[] =>
      Object.entries(shape).flatMap(([k, v]) => {
        const obj = objectOf(v);
        return [`${prefix}${k}`, ...(obj ? fields(obj, `${prefix}${k}${v.element ? "[]" : ""}.`) : [])];
      });
    const forwardFields = new Set(fields(StatusDocumentSchema.shape.forwards.element.shape as Record<string, Node>));
    const documented = fields(StatusDocumentSchema.shape as unknown as Record<string, Node>)
      // history[] repeats forwards[]; the docs say so once and list only its own fields.
      .filter((f) => !(f.startsWith("history[].") && forwardFields.has(f.slice("history[].".length))));
    for (const f of documented) {
      assert.ok(text.includes(`\`${f}\``), `docs/status.md does not document \`${f}\``);
    }
    for (const f of ["live", "stale_age_s", "unresponsive", "instances"]) assert.ok(text.includes(`\`${f}\``), f);
  });

  it("lists every metric with its type and meaning, and no metric the code does not expose", () => {
    const text = readFileSync(DOC_PATH, "utf8");
    const section = text.slice(text.indexOf("### Metric list"), text.indexOf("<!-- generated:openmetrics -->"));
    const rows = new Map([...section.matchAll(/^\| `(rdhpf_\w+)` \| (\w+) \| (.+) \|$/gm)].map((m) => [m[1]!, { type: m[2]!, meaning: m[3]! }]));
    // Sample names as scraped: a counter's with _total, an info's with _info.
    const scraped = metricCatalog().map((m) => ({ ...m, name: m.type === "counter" ? `${m.name}_total` : m.type === "info" ? `${m.name}_info` : m.name }));
    for (const m of scraped) {
      const row = rows.get(m.name);
      assert.ok(row, `docs/status.md's metric list lacks ${m.name}`);
      assert.equal(row.type, m.type, `type of ${m.name}`);
      assert.ok(row.meaning.trim().length > 10, `meaning of ${m.name}`);
    }
    assert.deepEqual([...rows.keys()].sort(), scraped.map((m) => m.name).sort(), "metrics documented but not exposed");
  });
});
