#!/usr/bin/env node
import { runWarden } from "./warden.js";

process.exitCode = await runWarden(process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
