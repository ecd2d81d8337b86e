import { main } from "./cli.ts";

// No top-level await: bytecode compilation emits CommonJS.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Leave once output is flushed; open sockets must not keep a finished run alive.
  setImmediate(() => process.exit(code));
});
