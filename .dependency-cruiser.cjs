/**
 * Import boundaries (STYLE.md "Layout"): core imports only Node built-ins and zod (and the
 * Shamir library for unseal shares); adapters import core; db imports core; modules import core,
 * adapters, db and other modules only through their index.ts; nothing imports server or cli but
 * themselves. The web console (web/) imports only the shared API client (src/client/api.ts) and
 * the contracts (src/contracts: zod schemas and the types inferred from them).
 */
module.exports = {
  forbidden: [
    {
      name: 'core-is-self-contained',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypesNot: ['core'], pathNot: ['^src/core/', '^node_modules/(zod|shamir-secret-sharing)/'] },
    },
    {
      name: 'adapters-import-only-core',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(modules|server|cli|db|client)/' },
    },
    {
      name: 'db-imports-only-core',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/(modules|server|cli|adapters|client)/' },
    },
    {
      name: 'modules-never-import-server-or-cli',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/(server|cli)/' },
    },
    {
      name: 'modules-meet-through-index',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/[^/]+/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'cli-and-server-are-siblings',
      comment:
        'Neither imports the other; src/strongroom.ts (the composition root) joins them. Shared installation code lives in src/installation.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'server-never-imports-cli',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'installation-below-server-and-cli',
      comment: 'Data directory, TLS files, operator token, root-key choice: core, adapters and db only.',
      severity: 'error',
      from: { path: '^src/installation/' },
      to: { path: '^src/(server|cli|modules|client|http)/' },
    },
    {
      name: 'http-declarations-are-types',
      comment: 'src/http declares routes for the modules: core, db types, contracts; never the server.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(server|cli|modules|adapters|installation)/' },
    },
    {
      name: 'contracts-are-portable',
      comment:
        'src/contracts runs in the browser too (the console bundles it): zod and other contracts only; never server, modules, db, adapters or Node built-ins.',
      severity: 'error',
      from: { path: '^src/contracts/' },
      to: { pathNot: ['^src/contracts/', '^node_modules/zod/'] },
    },
    {
      name: 'contracts-no-node-builtins',
      severity: 'error',
      from: { path: '^src/contracts/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'server-not-from-below',
      severity: 'error',
      from: { path: '^src/(core|adapters|db|modules|client|installation|http|contracts)/' },
      to: { path: ['^src/(server|cli)/', '^src/strongroom\\.ts$'] },
    },
    {
      name: 'web-talks-http-only',
      comment:
        'The console imports nothing from src/ but the shared API client (routes over an injected transport) and the contracts (schemas and the types inferred from them).',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^src/', pathNot: ['^src/client/api\\.ts$', '^src/contracts/'] },
    },
    {
      name: 'shared-client-is-portable',
      comment: 'src/client/api.ts runs in the browser too: no Node built-ins; only the contracts.',
      severity: 'error',
      from: { path: '^src/client/api\\.ts$' },
      to: { pathNot: ['^src/client/api\\.ts$', '^src/contracts/', '^node_modules/zod/'] },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json', '.css'] },
  },
};
