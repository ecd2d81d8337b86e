// Bounds for reading Server-Sent Events: one line, one event and one whole stream. Shared by the SSE
// probe and the fetch handed to the openai SDK, so a server that sends an endless line cannot make
// slmc-check hold it in memory.
import { StopReading } from "./http.ts";

/** Longest SSE line or event slmc-check buffers (a chat chunk is a few hundred bytes). */
export const MAX_SSE_EVENT_BYTES = 1024 * 1024;
/** Most event data kept from one stream. */
export const MAX_SSE_STREAM_BYTES = 16 * 1024 * 1024;
/** Most events kept from one stream (tiny events cost more as objects than as bytes). */
export const MAX_SSE_EVENTS = 65_536;

/** Counts bytes per line and per event as they arrive; throws StopReading past a limit. */
export class SseBounds {
  private line = 0;
  private event = 0;
  private total = 0;
  private previousCr = false;

  constructor(
    private readonly maxEventBytes = MAX_SSE_EVENT_BYTES,
    private readonly maxStreamBytes = MAX_SSE_STREAM_BYTES,
  ) {}

  feed(bytes: Uint8Array): void {
    this.total += bytes.length;
    if (this.total > this.maxStreamBytes)
      throw new StopReading("too-large", `stream larger than ${this.maxStreamBytes} bytes`);
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (byte === 0x0a || byte === 0x0d) {
        const crlf = byte === 0x0a && this.previousCr;
        this.previousCr = byte === 0x0d;
        if (crlf) continue;
        if (this.line === 0) this.event = 0;
        this.line = 0;
        continue;
      }
      this.previousCr = false;
      this.line++;
      if (++this.event > this.maxEventBytes)
        throw new StopReading(
          "too-large",
          `event larger than ${this.maxEventBytes} bytes (${this.line === this.event ? "one line without a newline" : "one event without a blank line"})`,
        );
    }
  }
}
