// The Docker-aware TCP load balancer is built in its own issue; this entry point only
// says so, so that the workspace builds and `node dist/index.js` fails clearly.
process.stderr.write('The MeshKV load balancer is not built yet.\n');
process.exitCode = 1;
