// Imports the module named on the command line, then prints (JSON) the node-redis files in the
// CommonJS module cache: node-redis is CommonJS, so every file of it that was loaded is there.
import { createRequire } from 'node:module';

await import(process.argv[2]!);
const cache = (createRequire(import.meta.url)('node:module') as { _cache: Record<string, unknown> })._cache;
const redisFiles = Object.keys(cache).filter((path) => /[\\/](redis|@redis[\\/]client)[\\/]dist[\\/]/.test(path));
process.stdout.write(JSON.stringify(redisFiles));
