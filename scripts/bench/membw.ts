// A short single-thread memory-bandwidth probe for the decode roofline (tok/s ≤ bandwidth / bytes per
// token). Copy is STREAM-style (bytes read + bytes written); read sums a Float64Array in JS.
import { median } from "../../src/bench/metrics.ts";
import { performance } from "node:perf_hooks";

export interface Bandwidth {
  bytes: number;
  runs: number;
  copy_gbs: number;
  read_gbs: number;
  copy_gbs_runs: number[];
  read_gbs_runs: number[];
}

export function probeBandwidth(bytes = 1 << 30, runs = 5): Bandwidth {
  const source = Buffer.alloc(bytes, 1);
  const target = Buffer.alloc(bytes);
  const copy: number[] = [];
  const read: number[] = [];
  // Touch both once so page faults are not timed.
  source.copy(target);
  const doubles = new Float64Array(source.buffer, source.byteOffset, bytes / 8);
  let sink = 0;
  for (let r = 0; r < runs; r++) {
    let start = performance.now();
    source.copy(target);
    copy.push((2 * bytes) / ((performance.now() - start) / 1000) / 1e9);
    start = performance.now();
    let sum = 0;
    for (let i = 0; i < doubles.length; i++) sum += doubles[i] ?? 0;
    read.push(bytes / ((performance.now() - start) / 1000) / 1e9);
    sink += sum;
  }
  if (Number.isNaN(sink)) throw new Error("unreachable: keeps the read loop from being optimised away");
  return {
    bytes,
    runs,
    copy_gbs: median(copy),
    read_gbs: median(read),
    copy_gbs_runs: copy,
    read_gbs_runs: read,
  };
}
