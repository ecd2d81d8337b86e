// The gate's verdict: the policy's clauses judged against the evidence of one target. Pure: it reads
// no file and starts nothing; every clause points at the bundle file (and JSON pointer inside it)
// that holds what it measured. Evidence that is missing fails its clause.
import { z } from "zod";
import type { BenchReport } from "../bench/report.ts";
import type { CheckResult, Report } from "../core/check.ts";
import { benchFile, BUNDLE, jsonPointer } from "./layout.ts";
import type { Policy } from "./policy.ts";

export const VERDICT_SCHEMA_VERSION = 2;

/**
 * What the image says about its own build: /etc/slm-copilot/build-record.json, written by the appliance's
 * `service install` (appliance/appliance.sh write_build_record). An image cannot contain its own
 * checksum, so the record names its build id; the build manifest maps that id to the image's sha256.
 */
export const buildRecordSchema = z.looseObject({
  name: z.string().optional(),
  version: z.string(),
  build_id: z.string().nullable().optional(),
  built_at: z.string().optional(),
  profile: z.string().optional(),
  stand_ins: z.string().nullable().optional(),
  engine: z.looseObject({ version: z.string().optional(), sha256: z.string().optional() }).optional(),
  model: z.looseObject({ file: z.string().optional(), sha256: z.string().optional() }).optional(),
});
export type BuildRecord = z.infer<typeof buildRecordSchema>;

/** build.sh's out/manifest.json (scripts/lab.sh writes one beside the lab image): build id → image. */
export const buildManifestSchema = z.looseObject({
  name: z.string().optional(),
  version: z.string(),
  build_id: z.string().min(1),
  file: z.string().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "expected 64 lowercase hex digits" }),
  profile: z.string().optional(),
  stand_ins: z.string().nullable().optional(),
});
export type BuildManifest = z.infer<typeof buildManifestSchema>;

function parseJsonAs<T>(schema: z.ZodType<T>, text: string, what: string, source: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${source} is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new Error(
      `${what} ${source} is not ${what === "the build record" ? "a build record" : "build.sh's manifest.json"}: ${parsed.error.issues
        .map((i) => `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`)
        .join("; ")}`,
    );
  return parsed.data;
}

/** The build record as read from the VM (JSON text); the error names the source and the bad field. */
export function parseBuildRecord(text: string, source: string): BuildRecord {
  return parseJsonAs(buildRecordSchema, text, "the build record", source);
}

/** The build manifest (JSON text); the error names the source and the bad field. */
export function parseBuildManifest(text: string, source: string): BuildManifest {
  return parseJsonAs(buildManifestSchema, text, "the build manifest", source);
}

export interface GateInputs {
  /** `slmc-check <host>`: every suite. */
  checks?: Report;
  /** `slmc-check reboot <host> --count N`. */
  reboot?: Report;
  /** `slmc-check soak <host>` (its report carries `soak`: plan, figures, timeline). */
  soak?: Report;
  /** `slmc-check bench <host>`, one report per prompt set / run. */
  bench?: BenchReport[];
  build?: BuildRecord;
  /** `--build-manifest FILE`: the manifest of the build being released. */
  manifest?: BuildManifest;
  /** Why the gate run stopped before the end (a signal, its --deadline); absent for a complete run. */
  interrupted?: string;
}

export interface EvidencePointer {
  /** Relative to the bundle's root. */
  file: string;
  /** RFC 6901 pointer into that file's JSON ("" is the whole file). */
  pointer: string;
}

export type ClauseStatus = "pass" | "fail" | "waived";

export interface Clause {
  id: string;
  title: string;
  /** A failed clause that is not required is shown but does not fail the gate. */
  required: boolean;
  measured: string | number | null;
  threshold: string;
  status: ClauseStatus;
  /** What was found; for a failure, what to fix. */
  message: string;
  /** Null only when the evidence is missing (then the clause fails). */
  evidence: EvidencePointer | null;
}

export interface Verdict {
  schema_version: number;
  passed: boolean;
  policy: { name: string; sources: string[] };
  target: { host: string | null; simulated: boolean; stand_in: string | null };
  /** Why the run stopped early ("interrupted (SIGINT)", the deadline), or null: a complete run. */
  interrupted: string | null;
  /** The image the target was booted from: only when its build record's id is the manifest's. */
  image: { build_id: string; sha256: string; file: string | null; version: string } | null;
  summary: { clauses: number; passed: number; failed: number; waived: number; failed_required: number };
  clauses: Clause[];
}

