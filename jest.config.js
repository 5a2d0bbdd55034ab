// Three projects: unit (no broker), integration (real Kafka, Apicurio, PostgreSQL) and e2e (the real CLI).
// @swc/jest strips types only; `npm run typecheck` is what checks them.
const swc = [
  '@swc/jest',
  { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
];
const common = {
  transform: { '^.+\\.(t|j)sx?$': swc },
  // p-limit 7, yocto-queue and @platformatic/kafka (with its own @platformatic packages) are ESM-only: let swc
  // turn them into CommonJS for jest's module registry.
  transformIgnorePatterns: ['/node_modules/(?!(p-limit|yocto-queue|@platformatic/(kafka|dynamic-buffer|wasm-utils))/)'],
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.listflow/', '<rootDir>/.tools/'],
};
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{operators,samples,runtime,pipelines,schemas,cli,infra,k8s,bench}/**/*.test.ts',
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/test/k8s/**/*.test.ts',
      ],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/setup/integration-timeout.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/setup/e2e-timeout.ts'],
    },
  ],
};
