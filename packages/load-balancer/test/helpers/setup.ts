// A promise rejected without a handler anywhere in a test run is a bug: fail the run.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(`Unhandled rejection: ${String(reason)}`);
});
