#!/usr/bin/env node
import { runPolicyCommand } from "./policy.js";

// Stand-alone `warden policy ...` until the project CLI mounts runPolicyCommand.
process.exitCode = await runPolicyCommand(process.argv.slice(2));
