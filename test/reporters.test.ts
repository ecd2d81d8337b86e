// Reporters and masking: every format carries the same facts, and no format leaks the password.
import t from "tap";
import { Parser } from "tap-parser";
import type { CheckResult, Report } from "../src/core/check.ts";
import { secretForms, type Access } from "../src/core/access.ts";
import { createMasker, jsonForms, MASK } from "../src/core/secrets.ts";
import { FORMATS, parseReportOutput, render, renderMany } from "../src/reporters/index.ts";

const PASSWORD = 'p@ss"w\\rd$(x)';

const access: Access = {
  host: "198.51.100.7",
  httpsPort: 443,
  httpPort: 80,
  user: "copilot",
  password: PASSWORD,
  insecure: true,
  requestTimeoutMs: 1000,
  streamTimeoutMs: 1000,
  streamIdleTimeoutMs: 1000,
  maxTokens: 8,
  simulated: false,
};

function result(id: string, status: CheckResult["status"], evidence: object = {}): CheckResult {
  return {
    id,
    suite: id.split(".")[0] ?? "x",
    requirement: "SEC-02",
    title: `title of ${id} <&>`,
    status,
    duration_ms: 12,
    message: `message # of ${id}`,
    evidence: evidence as Record<string, unknown>,
  };
}

const basic = Buffer.from(`copilot:${PASSWORD}`).toString("base64");
const report: Report = {
  tool: { name: "slmc-check", version: "1.2.3" },
  target: {
    host: access.host,
    https_port: 443,
    http_port: 80,
    user: "copilot",
    tls_verification: "disabled (--insecure)",
    simulated: false,
  },
  started_at: "2026-01-01T00:00:00.000Z",
  finished_at: "2026-01-01T00:00:01.000Z",
  notes: ["--insecure: the TLS certificate is NOT verified in this run"],
  checks: [
    result("auth.a", "pass"),
    result("auth.b", "fail", { sentHeader: `Basic ${basic}`, echoed: PASSWORD }),
    result("cors.c", "skip"),
    result("cors.d", "error", { error: `Bearer ${PASSWORD}` }),
  ],
  summary: { passed: 1, failed: 1, skipped: 1, errored: 1 },
};

t.test("masking removes every form of the password from every format", async (t) => {
  const mask = createMasker(secretForms(access).flatMap(jsonForms));
  for (const format of FORMATS) {
    const text = mask(render(format, report, { color: false }));
    t.notOk(text.includes(PASSWORD), `${format}: raw password masked`);
    t.notOk(text.includes(JSON.stringify(PASSWORD).slice(1, -1)), `${format}: JSON-escaped password masked`);
    t.notOk(text.includes(basic), `${format}: Basic credentials masked`);
    t.ok(text.includes(MASK), `${format}: mask shown where a secret was`);
  }
});

t.test("TAP output is version 14 and parses with the right counts", async (t) => {
  const text = render("tap", report, { color: false });
  t.match(text, /^TAP version 14\n/);
  const parsed = await new Promise<{ ok: boolean; count: number; pass: number; fail: number; skip: number }>(
    (done) => {
      const parser = new Parser((r) => done(r as never));
      parser.end(text);
    },
  );
  t.equal(parsed.count, 4);
  t.equal(parsed.fail, 2, "fail and error are both not ok");
  t.equal(parsed.skip, 1);
  t.match(
    text,
    /not ok 2 - \[SEC-02\] auth\.b: title of auth\.b <&>\n {2}---\n {2}message: "message # of auth\.b"/,
  );
});

t.test("JUnit escapes XML and maps statuses", async (t) => {
  const text = render("junit", report, { color: false });
  t.match(text, /<testsuites name="slmc-check 1\.2\.3" tests="4" failures="1" errors="1" skipped="1"/);
  t.match(text, /title of auth\.a &lt;&amp;&gt;/);
  t.match(text, /<failure message="message # of auth\.b" type="SEC-02">/);
  t.match(text, /<error message="message # of cors\.d" type="observation-error">/);
  t.match(text, /<skipped message="message # of cors\.c"\/>/);
  t.notMatch(text, /<[^>]*<&>/, "no raw markup characters inside attributes");
});

t.test("JSON keeps the contract fields", async (t) => {
  const json = JSON.parse(render("json", report, { color: false })) as Report;
  t.same(Object.keys(json).sort(), [
    "checks",
    "finished_at",
    "notes",
    "started_at",
    "summary",
    "target",
    "tool",
  ]);
  t.same(Object.keys(json.checks[0] ?? {}).sort(), [
    "duration_ms",
    "evidence",
    "id",
    "message",
    "requirement",
    "status",
    "suite",
    "title",
  ]);
});

