// The built-in demo: an e-commerce platform whose auth deploy slowly degrades latency.
export { startDemo, registerDemoReceiver, demoConfigYaml, DEMO_CONFIG_PATH, type DemoHandle, type DemoOptions } from './run.ts';
export { newScenario, pointsAt, DEMO_STEP_MS, SERVICES, REGIONS, type DemoPoint } from './scenario.ts';