type Draft = Omit<Clause, "required">;

const pointerTo = (file: string, ...path: (string | number)[]): EvidencePointer => ({
  file,
  pointer: jsonPointer(...path),
});

function missing(id: string, title: string, threshold: string, fix: string): Draft {
  return {
    id,
    title,
    measured: null,
    threshold,
    status: "fail",
    message: `no evidence: ${fix}`,
    evidence: null,
  };
}

const indexed = (report: Report, test: (c: CheckResult) => boolean) =>
  report.checks.flatMap((check, index) => (test(check) ? [{ check, index }] : []));

// --- checks ------------------------------------------------------------------------------------------

function checkClauses(policy: NonNullable<Policy["checks"]>, report: Report | undefined): Draft[] {
  if (!report)
    return [
      missing("checks", "required checks pass", "pass", "no check report; run `slmc-check <host>` with SSH"),
    ];
  const out: Draft[] = [];
  const seen = new Set<string>();
  const waiverFor = (c: CheckResult) =>
    policy.waivers.find((w) => w.check === c.id || w.check === c.requirement);
  for (const selector of policy.must_pass) {
    const matched = indexed(report, (c) => c.id === selector || c.requirement === selector);
    if (!matched.length) {
      out.push({
        ...missing(
          `checks.${selector}`,
          `${selector} passes`,
          "pass",
          `the check report has no check with id or requirement ${selector}; run every suite (no --suite filter) with SSH access`,
        ),
        evidence: pointerTo(BUNDLE.checksJson, "checks"),
      });
      continue;
    }
    for (const { check, index } of matched) {
      if (seen.has(check.id)) continue;
      seen.add(check.id);
      const base = {
        id: `checks.${check.id}`,
        title: `[${check.requirement}] ${check.title}`,
        measured: check.status,
        threshold: "pass",
        evidence: pointerTo(BUNDLE.checksJson, "checks", index),
      };
      if (check.status === "pass") out.push({ ...base, status: "pass", message: check.message });
      else if (check.status === "skip") {
        const waiver = waiverFor(check);
        out.push(
          waiver
            ? { ...base, status: "waived", message: `skipped (${check.message}); waived: ${waiver.reason}` }
            : {
                ...base,
                status: "fail",
                message: `skipped (${check.message}): a required check must run; give it what it needs, or waive it in the policy (checks.waivers: check ${check.id}, with a reason)`,
              },
        );
      } else out.push({ ...base, status: "fail", message: `${check.status}: ${check.message}` });
    }
  }
  if (report.interrupted)
    out.push({
      id: "checks.complete",
      title: "the check run was not interrupted",
      measured: "interrupted",
      threshold: "complete run",
      status: "fail",
      message: "the check run was interrupted; run it again to the end",
      evidence: pointerTo(BUNDLE.checksJson, "interrupted"),
    });
  return out;
}

// --- reboot cycles ----------------------------------------------------------------------------------

function cycleDraft(file: string, check: CheckResult, index: number, id: string): Draft {
  const drift = Array.isArray(check.evidence.drift) ? (check.evidence.drift as unknown[]).map(String) : null;
  const base = {
    id,
    title: `${check.id}: new boot, ready again, zero drift`,
    threshold: "pass with 0 drift items",
    evidence: pointerTo(file, "checks", index, ...(drift ? ["evidence", "drift"] : [])),
  };
  if (drift === null)
    return {
      ...base,
      measured: check.status,
      status: "fail",
      message: `no drift comparison recorded (${check.status}: ${check.message})`,
    };
  if (drift.length)
    return {
      ...base,
      measured: drift.length,
      status: "fail",
      message: `${drift.length} item(s) drifted across the reboot: ${drift.slice(0, 3).join("; ")}; configure must render the same files and state on every boot`,
    };
  if (check.status !== "pass")
    return { ...base, measured: check.status, status: "fail", message: `${check.status}: ${check.message}` };
  return { ...base, measured: 0, status: "pass", message: check.message };
}

