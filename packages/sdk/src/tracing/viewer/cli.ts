// sluice-trace [folder] [--port N]: serves the trace viewer on a jsonlStore folder
// (default .sluice/traces) until interrupted.

import { startTraceViewer } from './server.ts';

const args = process.argv.slice(2);
let dir = '.sluice/traces';
let port = 4318;
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === '--port' || arg === '-p') port = Number(args[++i]);
  else if (arg === '--help' || arg === '-h') {
    console.log('usage: sluice-trace [folder (default .sluice/traces)] [--port N (default 4318)]');
    process.exit(0);
  } else dir = arg;
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`sluice-trace: --port must be an integer from 0 to 65535, got ${JSON.stringify(args)}`);
  process.exit(2);
}
const viewer = await startTraceViewer({ store: dir, port });
console.log(`sluice-trace: ${dir} at ${viewer.url} (OTLP/HTTP JSON: POST ${viewer.url}/v1/traces); Ctrl-C stops`);
const stop = () => void viewer.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
