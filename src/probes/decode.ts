// Incremental Content-Encoding decoding for event streams read the way a compressing client reads them
// (gzip, deflate, br, zstd where the runtime has it). Every decoded piece keeps the arrival time of
// the compressed bytes it came from, so a compressed stream can still be judged on when events arrived.
// Bounded: the caller's onOutput may throw StopReading (e.g. SseBounds on decoded bytes), which stops
// the decompressor at once and is reported from the next push() or from end().
import zlib from "node:zlib";
import type { Transform } from "node:stream";
import { StopReading } from "./http.ts";

/** Encodings slmc-check decodes (others are reported as undecodable). */
export function decoderFor(encoding: string): (() => Transform) | undefined {
  const name = encoding.trim().toLowerCase();
  if (name === "gzip" || name === "x-gzip") return () => zlib.createGunzip();
  if (name === "deflate") return () => zlib.createInflate();
  if (name === "br") return () => zlib.createBrotliDecompress();
  const zstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (name === "zstd" && typeof zstd === "function") return () => zstd();
  return undefined;
}

export class StreamDecoder {
  private readonly stream: Transform;
  /** Arrival times of compressed pieces written and not yet consumed by the decompressor. */
  private readonly pending: number[] = [];
  private lastArrival = 0;
  private stopped: StopReading | undefined;
  private failure: Error | undefined;
  private readonly finished: Promise<void>;
  decodedBytes = 0;
  encodedBytes = 0;

  constructor(
    make: () => Transform,
    private readonly onOutput: (bytes: Buffer, arrivedAt: number) => void,
  ) {
    this.stream = make();
    this.finished = new Promise<void>((done) => {
      this.stream.on("data", (bytes: Buffer) => {
        if (this.stopped) return;
        this.decodedBytes += bytes.length;
        try {
          this.onOutput(bytes, this.pending[0] ?? this.lastArrival);
        } catch (error) {
          // Never let a reader's error escape from a stream event (it would crash the process).
          this.stopped =
            error instanceof StopReading
              ? error
              : new StopReading("protocol", `reading the decoded stream failed: ${(error as Error).message}`);
          this.stream.destroy();
          done();
        }
      });
      this.stream.on("end", () => done());
      this.stream.on("close", () => done());
      this.stream.on("error", (error: Error) => {
        this.failure ??= error;
        done();
      });
    });
  }

  /** Feed compressed bytes; throws the StopReading a decoded piece raised (ends the exchange). */
  push(bytes: Buffer, arrivedAt: number): void {
    if (this.stopped) throw this.stopped;
    if (this.failure)
      throw new StopReading("protocol", `cannot decode the compressed body: ${this.failure.message}`);
    this.encodedBytes += bytes.length;
    this.lastArrival = arrivedAt;
    this.pending.push(arrivedAt);
    this.stream.write(bytes, () => void this.pending.shift());
  }

  /** Flush what is left; resolves with the error that stopped decoding, if any. */
  async end(): Promise<StopReading | undefined> {
    if (!this.stopped && !this.failure && !this.stream.destroyed) this.stream.end();
    await this.finished;
    if (this.stopped) return this.stopped;
    if (this.failure)
      return new StopReading("protocol", `cannot decode the compressed body: ${this.failure.message}`);
    return undefined;
  }
}
