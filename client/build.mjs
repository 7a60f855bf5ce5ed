// Builds the package: dist/index.mjs, the library (its dependencies stay external, as a library's
// should: the consumer's installation provides them), and the CLI.
//
// The CLI: bundled into ES modules with source maps: dist/trellis.mjs and the chunks it loads on
// demand. Dependencies are bundled in (tree-shaken and minified): resolving and loading hundreds of
// package files costs a credential_process call more than the work it does. The AWS SDK credential
// chain is imported dynamically, so it lands in its own chunk, loaded only by the commands that
// sign API calls for a deployed stage or read an AWS profile.
import { build } from 'esbuild';

await build({
  entryPoints: { trellis: 'src/cli/run.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  // Loaded from node_modules when a command needs it: esbuild cannot see the named exports of its
  // CommonJS build, so a bundled copy would expose only `default`.
  // The same for the CloudFormation client, which only `trellis smoke --stage` loads.
  external: ['@aws-sdk/credential-providers', '@aws-sdk/client-cloudformation'],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  minify: true,
  legalComments: 'none',
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __trellisRequire } from 'node:module'; const require = __trellisRequire(import.meta.url);" },
  logLevel: 'warning',
});

await build({
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
