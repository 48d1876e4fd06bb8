/**
 * Imported by register-service.ts before etcd3 itself: the `lookaside` package lists etcd3 as an
 * optional peer dependency (only the registrar needs it, clients never do), so an application
 * that requires `lookaside/registrar` without having installed etcd3 gets this message at require
 * time instead of a bare MODULE_NOT_FOUND from inside our code.
 */
try {
  require.resolve('etcd3');
} catch {
  throw new Error(
    "lookaside/registrar needs the etcd3 package, an optional peer dependency of lookaside: run 'npm install etcd3@^1.1.2'",
  );
}

export {};
