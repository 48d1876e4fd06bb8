/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // `lookaside` is this package: the README's example imports it (and its registrar) by name.
  moduleNameMapper: {
    '^lookaside$': '<rootDir>/client-sdk/index.ts',
    '^lookaside/registrar$': '<rootDir>/registrar/index.ts',
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60_000,
  // Integration tests run real etcd and gRPC processes; two cores, so two workers.
  maxWorkers: 2,
};
