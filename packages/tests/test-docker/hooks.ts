import { daemonStartedHere, ensureDocker, stopDaemon } from '../src/docker/engine';

/**
 * Gets a Docker engine for a suite (see ensureDocker), or skips the suite with the reason;
 * in CI (CI=true) a missing engine fails the run instead.
 */
export async function needDocker(context: Mocha.Context): Promise<void> {
  const problem = await ensureDocker();
  if (problem === undefined) return;
  if (process.env.CI === 'true') throw new Error(`The Docker tests need a Docker engine: ${problem}`);
  process.stdout.write(`\n  Docker tests skipped: ${problem}\n`);
  context.skip();
}

/** Root hooks (.mocharc.docker.json): a daemon these tests started is stopped at the very end. */
export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (daemonStartedHere()) await stopDaemon();
  },
};
