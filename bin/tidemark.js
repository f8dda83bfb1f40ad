#!/usr/bin/env node
// The `tidemark` entry point. Sources are TypeScript; tsx (a runtime dependency) compiles
// them on load with esbuild, so the command works straight after `npm install`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
