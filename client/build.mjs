// Bundles the CLI into one ES module (dist/trellis.mjs) with a source map. Dependencies stay
// external: they are installed beside it, and the AWS SDK credential chain is loaded only by the
// commands that sign API calls for a deployed stage.
import { build } from 'esbuild';

await build({
  entryPoints: { trellis: 'src/cli/run.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
