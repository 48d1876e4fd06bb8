/**
 * The demo service, importable as `lookaside/demo-service`: the helloworld greeter alone
 * (`startGreeterServer`) or registered in etcd through the registrar (`startDemoService`).
 */
export { startDemoService, DEFAULT_DEMO_SERVICE } from './demo-service';
export type { DemoService, DemoServiceOptions } from './demo-service';
export { startGreeterServer } from './greeter-server';
export type { GreeterServer, GreeterServerOptions } from './greeter-server';