function rebootClauses(policy: NonNullable<Policy["reboot"]>, report: Report | undefined): Draft[] {
  const title = `${policy.cycles} reboot cycle(s) with zero drift`;
  if (!report)
    return [
      missing(
        "reboot.cycles",
        title,
        `≥ ${policy.cycles}`,
        `no reboot report; run \`slmc-check reboot <host> --count ${policy.cycles}\``,
      ),
    ];
  const cycles = indexed(report, (c) => /^reboot\.cycle-\d+$/.test(c.id));
  const clean = cycles.filter(
    ({ check }) =>
      check.status === "pass" && Array.isArray(check.evidence.drift) && check.evidence.drift.length === 0,
  );
  return [
    {
      id: "reboot.cycles",
      title,
      measured: clean.length,
      threshold: `≥ ${policy.cycles}`,
      status: clean.length >= policy.cycles ? "pass" : "fail",
      message:
        clean.length >= policy.cycles
          ? `${clean.length} of ${cycles.length} cycle(s) came back ready with nothing drifted`
          : `${clean.length} clean cycle(s) of ${cycles.length} run, ${policy.cycles} needed; run \`slmc-check reboot <host> --count ${policy.cycles}\` and fix each failing cycle`,
      evidence: pointerTo(BUNDLE.rebootJson, "checks"),
    },
    ...cycles.map(({ check, index }) => cycleDraft(BUNDLE.rebootJson, check, index, check.id)),
  ];
}

// --- soak ---------------------------------------------------------------------------------------------

interface SoakSection {
  plan?: { reboots?: number; killEvery?: number; loadStreams?: number };
  figures?: { cyclesPlanned?: number; cyclesCompleted?: number };
}

function soakClauses(policy: NonNullable<Policy["soak"]>, report: Report | undefined): Draft[] {
  const wanted = `reboots ≥ ${policy.reboots}, kills every ≤ ${policy.kill_every} cycle(s), load streams ≥ ${policy.load_streams}`;
  const run = `\`slmc-check soak <host> --reboots ${policy.reboots} --kill-every ${policy.kill_every} --load ${policy.load_streams}\``;
  const section = report?.soak as SoakSection | undefined;
  if (!report || !section?.plan)
    return [missing("soak.plan", "the soak ran as planned", wanted, `no soak report; run ${run}`)];
  const plan = section.plan;
  const planOk =
    (plan.reboots ?? 0) >= policy.reboots &&
    (plan.killEvery ?? 0) >= 1 &&
    (plan.killEvery ?? Infinity) <= policy.kill_every &&
    (plan.loadStreams ?? 0) >= policy.load_streams;
  const measuredPlan = `reboots ${plan.reboots ?? "?"}, kill every ${plan.killEvery ?? "?"}, load ${plan.loadStreams ?? "?"}`;
  const failed = indexed(report, (c) => c.status !== "pass");
  const steps = report.checks.length;
  const completed = section.figures?.cyclesCompleted ?? 0;
  const stepsOk = !failed.length && !report.interrupted && steps > 0;
  const first = failed[0];
  return [
    {
      id: "soak.plan",
      title: "the soak ran at least the policy's plan",
      measured: measuredPlan,
      threshold: wanted,
      status: planOk ? "pass" : "fail",
      message: planOk ? "plan as required" : `the soak ran a smaller plan than the policy asks; run ${run}`,
      evidence: pointerTo(BUNDLE.soakJson, "soak", "plan"),
    },
    {
      id: "soak.steps",
      title: "every soak step (kill -9 recovery, reboot cycle, load) passed",
      measured: `${steps - failed.length} of ${steps} passed, ${completed} reboot cycle(s) completed`,
      threshold: "all passed, not interrupted",
      status: stepsOk ? "pass" : "fail",
      message: stepsOk
        ? `${steps} steps passed`
        : report.interrupted
          ? "the soak was interrupted; run it to the end"
          : first
            ? `${failed.length} step(s) did not pass; first ${first.check.id}: ${first.check.status}: ${first.check.message}`
            : "the soak report has no steps",
      evidence: first
        ? pointerTo(BUNDLE.soakJson, "checks", first.index)
        : pointerTo(BUNDLE.soakJson, "checks"),
    },
  ];
}

