#!/usr/bin/env node
// The `trellis` command. Runs the bundle that `npm ci` builds (the root package's prepare script
// runs `npm run build -w @trellis/client`); from a checkout without it, runs the TypeScript source
// through tsx, so `npx trellis` also works while developing.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/trellis.mjs', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/run.ts', import.meta.url).href);
}
