// Every check passes against the healthy simulator, and each one really observed something.
import t from "tap";
import { SUITES } from "../suites/index.ts";
import { accessFor, runAgainst, simulator } from "./helpers.ts";

export const NOT_DEMONSTRABLE_WHEN_READY = "api.health-readiness";

t.test("every check passes against the healthy simulator", async (t) => {
  const sim = await simulator(t);
  const results = await runAgainst(accessFor(sim));
  const expected = SUITES.filter((s) => !s.requiresVm).flatMap((s) => s.checks.map((c) => c.id));
  t.same([...results.keys()], expected, "every registered check ran, in order");
  for (const result of results.values()) {
    if (result.id === NOT_DEMONSTRABLE_WHEN_READY) {
      // The engine is ready throughout: /health can only be judged during loading (test/defects.test.ts).
      t.equal(result.status, "skip", `${result.id}: ${result.message}`);
      t.match(result.message, /not demonstrated: the engine was ready throughout/);
      continue;
    }
    t.equal(result.status, "pass", `${result.id}: ${result.message}`);
    t.ok(Object.keys(result.evidence).length > 0, `${result.id} recorded evidence`);
    t.match(result.requirement, /^[A-Z]+-\d{2}$/, `${result.id} names a requirement`);
  }
});

t.test("checks that need the password skip, with the reason, when none is given", async (t) => {
  const sim = await simulator(t);
  const { password: _unused, ...withoutPassword } = accessFor(sim);
  const results = await runAgainst(withoutPassword);
  const bearer = results.get("auth.bearer-accepted");
  t.equal(bearer?.status, "skip");
  t.match(bearer?.message, /--password-file/);
  t.equal(results.get("auth.routes-require-credentials")?.status, "pass", "anonymous checks still run");
  t.equal(results.get("cors.headers-on-every-response")?.status, "pass");
});

t.test("--insecure accepts the self-signed certificate and says so", async (t) => {
  const sim = await simulator(t);
  const { ca: _ca, ...rest } = accessFor(sim, { insecure: true });
  const results = await runAgainst(rest, ["tls"]);
  const cert = results.get("tls.certificate");
  t.equal(cert?.status, "pass");
  t.match(cert?.message, /NOT verified.*--insecure/);
});

t.test("an untrusted certificate fails tls.certificate without --insecure", async (t) => {
  const sim = await simulator(t);
  const { ca: _ca, ...rest } = accessFor(sim);
  const results = await runAgainst(rest, ["tls"]);
  t.equal(results.get("tls.certificate")?.status, "fail");
  t.match(results.get("tls.certificate")?.message, /not trusted.*--ca FILE/);
});

t.test("a certificate that does not name the host fails", async (t) => {
  const sim = await simulator(t);
  const results = await runAgainst(accessFor(sim, { servername: "copilot.example.org" }), ["tls"]);
  t.equal(results.get("tls.certificate")?.status, "fail");
  t.match(results.get("tls.certificate")?.message, /do not include copilot\.example\.org/);
});
