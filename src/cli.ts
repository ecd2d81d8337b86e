// slmc-check entry point: parse, dispatch, map every failure to its documented exit code.
import { parseCommandLine } from "./cli/args.ts";
import { CliError, EXIT } from "./cli/exit-codes.ts";
import { checksList, helpPage } from "./cli/help.ts";
import { checkCommand } from "./commands/check.ts";
import { demoCommand } from "./commands/demo.ts";
import { soakCommand } from "./commands/soak.ts";
import { benchCommand, compareCommand } from "./commands/bench.ts";
import { gateCommand, gateDemoCommand, gateVerifyCommand } from "./commands/gate.ts";
import { fleetCommand } from "./commands/fleet.ts";
import { tuneCommand } from "./commands/tune.ts";
import { VERSION } from "./version.ts";

export async function main(argv: string[]): Promise<number> {
  try {
    const command = parseCommandLine(argv, process.env);
    switch (command.kind) {
      case "help":
        process.stdout.write(helpPage(command.topic));
        return EXIT.ok;
      case "version":
        process.stdout.write(`slmc-check ${VERSION}\n`);
        return EXIT.ok;
      case "checks":
        process.stdout.write(checksList());
        return EXIT.ok;
      case "demo":
        return await demoCommand(command.options);
      case "check":
        return await checkCommand(command.host, command.options);
      case "reboot":
        return await checkCommand(command.host, command.options, "reboot");
      case "soak":
        return await soakCommand(command.host, command.options);
      case "bench":
        return await benchCommand(command.host, command.options);
      case "bench-compare":
        return await compareCommand(command.files, command.options);
      case "gate":
        return await gateCommand(command.host, command.options);
      case "gate-demo":
        return await gateDemoCommand(command.options);
      case "gate-verify":
        return await gateVerifyCommand(command.dir, command.options);
      case "fleet":
        return await fleetCommand(command.inventory, command.options);
      case "tune":
        return await tuneCommand(command.host, command.options);
    }
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`slmc-check: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`slmc-check: internal error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.internal;
  }
}
