// Live progress on a terminal: a spinner for any check still running after a second, and each
// result as it lands. Writes only to a TTY; never part of the report itself.
import { performance } from "node:perf_hooks";
import type { Check, CheckResult, Suite } from "../core/check.ts";
import type { RunListener } from "../core/runner.ts";
import { evidenceLines, resultLine, type Style } from "./pretty.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const SPINNER_AFTER_MS = 1000;

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  style: Style;
  mask: (text: string) => string;
  /** Print each finished check (live report) or only show the spinner. */
  printResults: boolean;
  total: number;
}

export function createProgress(options: ProgressOptions): RunListener & { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let frame = 0;
  let done = 0;
  let suiteShown = "";
  const clear = () => options.stream.write("\r\u001b[2K");
  const stopSpinner = () => {
    clearInterval(timer);
    timer = undefined;
    clear();
  };
  return {
    checkStarted(suite: Suite, check: Check) {
      const started = performance.now();
      if (options.printResults && suite.name !== suiteShown) {
        suiteShown = suite.name;
        options.stream.write(options.style.bold(suite.name) + "\n");
      }
      timer = setInterval(() => {
        const elapsed = performance.now() - started;
        if (elapsed < SPINNER_AFTER_MS) return;
        frame = (frame + 1) % FRAMES.length;
        const line = `${FRAMES[frame]} [${done + 1}/${options.total}] ${check.requirement} ${check.id} ${(elapsed / 1000).toFixed(1)}s`;
        options.stream.write(`\r\u001b[2K${options.style.dim(line)}`);
      }, 100);
    },
    checkFinished(result: CheckResult) {
      stopSpinner();
      done++;
      if (!options.printResults) return;
      const lines = [resultLine(result, options.style)];
      if (result.status === "fail" || result.status === "error")
        lines.push(...evidenceLines(result).map(options.style.dim));
      options.stream.write(options.mask(lines.join("\n")) + "\n");
    },
    stop: stopSpinner,
  };
}
