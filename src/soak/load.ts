// The soak's light streaming load: N closed-loop workers, each sending one streamed chat completion
// after another, recording every outcome with its start and end time on the soak timeline. Failures
// are judged later against the disruptions the soak caused (suites/soak.ts).
import type { CheckContext } from "../core/check.ts";
import { authorization, chatBody, modelId, SHORT_PROMPT } from "../core/requests.ts";
import type { LoadSample, SoakTimeline } from "./timeline.ts";

/** Short enough that a stream cut by a reboot is noticed quickly; long enough for a CPU engine's first token. */
const REQUEST_TIMEOUT_MS = 120_000;
const IDLE_TIMEOUT_MS = 30_000;
const PAUSE_AFTER_FAILURE_MS = 2_000;
const PAUSE_BETWEEN_REQUESTS_MS = 500;
/** On stop, requests still in flight get this long before they are left out of the sample. */
const STOP_GRACE_MS = 5_000;

export interface RunningLoad {
  /** Stops sending; resolves when in-flight requests ended or the grace period passed. */
  stop(): Promise<void>;
  readonly streams: number;
  readonly startError: string | null;
}

const sleep = (ms: number) => new Promise((wait) => setTimeout(wait, ms));

function contentChunks(events: { data: string }[]): number {
  return events.filter((event) => {
    if (event.data === "[DONE]") return false;
    try {
      const content = (JSON.parse(event.data) as { choices?: { delta?: { content?: string } }[] })
        .choices?.[0]?.delta?.content;
      return typeof content === "string" && content.length > 0;
    } catch {
      return false;
    }
  }).length;
}

async function oneRequest(ctx: CheckContext, model: string, timeline: SoakTimeline): Promise<LoadSample> {
  const startMs = timeline.now();
  try {
    const observation = await ctx.probes.sse({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...authorization(ctx), "content-type": "application/json", accept: "text/event-stream" },
      body: chatBody(ctx, model, SHORT_PROMPT, true),
      timeoutMs: REQUEST_TIMEOUT_MS,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
    });
    const done = observation.events.some((event) => event.data === "[DONE]");
    const chunks = contentChunks(observation.events);
    const ok = observation.status === 200 && done && chunks > 0 && !observation.streamError;
    return {
      startMs,
      endMs: timeline.now(),
      ok,
      status: observation.status,
      contentChunks: chunks,
      error: ok
        ? null
        : observation.streamError
          ? `stream broke: ${observation.streamError.kind}: ${observation.streamError.message}`
          : observation.status !== 200
            ? `HTTP ${observation.status}`
            : done
              ? "no content chunks"
              : "stream ended without [DONE]",
    };
  } catch (error) {
    return {
      startMs,
      endMs: timeline.now(),
      ok: false,
      status: 0,
      contentChunks: 0,
      error: (error as Error).message,
    };
  }
}

export async function startLoad(
  ctx: CheckContext,
  streams: number,
  timeline: SoakTimeline,
): Promise<RunningLoad> {
  if (streams === 0) return { stop: async () => undefined, streams, startError: null };
  let model: string;
  try {
    model = await modelId(ctx);
  } catch (error) {
    return {
      stop: async () => undefined,
      streams,
      startError: `could not learn the model id: ${(error as Error).message}`,
    };
  }
  let stopping = false;
  const worker = async () => {
    while (!stopping) {
      const sample = await oneRequest(ctx, model, timeline);
      // Whatever ends after the stop (often cut short by it) is left out: the verdict has been taken.
      if (stopping) return;
      timeline.load.push(sample);
      await sleep(sample.ok ? PAUSE_BETWEEN_REQUESTS_MS : PAUSE_AFTER_FAILURE_MS);
    }
  };
  const workers = Array.from({ length: streams }, () => worker());
  return {
    streams,
    startError: null,
    stop: async () => {
      stopping = true;
      await Promise.race([Promise.all(workers), sleep(STOP_GRACE_MS)]);
    },
  };
}
