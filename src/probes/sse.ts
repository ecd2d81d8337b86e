// Reads a Server-Sent Events response, stamping each event with the arrival time of the bytes that
// completed it. Parsing uses eventsource-parser; nothing here judges the stream.
import { createParser } from "eventsource-parser";
import { httpRequest, StopReading, type HttpRequest, type HttpResponse } from "./http.ts";
import { MAX_SSE_EVENTS, SseBounds } from "./sse-limits.ts";

const PREVIEW_BYTES = 2000;

export interface SseEvent {
  data: string;
  event?: string;
  arrivedAt: number;
}

export interface SseObservation {
  status: number;
  headers: Record<string, string>;
  events: SseEvent[];
  comments: number;
  timings: HttpResponse["timings"];
  streamError?: HttpResponse["streamError"];
  /** The raw body when the response was not an event stream (e.g. a JSON error). */
  nonStreamBody?: string;
}

export async function readSse(request: Omit<HttpRequest, "onBody">): Promise<SseObservation> {
  const events: SseEvent[] = [];
  let comments = 0;
  let arrivedAt = 0;
  const decoder = new TextDecoder();
  const bounds = new SseBounds();
  const preview: Buffer[] = [];
  let previewBytes = 0;
  const parser = createParser({
    onEvent: (event) => {
      if (events.length >= MAX_SSE_EVENTS)
        throw new StopReading("too-large", `more than ${MAX_SSE_EVENTS} events in one stream`);
      events.push({ data: event.data, ...(event.event ? { event: event.event } : {}), arrivedAt });
    },
    onComment: () => {
      comments++;
    },
  });
  const response = await httpRequest({
    ...request,
    keepBody: false,
    onBody: (bytes, at) => {
      arrivedAt = at;
      if (previewBytes < PREVIEW_BYTES) {
        preview.push(bytes.subarray(0, PREVIEW_BYTES - previewBytes));
        previewBytes += Math.min(bytes.length, PREVIEW_BYTES - previewBytes);
      }
      bounds.feed(bytes);
      parser.feed(decoder.decode(bytes, { stream: true }));
    },
  });
  const isEventStream = (response.headers["content-type"] ?? "").includes("text/event-stream");
  return {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    timings: response.timings,
    ...(response.streamError ? { streamError: response.streamError } : {}),
    ...(isEventStream ? {} : { nonStreamBody: Buffer.concat(preview).toString("utf8") }),
  };
}
