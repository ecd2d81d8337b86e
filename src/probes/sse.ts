// Reads a Server-Sent Events response, stamping each event with the arrival time of the bytes that
// completed it. Parsing uses eventsource-parser; nothing here judges the stream.
import { createParser } from "eventsource-parser";
import { httpRequest, StopReading, type HttpRequest, type HttpResponse } from "./http.ts";
import { StreamDecoder, decoderFor } from "./decode.ts";
import { MAX_SSE_EVENTS, MAX_SSE_STREAM_BYTES, SseBounds } from "./sse-limits.ts";

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

export interface SseRequest extends Omit<HttpRequest, "onBody"> {
  /**
   * Send this Accept-Encoding (a real client's, e.g. "gzip, deflate, br") instead of identity, and
   * decode what the server compresses as it arrives; events keep the arrival time of their compressed
   * bytes. The bounds apply to the decoded stream and, separately, to the compressed bytes.
   */
  acceptEncoding?: string;
}

export async function readSse(request: SseRequest): Promise<SseObservation> {
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
  const consume = (bytes: Buffer, at: number) => {
    arrivedAt = at;
    if (previewBytes < PREVIEW_BYTES) {
      preview.push(bytes.subarray(0, PREVIEW_BYTES - previewBytes));
      previewBytes += Math.min(bytes.length, PREVIEW_BYTES - previewBytes);
    }
    bounds.feed(bytes);
    parser.feed(decoder.decode(bytes, { stream: true }));
  };
  const { acceptEncoding, ...httpOptions } = request;
  let encoding = "";
  let streamDecoder: StreamDecoder | undefined;
  let encodedBytes = 0;
  const response = await httpRequest({
    ...httpOptions,
    ...(acceptEncoding ? { headers: { ...httpOptions.headers, "accept-encoding": acceptEncoding } } : {}),
    keepBody: false,
    onHead: (status, statusText, headers) => {
      encoding = (headers["content-encoding"] ?? "").trim().toLowerCase();
      httpOptions.onHead?.(status, statusText, headers);
    },
    onBody: (bytes, at) => {
      if (!encoding || encoding === "identity") return consume(bytes, at);
      encodedBytes += bytes.length;
      if (encodedBytes > MAX_SSE_STREAM_BYTES)
        throw new StopReading("too-large", `compressed stream larger than ${MAX_SSE_STREAM_BYTES} bytes`);
      if (!streamDecoder) {
        const make = decoderFor(encoding);
        if (!make) throw new StopReading("protocol", `Content-Encoding "${encoding}" cannot be decoded`);
        streamDecoder = new StreamDecoder(make, consume);
      }
      streamDecoder.push(bytes, at);
    },
  });
  const decodeError = await streamDecoder?.end();
  if (decodeError && !response.streamError)
    response.streamError = { kind: decodeError.kind, message: decodeError.message, afterBytes: encodedBytes };
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
