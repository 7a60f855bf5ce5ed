/**
 * esbuild plugins of every function bundle (serverless.yml custom.esbuild.plugins; the same for
 * `npm start` and `osls package`). CommonJS because serverless-esbuild loads this file with require().
 *
 * dedupe: npm installs one copy of a package per dependent whose version range the hoisted copy does
 * not satisfy, so the AWS SDK clients each carry their own identical @smithy/core, @smithy/* and
 * @aws-sdk/core (about 30 copies of the same version here). Bundled as they are, every function holds
 * several copies of the SDK's core. This plugin resolves each import as esbuild would, then maps the
 * file to the first copy seen of that package NAME AND VERSION: identical versions have identical
 * files, so the code is unchanged, only the duplicates go. Different versions stay separate.
 *
 * lambdaCredentials: Lambda hands a function its role's credentials in AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (the local stack sets the same variables), so the SDK's
 * default provider chain (SSO, ini files, STS web identity, container and instance metadata, each
 * with its own nested client) is never used there. Every client's default credential provider is
 * the SDK's own environment provider (fromEnv) in the bundles; tests and tools running the sources
 * keep the full chain.
 */
const { readFileSync, existsSync } = require('node:fs');
const { dirname, join, relative, sep } = require('node:path');

/** The folder of the package a file belongs to (the nearest package.json with a name), with its name and version. */
function packageOf(file, cache) {
  let dir = dirname(file);
  while (dir !== dirname(dir)) {
    if (cache.has(dir)) return cache.get(dir);
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && dir.split(sep).includes('node_modules')) {
      try {
        const { name, version } = JSON.parse(readFileSync(manifest, 'utf8'));
        if (typeof name === 'string' && typeof version === 'string') {
          const found = { dir, key: `${name}@${version}` };
          cache.set(dir, found);
          return found;
        }
      } catch {
        /* not a package manifest we can read: keep looking up */
      }
    }
    dir = dirname(dir);
  }
  return undefined;
}

const dedupe = {
  name: 'trellis-dedupe-identical-packages',
  setup(build) {
    const packages = new Map(); // dir -> { dir, key }
    const canonical = new Map(); // name@version -> dir
    build.onResolve({ filter: /^@?[a-z0-9]/ }, async (args) => {
      if (args.pluginData === 'resolving' || args.kind === 'entry-point') return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
      // Unresolvable: esbuild's own resolution decides (it tolerates an optional require() in a try
      // block, as the SDK's `require("aws-crt")` probe is; an error returned here would fail the build).
      if (resolved.errors.length > 0) return undefined;
      if (resolved.external || !resolved.path.includes(`${sep}node_modules${sep}`)) return resolved;
      const pkg = packageOf(resolved.path, packages);
      if (pkg === undefined) return resolved;
      const first = canonical.get(pkg.key);
      if (first === undefined) {
        canonical.set(pkg.key, pkg.dir);
        return resolved;
      }
      if (first === pkg.dir) return resolved;
      return { ...resolved, path: join(first, relative(pkg.dir, resolved.path)) };
    });
  },
};

const lambdaCredentials = {
  name: 'trellis-lambda-credentials-from-env',
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      // The environment provider the chain itself uses, resolved from the chain's own package.
      const chain = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
      if (chain.errors.length > 0) return chain;
      const env = await build.resolve('@aws-sdk/credential-provider-env', { kind: 'import-statement', resolveDir: dirname(chain.path) });
      if (env.errors.length > 0) return env;
      return { path: env.path, namespace: 'trellis-lambda-credentials' };
    });
    build.onLoad({ filter: /.*/, namespace: 'trellis-lambda-credentials' }, (args) => ({
      contents: `export { fromEnv as defaultProvider } from ${JSON.stringify(args.path)};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

module.exports = [lambdaCredentials, dedupe];