// --- bench ----------------------------------------------------------------------------------------------

function benchClauses(policy: NonNullable<Policy["bench"]>, reports: BenchReport[]): Draft[] {
  return policy.levels.flatMap((level) => {
    const tag = `bench.${level.prompt_set}.c${level.concurrency}`;
    const run = `run \`slmc-check bench <host> --prompt-set ${level.prompt_set} --concurrency ${level.concurrency}\``;
    const decodeThreshold = `p50 ≥ ${level.decode_tok_s_p50} tok/s`;
    const ttftThreshold = `p90 ≤ ${level.ttft_p90_ms} ms`;
    const decodeTitle = `decode tok/s at concurrency ${level.concurrency}, prompt set ${level.prompt_set}`;
    const ttftTitle = `time to first token at concurrency ${level.concurrency}, prompt set ${level.prompt_set}`;
    let found: { file: string; levelIndex: number; report: BenchReport } | undefined;
    reports.forEach((report, index) => {
      if (report.plan.prompt_set !== level.prompt_set) return;
      const levelIndex = report.levels.findIndex((l) => l.aggregate.concurrency === level.concurrency);
      if (levelIndex >= 0) found = { file: benchFile(report, index, "json"), levelIndex, report };
    });
    if (!found) {
      const fix = `no bench level at concurrency ${level.concurrency} with prompt set ${level.prompt_set}; ${run}`;
      return [
        missing(`${tag}.decode_tok_s_p50`, decodeTitle, decodeThreshold, fix),
        missing(`${tag}.ttft_p90_ms`, ttftTitle, ttftThreshold, fix),
      ];
    }
    const { file, levelIndex, report } = found;
    const aggregate = report.levels[levelIndex]!.aggregate;
    const failedNote = aggregate.failed
      ? ` (${aggregate.failed} of ${aggregate.attempted} requests failed)`
      : "";
    const judge = (
      metric: "decode_tok_s" | "ttft_ms",
      stat: "p50" | "p90",
      title: string,
      threshold: string,
      holds: (v: number) => boolean,
      fix: string,
    ): Draft => {
      const id = `${tag}.${metric === "decode_tok_s" ? "decode_tok_s_p50" : "ttft_p90_ms"}`;
      const value = aggregate.distributions[metric]?.[stat];
      const evidence = pointerTo(file, "levels", levelIndex, "aggregate", "distributions", metric, stat);
      if (typeof value !== "number")
        return {
          ...missing(
            id,
            title,
            threshold,
            `the bench level has no ${metric} (no request completed)${failedNote}; ${run}`,
          ),
          evidence: pointerTo(file, "levels", levelIndex, "aggregate"),
        };
      const ok = holds(value) && aggregate.failed === 0;
      return {
        id,
        title,
        measured: value,
        threshold,
        status: ok ? "pass" : "fail",
        message: ok
          ? `${metric} ${stat} ${value} over ${aggregate.completed} request(s)`
          : holds(value)
            ? `${metric} ${stat} ${value} holds, but${failedNote}: every request of a gated level must complete`
            : `${metric} ${stat} ${value}${failedNote}: ${fix}`,
        evidence,
      };
    };
    return [
      judge(
        "decode_tok_s",
        "p50",
        decodeTitle,
        decodeThreshold,
        (v) => v >= level.decode_tok_s_p50,
        `below ${level.decode_tok_s_p50} tok/s; check the VM's CPU (AVX2, cores, NUMA), the model's quantisation and the engine's threads`,
      ),
      judge(
        "ttft_ms",
        "p90",
        ttftTitle,
        ttftThreshold,
        (v) => v <= level.ttft_p90_ms,
        `above ${level.ttft_p90_ms} ms; check prefill speed, prompt caching and the engine's parallel slots at this concurrency`,
      ),
    ];
  });
}

// --- recovery and boot timings --------------------------------------------------------------------------

interface Timing {
  value: number | null;
  from: string;
  evidence: EvidencePointer;
}

function timings(sources: [string, Report | undefined][], id: RegExp, key: string): Timing[] {
  return sources.flatMap(([file, report]) =>
    report
      ? indexed(report, (c) => id.test(c.id)).map(({ check, index }) => {
          const raw = check.evidence[key];
          return {
            value: typeof raw === "number" ? raw : null,
            from: check.id,
            evidence: pointerTo(file, "checks", index, "evidence", key),
          };
        })
      : [],
  );
}

