/**
 * The one error a `warden` command fails with: the message is printed after `warden <command>: `,
 * and the exit code is 1 (refused or failed) or 2 (usage error; the command's usage follows).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, 2);
}
