/**
 * `sse-broker doctor …` from argv to exit code: 0 healthy, 1 problems found (usage errors and an
 * unreachable URL throw SSEB_ERR_OPTIONS_INVALID, which the CLI turns into exit 2).
 * @module
 */
import { parseDoctorArgs } from "./args.js";
import { doctorHelpText } from "./help.js";
import { runDoctor } from "./run.js";

export async function doctorCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<0 | 1> {
  const command = parseDoctorArgs(argv, env);
  if (command.kind === "help") {
    process.stdout.write(doctorHelpText());
    return 0;
  }
  const progress = process.stderr.isTTY ? (text: string) => void process.stderr.write(text) : undefined;
  return runDoctor(command.config, (text) => process.stdout.write(text), progress);
}
