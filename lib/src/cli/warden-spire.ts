#!/usr/bin/env node
import { runSpireCommand } from "./spire-command.js";

// Stand-alone `warden spire ...` until the project CLI mounts runSpireCommand.
process.exitCode = await runSpireCommand(process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
