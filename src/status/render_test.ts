import { describe, it } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { SAMPLE_NOW, sampleDocument } from "./_sample_document.ts";
import { renderStatus } from "./render.ts";
import type { StatusDocument } from "./schema.ts";
import { InstanceReportSchema, type InstanceView, StatusListReportSchema } from "./view.ts";

const live = (doc: StatusDocument = sampleDocument()): InstanceView => ({ doc, live: true, staleAgeS: null, unresponsive: false });
const stale = (doc: StatusDocument = sampleDocument()): InstanceView => ({ doc, live: false, staleAgeS: 90, unresponsive: false });
const opts = { color: false, now: SAMPLE_NOW };

const HOSTILE = "web\x1b[31m\n$(rm -rf /)\u009b2J\u202e\ud800 yes 0o17 \"q\" \\";
function hostileDoc(): StatusDocument {
  const doc = sampleDocument();
  doc.forwards[0]!.container_name = HOSTILE;
  doc.history[0]!.end_reason = HOSTILE;
  doc.last_error = HOSTILE;
  return doc;
}

describe("renderStatus json", () => {
  it("prints the one document, plus live/stale fields, for --host", async () => {
    const out = await renderStatus([stale()], "json", { ...opts, single: true });
    const parsed = InstanceReportSchema.parse(JSON.parse(out));
    assert.equal(parsed.host, "ssh://deploy@docker-01.example.internal");
    assert.equal(parsed.live, false);
    assert.equal(parsed.stale_age_s, 90);
    assert.equal(parsed.unresponsive, false);
  });

  it("prints { instances: [...] } without --host, even for one instance", async () => {
    const one = StatusListReportSchema.parse(JSON.parse(await renderStatus([live()], "json", { ...opts, single: false })));
    assert.equal(one.instances.length, 1);
    const none = StatusListReportSchema.parse(JSON.parse(await renderStatus([], "json", { ...opts, single: false })));
    assert.deepEqual(none.instances, []);
  });

  it("keeps every field of the status document unchanged", async () => {
    const doc = sampleDocument();
    const parsed = JSON.parse(await renderStatus([live(doc)], "json", { ...opts, single: true }));
    const { live: _l, stale_age_s: _s, unresponsive: _u, ...rest } = parsed;
    assert.deepEqual(rest, doc);
  });

  it("carries hostile strings losslessly yet without raw terminal controls", async () => {
    const out = await renderStatus([live(hostileDoc())], "json", { ...opts, single: true });
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    assert.equal(JSON.parse(out).forwards[0].container_name, HOSTILE);
  });

  it("writes one line per document when compact", async () => {
    const out = await renderStatus([live()], "json", { ...opts, single: false, compact: true });
    assert.equal(out.split("\n").length, 2);
    assert.ok(out.endsWith("}\n"));
  });

  it("refuses a single report of several instances (a caller bug)", async () => {
    await assert.rejects(renderStatus([live(), live()], "json", { ...opts, single: true }));
  });
});

describe("renderStatus yaml", () => {
  for (const single of [true, false]) {
    it(`parses back equal to the JSON (${single ? "--host" : "list"})`, async () => {
      const views = [live(hostileDoc()), stale()].slice(0, single ? 1 : 2);
      const fromYaml = YAML.parse(await renderStatus(views, "yaml", { ...opts, single }));
      const fromJson = JSON.parse(await renderStatus(views, "json", { ...opts, single }));
      assert.deepEqual(fromYaml, fromJson);
      (single ? InstanceReportSchema : StatusListReportSchema).parse(fromYaml);
    });
  }

  it("quotes strings that YAML 1.1 readers would take for booleans or numbers", async () => {
    const doc = sampleDocument();
    doc.forwards[0]!.container_name = "yes";
    doc.version = "0o17";
    const out = await renderStatus([live(doc)], "yaml", { ...opts, single: true });
    assert.match(out, /container_name: "yes"/);
    assert.match(out, /version: "0o17"/);
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  });
});

describe("renderStatus table and openmetrics", () => {
  it("delegates to the table formatter", async () => {
    assert.match(await renderStatus([live()], "table", { ...opts, single: false }), /^ssh:\/\/deploy@docker-01\.example\.internal {2}connected/);
  });
  it("delegates to the OpenMetrics formatter", async () => {
    assert.match(await renderStatus([live()], "openmetrics", { ...opts, single: false }), /\n# EOF\n$/);
  });
});
