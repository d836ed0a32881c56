/**
 * The import direction of docs/architecture.md, enforced: calls and data
 * flow downward, cli → doctor → daemon → forward → the adapters (docker,
 * ssh, status, service, log) → process helpers → the leaves in src/ itself. A folder may import
 * only from folders below it; folders on the same level never import each
 * other, so there is no cycle between folders. A folder's public surface is
 * its `mod.ts` (as in Deno's standard library): an import from another folder
 * names that file, never a module behind it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = dirname(fileURLToPath(import.meta.url));

/** Level of each folder of src/ ("." is src/ itself); higher may import lower. */
const LEVELS: Record<string, number> = {
  cli: 50,
  doctor: 40,
  daemon: 30,
  forward: 20,
  docker: 10,
  ssh: 10,
  status: 10,
  service: 10,
  log: 10,
  process: 5,
  ".": 0,
};
/** The entry point sits in src/ but is the top of the graph. */
const ENTRY = "main.ts";

interface Edge { from: string; to: string; specifier: string }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "testdata" ? [] : sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") ? [p] : [];
  });
}

/** Relative imports of one file: static `from "…"`, side-effect `import "…"` and dynamic `import("…")`. */
export function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) found.push(m[1]!);
  return found;
}

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    relativeImports(readFileSync(file, "utf8"))
      .filter((s) => s.endsWith(".ts"))
      .map((specifier) => ({ from: relative(SRC, file), to: relative(SRC, resolve(dirname(file), specifier)), specifier })),
  );
}

const folderOf = (path: string) => (path.includes("/") ? path.slice(0, path.indexOf("/")) : ".");

describe("import direction of src/", () => {
  const all = edges();

  it("reads the imports of every module", () => {
    assert.deepEqual(relativeImports('import { a } from "./a.ts";\nimport type { B } from "../b/b.ts";\nimport "./side.ts";\nconst m = await import("./dyn.ts");'), ["./a.ts", "../b/b.ts", "./side.ts", "./dyn.ts"]);
    assert.ok(all.length > 100, `only ${all.length} imports found: the scan is broken`);
  });

  it("knows the level of every folder", () => {
    const unknown = [...new Set(all.flatMap((e) => [folderOf(e.from), folderOf(e.to)]))].filter((f) => !(f in LEVELS));
    assert.deepEqual(unknown, [], "a new folder: give it a level in LEVELS and in docs/architecture.md");
  });

  it("never imports upward or sideways between folders", () => {
    const wrong = all.filter((e) => {
      if (e.from === ENTRY) return false;
      const [a, b] = [folderOf(e.from), folderOf(e.to)];
      return a !== b && !(LEVELS[a]! > LEVELS[b]!);
    });
    assert.deepEqual(wrong.map((e) => `${e.from} → ${e.to}`), []);
  });

  it("enters another folder only through its mod.ts", () => {
    const behind = all.filter((e) => folderOf(e.to) !== "." && folderOf(e.from) !== folderOf(e.to) && !e.to.endsWith("/mod.ts"));
    assert.deepEqual(behind.map((e) => `${e.from} → ${e.to}`), [], "export it from the folder's mod.ts and import that");
  });

  it("keeps `_` modules internal to their folder", () => {
    const leaks = all.filter((e) => e.to.split("/").pop()!.startsWith("_") && folderOf(e.from) !== folderOf(e.to));
    assert.deepEqual(leaks.map((e) => `${e.from} → ${e.to}`), []);
  });
});
