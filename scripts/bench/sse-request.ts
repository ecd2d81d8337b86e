// One streamed chat completion over HTTP or HTTPS with per-event arrival timestamps.
import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import type { StreamObservation } from "./stream-metrics.ts";

export interface Endpoint {
  url: string;
  headers?: Record<string, string>;
  /** PEM of the CA that signed the server certificate (HTTPS). */
  ca?: string;
}

interface Chunk {
  choices?: { delta?: { content?: string } }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
  timings?: StreamObservation["timings"];
}

export function streamChat(endpoint: Endpoint, body: object, timeoutMs: number): Promise<StreamObservation> {
  const url = new URL("/v1/chat/completions", endpoint.url);
  const payload = JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } });
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const contentTimes: number[] = [];
    let usage: Chunk["usage"];
    let timings: Chunk["timings"];
    let buffered = "";
    let done = false;
    let tDone = 0;
    const request = client.request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", ...endpoint.headers },
        ...(endpoint.ca ? { ca: endpoint.ca } : {}),
        timeout: timeoutMs,
      },
      (response) => {
        const tHdr = performance.now();
        if (response.statusCode !== 200) {
          reject(new Error(`${url.href}: HTTP ${response.statusCode}`));
          response.resume();
          return;
        }
        response.setEncoding("utf8");
        response.on("data", (text: string) => {
          const at = performance.now();
          buffered += text;
          let end: number;
          while ((end = buffered.indexOf("\n\n")) >= 0) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = event.replace(/^data: /, "");
            if (data === "[DONE]") {
              done = true;
              tDone = at;
              continue;
            }
            const chunk = JSON.parse(data) as Chunk;
            if (chunk.choices?.[0]?.delta?.content) contentTimes.push(at);
            if (chunk.usage) usage = chunk.usage;
            if (chunk.timings) timings = chunk.timings;
          }
        });
        response.on("end", () => {
          if (!done) return reject(new Error(`${url.href}: stream ended without [DONE]`));
          if (!usage) return reject(new Error(`${url.href}: no usage chunk`));
          resolve({
            t0,
            tHdr,
            contentTimes,
            tEnd: tDone,
            promptTokens: usage.prompt_tokens,
            completionTokens: usage.completion_tokens,
            ...(timings ? { timings } : {}),
          });
        });
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${url.href}: no progress for ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end(payload);
  });
}