function worstTiming(
  id: string,
  title: string,
  limit: number,
  samples: Timing[],
  what: string,
  fix: string,
  howToMeasure: string,
): Draft {
  const threshold = `≤ ${limit} s`;
  if (!samples.length) return missing(id, title, threshold, howToMeasure);
  const never = samples.find((s) => s.value === null);
  if (never)
    return {
      id,
      title,
      measured: null,
      threshold,
      status: "fail",
      message: `${never.from}: ${what} never measured (it did not come back within its budget); ${fix}`,
      evidence: never.evidence,
    };
  const worst = samples.reduce((a, b) => ((b.value ?? 0) > (a.value ?? 0) ? b : a));
  const value = worst.value ?? 0;
  return {
    id,
    title,
    measured: value,
    threshold,
    status: value <= limit ? "pass" : "fail",
    message:
      value <= limit
        ? `worst of ${samples.length}: ${value} s (${worst.from})`
        : `${worst.from}: ${value} s, over ${limit} s; ${fix}`,
    evidence: worst.evidence,
  };
}

function recoveryClauses(policy: NonNullable<Policy["recovery"]>, inputs: GateInputs): Draft[] {
  const sources: [string, Report | undefined][] = [
    [BUNDLE.checksJson, inputs.checks],
    [BUNDLE.soakJson, inputs.soak],
  ];
  return (["local-ai", "nginx"] as const).map((unit) =>
    worstTiming(
      `recovery.${unit}`,
      `after kill -9 of ${unit}, authenticated completions work again`,
      policy.max_seconds,
      timings(
        sources,
        new RegExp(`^(system\\.recovery|soak\\.cycle-\\d+\\.kill)-${unit}$`),
        "secondsToServingOverHttps",
      ),
      "recovery",
      `the unit must restart on its own (Restart=always, a short RestartSec) and the engine load the model faster`,
      `no kill -9 recovery of ${unit} was measured; run \`slmc-check <host>\` with SSH and a password (system suite) or the soak with --kill-every`,
    ),
  );
}

function bootClauses(policy: NonNullable<Policy["boot"]>, inputs: GateInputs): Draft[] {
  const sources: [string, Report | undefined][] = [
    [BUNDLE.rebootJson, inputs.reboot],
    [BUNDLE.soakJson, inputs.soak],
  ];
  return [
    worstTiming(
      "boot.to-ready",
      "from reboot to bootstrap_success",
      policy.max_seconds_to_ready,
      timings(sources, /^(reboot\.cycle-\d+|soak\.cycle-\d+\.reboot)$/, "secondsToReady"),
      "boot-to-ready",
      "make boot faster (configure and bootstrap on every boot, the model load) or find what blocks readiness in the appliance log",
      "no reboot was measured; run `slmc-check reboot <host>` or the soak",
    ),
  ];
}

// --- appliance identity -------------------------------------------------------------------------------

/** The build record's id is the manifest's: then the manifest's image is the one the VM booted. */
function imageOf(inputs: GateInputs): Verdict["image"] {
  const { build, manifest } = inputs;
  if (!build?.build_id || !manifest || build.build_id !== manifest.build_id) return null;
  return {
    build_id: manifest.build_id,
    sha256: manifest.sha256,
    file: manifest.file ?? null,
    version: manifest.version,
  };
}

function buildIdClause(build: BuildRecord, manifest: BuildManifest | undefined): Draft {
  const base = {
    id: "appliance.build-id",
    title: "the VM runs the image of the build being released (build id)",
    threshold: manifest ? manifest.build_id : "the build manifest's build id",
  };
  if (!manifest)
    return missing(
      base.id,
      base.title,
      base.threshold,
      "no build manifest: pass --build-manifest with build.sh's out/manifest.json (or the lab image's manifest.json)",
    );
  const id = build.build_id ?? null;
  const ok = id === manifest.build_id;
  return {
    ...base,
    measured: id,
    status: ok ? "pass" : "fail",
    message: ok
      ? `build ${id}: image ${manifest.file ?? "(file not named)"} sha256 ${manifest.sha256}`
      : id === null
        ? "the build record carries no build id: the image was not built by build.sh (SLMC_BUILD_ID unset); rebuild it"
        : `the VM was built as ${id}, the manifest is of build ${manifest.build_id}: boot the image this manifest describes (or pass that image's manifest)`,
    evidence: pointerTo(BUNDLE.buildRecord, "build_id"),
  };
}

