#!/usr/bin/env node
/**
 * `sse-broker` / `npm start`: flags and env → one server (or a cluster of them). Exit codes: 0 after
 * SIGINT/SIGTERM, 1 on a runtime failure (e.g. port in use), 2 on bad configuration.
 * @module
 */
import { SseBrokerError } from "../errors.js";
import { parseCli } from "./args.js";
import { isClusterWorker, reportFatalToPrimary, runPrimary, runWorker } from "./cluster.js";
import { helpText } from "./help.js";
import { runServer } from "./run.js";
import { ListenError } from "./server.js";
import { packageVersion } from "./version.js";

/** One line on stderr, never a stack trace: these are the user's to fix, not bugs. */
function fail(message: string, code: number): void {
  if (isClusterWorker()) {
    reportFatalToPrimary(message, code);
    return;
  }
  process.stderr.write(`sse-broker: ${message}\n`);
  process.exit(code);
}

try {
  // `sse-broker doctor URL`: a subcommand with its own options (src/doctor/) that runs no server.
  const command = process.argv[2] === "doctor" ? null : parseCli(process.argv.slice(2), process.env);
  if (command === null) {
    const { doctorCommand } = await import("../doctor/command.js"); // the server never loads it
    process.exitCode = await doctorCommand(process.argv.slice(3), process.env);
  } else if (command.kind === "help") process.stdout.write(helpText(packageVersion()));
  else if (command.kind === "version") process.stdout.write(`${packageVersion()}\n`);
  else if (isClusterWorker()) await runWorker(command.config);
  else if (command.config.workers > 1) runPrimary(command.config);
  else await runServer(command.config);
} catch (err) {
  if (err instanceof SseBrokerError && err.code === "SSEB_ERR_OPTIONS_INVALID") fail(err.message, 2);
  else if (err instanceof ListenError) fail(err.message, 1);
  else throw err;
}
