import { main } from "./cli.ts";

const code = await main(process.argv.slice(2));
// Flush stdout/stderr before leaving; open sockets must not keep a finished run alive.
process.exitCode = code;
setImmediate(() => process.exit(code));