function applianceClauses(
  policy: NonNullable<Policy["appliance"]>,
  inputs: GateInputs,
  standInPolicy: string | undefined,
): Draft[] {
  const { build, manifest } = inputs;
  const versionTitle = "the appliance version is the one released";
  const imageTitle = "the image is the one released (sha256 pinned by the policy)";
  const out: Draft[] = [];
  const fix = `no build record was read from the VM (/etc/slm-copilot/build-record.json, written at image build); give the gate SSH access, or rebuild the image with build.sh`;
  if (!build) {
    out.push(missing("appliance.version", versionTitle, policy.version, fix));
    out.push(
      missing(
        "appliance.build-id",
        "the VM runs the image of the build being released (build id)",
        manifest?.build_id ?? "the build manifest's build id",
        fix,
      ),
    );
    if (policy.image_sha256)
      out.push(missing("appliance.image-sha256", imageTitle, policy.image_sha256, fix));
    return out;
  }
  out.push({
    id: "appliance.version",
    title: versionTitle,
    measured: build.version,
    threshold: policy.version,
    status: build.version === policy.version ? "pass" : "fail",
    message:
      build.version === policy.version
        ? `version ${build.version}`
        : `the VM was built as version ${build.version}, the policy releases ${policy.version}: gate the image that is being released (or update the policy)`,
    evidence: pointerTo(BUNDLE.buildRecord, "version"),
  });
  const standIns = build.stand_ins
    ? build.stand_ins
    : build.profile && build.profile !== "release"
      ? `profile ${build.profile}`
      : null;
  out.push({
    id: "appliance.release-build",
    title: "the image is a release build, not built from stand-ins",
    measured: standIns ?? build.profile ?? "release",
    threshold:
      standIns && standInPolicy !== undefined
        ? "stand-ins accepted (lab policy)"
        : "release profile, no stand-ins",
    status: !standIns || standInPolicy !== undefined ? "pass" : "fail",
    message: !standIns
      ? "built with the release inputs"
      : standInPolicy !== undefined
        ? `stand-in build (${standIns}), accepted by a lab policy: ${standInPolicy}`
        : `the image was built with stand-ins (${standIns}): build it with packer/release/release.env's verified inputs`,
    evidence: pointerTo(
      BUNDLE.buildRecord,
      build.stand_ins ? "stand_ins" : build.profile ? "profile" : "version",
    ),
  });
  const tie = buildIdClause(build, manifest);
  out.push(tie);
  if (policy.image_sha256) {
    const image = imageOf(inputs);
    const sum = image?.sha256 ?? null;
    out.push({
      id: "appliance.image-sha256",
      title: imageTitle,
      measured: sum,
      threshold: policy.image_sha256,
      status: sum === policy.image_sha256 ? "pass" : "fail",
      message:
        sum === policy.image_sha256
          ? "image checksum matches"
          : sum === null
            ? `the VM's image is not tied to a manifest (${tie.message}), so its sha256 is unknown`
            : `the VM booted the image with sha256 ${sum} (build ${image?.build_id}), not the pinned one: boot the released image, or pin this build's sha256`,
      evidence: sum === null ? tie.evidence : pointerTo(BUNDLE.buildManifest, "sha256"),
    });
  }
  return out;
}

// --- the target itself -------------------------------------------------------------------------------------

