// Reads a Server-Sent Events response, stamping each event with the arrival time of the bytes that
// completed it. Parsing uses eventsource-parser; nothing here judges the stream.
import { createParser } from "eventsource-parser";
import { httpRequest, type HttpRequest, type HttpResponse } from "./http.ts";

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
  const parser = createParser({
    onEvent: (event) => {
      events.push({ data: event.data, ...(event.event ? { event: event.event } : {}), arrivedAt });
    },
    onComment: () => {
      comments++;
    },
  });
  const response = await httpRequest({
    ...request,
    onBody: (bytes, at) => {
      arrivedAt = at;
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
    ...(isEventStream ? {} : { nonStreamBody: response.body.toString("utf8").slice(0, 2000) }),
  };
}
