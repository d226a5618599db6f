/**
 * `npm run bench -- --cpu-prof DIR`: preloaded into the product's processes through NODE_OPTIONS
 * (`--import`), because Node 20 refuses `--cpu-prof` there and npm start builds its children's
 * command lines itself. Profiles the API and consumer processes from start to a normal exit
 * (SIGTERM → close → exit) and writes DIR/<role>-<pid>.cpuprofile, which Chrome DevTools or
 * speedscope opens. Plain JavaScript: it loads before tsx does.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { basename, join } from 'node:path';

// The one channel into a preload is the environment; the bench sets this for the product only.
const dir = process.env.BENCH_CPU_PROF_DIR;
// Only the API and consumers (src/main.ts or dist/main.js), not npm, the build or the supervisor.
const role = process.argv.some((a) => /(^|\/)main\.[jt]s$/.test(a)) ? basename(process.cwd()) : null;

if (dir && role) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // 1 ms sampling: cheap enough under load, fine enough to rank hotspots.
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  // Wall-clock time of the profile's start, so a summary can leave out what came before a run
  // (start-up: module loading, schema compilation). Samples are timed from here.
  const wallStartMs = Date.now();
  process.on('exit', () => {
    // The in-process inspector answers synchronously, so this completes inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (!err) {
        const profile = { ...result.profile, wallStartMs };
        writeFileSync(join(dir, `${role}-${process.pid}.cpuprofile`), JSON.stringify(profile));
      }
    });
  });
}