function targetClause(policy: Policy, inputs: GateInputs): Draft {
  const seen: { file: string; host: string; simulated: boolean }[] = [];
  for (const [file, report] of [
    [BUNDLE.checksJson, inputs.checks],
    [BUNDLE.rebootJson, inputs.reboot],
    [BUNDLE.soakJson, inputs.soak],
  ] as const)
    if (report) seen.push({ file, host: report.target.host, simulated: report.target.simulated });
  (inputs.bench ?? []).forEach((report, index) =>
    seen.push({
      file: benchFile(report, index, "json"),
      host: report.target.host,
      simulated: report.target.simulated,
    }),
  );
  const hosts = [...new Set(seen.map((s) => s.host))];
  const simulated = seen.find((s) => s.simulated);
  const base = {
    id: "target",
    title: "all evidence is from one real target",
    threshold: policy.stand_in ? "one host (a lab stand-in)" : "one host, not simulated",
  };
  if (!seen.length) return missing(base.id, base.title, base.threshold, "no report at all");
  if (hosts.length > 1) {
    const odd = seen.find((s) => s.host !== seen[0]!.host)!;
    return {
      ...base,
      measured: hosts.join(", "),
      status: "fail",
      message: `the reports are from different hosts (${hosts.join(", ")}): gate one appliance's evidence`,
      evidence: pointerTo(odd.file, "target"),
    };
  }
  if (simulated && !policy.stand_in)
    return {
      ...base,
      measured: "simulated",
      status: "fail",
      message: `${simulated.file} is from the simulated appliance: gate a real appliance VM`,
      evidence: pointerTo(simulated.file, "target"),
    };
  return {
    ...base,
    measured: hosts[0]!,
    status: "pass",
    message: policy.stand_in ? `lab stand-in: ${policy.stand_in}` : `every report is from ${hosts[0]}`,
    evidence: pointerTo(seen[0]!.file, "target"),
  };
}

// --- the verdict -----------------------------------------------------------------------------------------

export function evaluate(policy: Policy, inputs: GateInputs, sources: string[] = []): Verdict {
  const groups: [boolean, Draft[]][] = [[true, [targetClause(policy, inputs)]]];
  if (inputs.interrupted !== undefined)
    groups.push([
      true,
      [
        {
          id: "gate.complete",
          title: "the gate ran to the end",
          measured: "interrupted",
          threshold: "complete run",
          status: "fail",
          message: `${inputs.interrupted}: what ran is in this bundle, the rest is missing evidence; run the gate again to the end`,
          evidence: pointerTo(BUNDLE.verdictJson, "interrupted"),
        },
      ],
    ]);
  if (policy.appliance)
    groups.push([policy.appliance.required, applianceClauses(policy.appliance, inputs, policy.stand_in)]);
  if (policy.checks) groups.push([policy.checks.required, checkClauses(policy.checks, inputs.checks)]);
  if (policy.reboot) groups.push([policy.reboot.required, rebootClauses(policy.reboot, inputs.reboot)]);
  if (policy.soak) groups.push([policy.soak.required, soakClauses(policy.soak, inputs.soak)]);
  if (policy.bench) groups.push([policy.bench.required, benchClauses(policy.bench, inputs.bench ?? [])]);
  if (policy.recovery) groups.push([policy.recovery.required, recoveryClauses(policy.recovery, inputs)]);
  if (policy.boot) groups.push([policy.boot.required, bootClauses(policy.boot, inputs)]);
  const clauses: Clause[] = groups.flatMap(([required, drafts]) => drafts.map((d) => ({ ...d, required })));
  const count = (status: ClauseStatus) => clauses.filter((c) => c.status === status).length;
  const failedRequired = clauses.filter((c) => c.required && c.status === "fail").length;
  const host =
    inputs.checks?.target.host ??
    inputs.reboot?.target.host ??
    inputs.soak?.target.host ??
    inputs.bench?.[0]?.target.host ??
    null;
  const simulated = [inputs.checks, inputs.reboot, inputs.soak, ...(inputs.bench ?? [])].some(
    (r) => r?.target.simulated === true,
  );
  return {
    schema_version: VERDICT_SCHEMA_VERSION,
    passed: failedRequired === 0,
    policy: { name: policy.name, sources },
    target: { host, simulated, stand_in: policy.stand_in ?? null },
    interrupted: inputs.interrupted ?? null,
    image: imageOf(inputs),
    summary: {
      clauses: clauses.length,
      passed: count("pass"),
      failed: count("fail"),
      waived: count("waived"),
      failed_required: failedRequired,
    },
    clauses,
  };
}

/** The gate's exit code: 0 only when every required clause holds. */
export function verdictExitCode(verdict: Verdict): 0 | 1 {
  return verdict.passed ? 0 : 1;
}