t.test("pretty output shows notes, evidence for failures, and the verdict", async (t) => {
  const text = render("pretty", report, { color: false });
  t.match(text, /note: --insecure/);
  t.match(text, /✗ SEC-02 +auth\.b/);
  t.match(text, /evidence: \{"sentHeader"/);
  t.match(text, /FAIL: 1 passed, 1 failed, 1 errored, 1 skipped/);
});

/** The demo's kind of run: simulated target, injected defects, a stand-in note spanning two lines. */
const noted: Report = {
  ...report,
  target: { ...report.target, simulated: true, tls_verification: "disabled (--insecure)" },
  notes: [
    "--insecure: the TLS certificate is NOT verified in this run",
    "defects injected: buffered-sse <&>",
    "stand-in engine detected\nnot LocalAI",
  ],
};

t.test(
  "JUnit carries the run's notes and facts in every testsuite: <properties> and <system-out>",
  async (t) => {
    const text = render("junit", noted, { color: false });
    const suites = text.split("<testsuite ").slice(1);
    t.equal(suites.length, 2, "one testsuite per slmc suite");
    for (const suite of suites) {
      const name = /^name="([^"]+)"/.exec(suite)?.[1];
      t.match(
        suite,
        /<property name="target\.tls_verification" value="disabled \(--insecure\)"\/>/,
        `${name}: TLS`,
      );
      t.match(suite, /<property name="target\.simulated" value="true"\/>/, `${name}: simulated`);
      t.match(
        suite,
        /<property name="note\.2" value="defects injected: buffered-sse &lt;&amp;&gt;"\/>/,
        `${name}: notes`,
      );
      t.match(
        suite,
        /<system-out>TLS verification: disabled \(--insecure\)\nSIMULATED target: not a real appliance\nnote: --insecure: the TLS certificate is NOT verified in this run\nnote: defects injected: buffered-sse &lt;&amp;&gt;\nnote: stand-in engine detected\nnot LocalAI<\/system-out>/,
        `${name}: system-out`,
      );
      // JUnit's schema orders a testsuite's children: properties, testcases, system-out (the testsuite's
      // own, indented once; a passing testcase has one of its own inside).
      const order = ["\n    <properties>", "\n    <testcase ", "\n    <system-out>"].map((tag) =>
        suite.indexOf(tag),
      );
      t.ok(
        order[0]! >= 0 && order[0]! < order[1]! && order[1]! < order[2]!,
        `${name}: properties, testcases, system-out`,
      );
      t.ok(suite.lastIndexOf("</testcase>") < order[2]!, `${name}: system-out after the last testcase`);
    }
    const plain = render("junit", { ...report, notes: [] }, { color: false });
    t.notMatch(plain, /SIMULATED|note\./, "no notes, no simulated target: none claimed");
  },
);

t.test("JUnit with no check still carries the notes", async (t) => {
  const empty: Report = { ...noted, checks: [], summary: { passed: 0, failed: 0, skipped: 0, errored: 0 } };
  const text = render("junit", empty, { color: false });
  t.match(text, /<testsuite name="slmc-check" tests="0"/);
  t.match(text, /<property name="note\.1" value="--insecure/);
  t.match(text, /<system-out>[^<]*note: defects injected/);
});

t.test("TAP carries the run's notes as comments, one per line, and still parses", async (t) => {
  const text = render("tap", noted, { color: false });
  const comments: string[] = [];
  const parsed = await new Promise<{ ok: boolean; count: number; fail: number }>((done) => {
    const parser = new Parser((r) => done(r as never));
    parser.on("comment", (line: string) => comments.push(line.trim()));
    parser.end(text);
  });
  t.equal(parsed.count, 4, "the notes add no test points");
  t.equal(parsed.fail, 2);
  for (const line of [
    "# TLS verification: disabled (--insecure)",
    "# note: SIMULATED target: not a real appliance",
    "# note: --insecure: the TLS certificate is NOT verified in this run",
    "# note: defects injected: buffered-sse <&>",
    "# note: stand-in engine detected",
    "# note: not LocalAI",
  ])
    t.ok(comments.includes(line), `comment: ${line}`);
  t.notMatch(render("tap", report, { color: false }), /SIMULATED/, "a real target is not called simulated");
});

t.test("renderMany: several formats at once, each the same text render() gives", async (t) => {
  const outputs = [
    parseReportOutput("junit:out/slmc.xml"),
    parseReportOutput("tap:out/slmc.tap"),
    parseReportOutput("json:out/slmc.json"),
    parseReportOutput("json:C:/archive/slmc.json"),
  ];
  t.same(outputs[3], { format: "json", file: "C:/archive/slmc.json" }, "only the first colon separates");
  const rendered = renderMany(noted, outputs, { color: false });
  t.same(
    rendered.map((r) => [r.format, r.file]),
    outputs.map((o) => [o.format, o.file]),
  );
  for (const r of rendered) t.equal(r.text, render(r.format, noted, { color: false }), `${r.file}`);
  t.throws(
    () => renderMany(noted, [parseReportOutput("json:a"), parseReportOutput("tap:a")], { color: false }),
    /"a" is named by two report outputs/,
  );
  t.throws(
    () => parseReportOutput("xml:out.xml"),
    /"xml:out\.xml": the format before ":" must be one of pretty, tap, junit, json, html/,
  );
  t.throws(() => parseReportOutput("junit"), /"junit": give the file after the format, as junit:FILE/);
  t.throws(() => parseReportOutput("junit:"), /give the file/);
});
