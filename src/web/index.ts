// The triage web UI: sources in ui/ (built by Vite into dist/web), served by the API app.
export { registerWeb, WEB_DIST_DIR } from './serve.ts';
