import { expect } from 'chai';
import type { NodeStatus } from '@meshkv/client';
import { type DnsServer, hasDnsmasq, startDnsServer } from '@meshkv/common/testing';
import * as path from 'node:path';
import { NodeProcess } from '../../src/cluster/node-process';
import { type EnvVar, expand, hasKubectl, type KubeObject, kustomize, podEnv, tempVolume, validate } from '../../src/deploy/kubernetes';
import { waitFor } from '../helpers/mesh';

/**
 * deploy/kubernetes without a cluster: rendered by kubectl's kustomize, validated against
 * the Kubernetes schemas, and the environment of its pods given to real node processes,
 * whose cluster DNS is a real DNS server (dnsmasq) serving the records a cluster would:
 * they must form one mesh.
 */

const DIR = path.resolve(path.dirname(require.resolve('@meshkv/tests/package.json')), '..', '..', 'deploy', 'kubernetes');
const NAMESPACE = 'meshkv-test';

interface Container {
  name: string;
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string; port: string }; periodSeconds: number; failureThreshold: number };
  livenessProbe: { httpGet: { path: string; port: string } };
  startupProbe: { httpGet: { path: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts: { name: string; mountPath: string }[];
}

interface StatefulSetSpec {
  serviceName: string;
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
  volumeClaimTemplates: { metadata: { name: string } }[];
}

describe('Kubernetes manifests (deploy/kubernetes)', function () {
  this.timeout(60_000);
  let objects: KubeObject[] = [];

  before(function () {
    if (!hasKubectl()) {
      process.stdout.write('\n  Kubernetes checks skipped: kubectl is not installed (Debian: kubernetes-client)\n');
      this.skip();
    }
    objects = kustomize(DIR);
  });

  const find = (kind: string, name: string): KubeObject => {
    const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
    if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered manifests`);
    return found;
  };
  const statefulSet = (): StatefulSetSpec => find('StatefulSet', 'meshkv').spec as unknown as StatefulSetSpec;
  const container = (): Container => statefulSet().template.spec.containers[0] as Container;

  it('kustomize renders a StatefulSet, a headless and a client Service and a PodDisruptionBudget, valid against the Kubernetes schemas', () => {
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`).sort()).to.deep.equal([
      'PodDisruptionBudget/meshkv',
      'Service/meshkv',
      'Service/meshkv-mesh',
      'StatefulSet/meshkv',
    ]);
    expect(validate(objects)).to.deep.equal([]);
  });

  it('the validation fails a field of the wrong type, a missing one, and one that does not exist', () => {
    type Broken = { spec: Omit<StatefulSetSpec, 'selector'> & { selector?: unknown } };
    const problemsOf = (breaking: (set: Broken, first: Container & { readinessProbes?: unknown }) => void): string => {
      const broken = JSON.parse(JSON.stringify(find('StatefulSet', 'meshkv'))) as Broken;
      breaking(broken, broken.spec.template.spec.containers[0] as Container);
      return validate([broken as unknown as KubeObject]).join('\n');
    };
    expect(problemsOf((_, first) => ((first.ports[0] as { containerPort: unknown }).containerPort = 'http'))).to.include('containerPort must be integer');
    expect(problemsOf((set) => delete set.spec.selector)).to.include('must have required property selector');
    expect(problemsOf((_, first) => (first.readinessProbes = first.readinessProbe))).to.match(/readinessProbes\W+ does not exist in type 'IContainer'/);
  });

  it('holds together: names, selectors, probes, drain and grace period, volumes', () => {
    const set = statefulSet();
    const headless = find('Service', 'meshkv-mesh').spec as { clusterIP: string; publishNotReadyAddresses: boolean; selector: Record<string, string>; ports: { name: string }[] };
    const client = find('Service', 'meshkv').spec as { selector: Record<string, string>; clusterIP?: string };
    const budget = find('PodDisruptionBudget', 'meshkv').spec as { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    const labels = set.template.metadata.labels;
    expect(set.serviceName).to.equal('meshkv-mesh');
    expect(headless.clusterIP).to.equal('None');
    expect(headless.publishNotReadyAddresses, 'a new pod finds the others before it is ready').to.equal(true);
    expect(headless.ports.map((port) => port.name)).to.deep.equal(['http']);
    expect(client.clusterIP).to.equal(undefined);
    for (const selector of [set.selector.matchLabels, headless.selector, client.selector, budget.selector.matchLabels]) expect(labels).to.include(selector);
    expect(budget.maxUnavailable).to.be.below(set.replicas / 2);
    const main = container();
    expect(main.readinessProbe.httpGet.path).to.equal('/ready');
    expect(main.livenessProbe.httpGet.path).to.equal('/healthcheck');
    expect(main.startupProbe.httpGet.path).to.equal('/healthcheck');
    const env = Object.fromEntries(main.env.filter((variable) => variable.value !== undefined).map((variable) => [variable.name, variable.value as string]));
    const drainMs = Number(env.SHUTDOWN_DRAIN_MS);
    const probeMs = main.readinessProbe.periodSeconds * main.readinessProbe.failureThreshold * 1000;
    expect(drainMs, 'the drain outlasts the readiness probe failing').to.be.above(probeMs);
    expect(drainMs + Number(env.SHUTDOWN_TIMEOUT_MS), 'drain and shutdown fit in the grace period').to.be.below(set.template.spec.terminationGracePeriodSeconds * 1000);
    expect(env.STORAGE).to.equal('lmdb');
    expect(main.volumeMounts).to.deep.include({ name: set.volumeClaimTemplates[0]?.metadata.name, mountPath: env.DATA_DIR });
    expect(main.resources.requests).to.include.keys('cpu', 'memory');
    expect(main.resources.limits).to.include.keys('memory');
  });

  it('expands $(NAME) as the kubelet does', () => {
    const defined = { A: 'x', B: 'y' };
    expect(expand('http://$(A).$(B):1', defined)).to.equal('http://x.y:1');
    expect(expand('$(C)-$$(A)-$$-$', defined)).to.equal('$(C)-$(A)-$-$');
    expect(expand('$(A', defined)).to.equal('$(A');
  });

  describe('pods started with the environment the StatefulSet gives them', () => {
    let dns: DnsServer | undefined;
    const nodes: NodeProcess[] = [];
    const volumes: { remove(): void }[] = [];

    before(function () {
      if (!hasDnsmasq()) {
        process.stdout.write('\n  skipped: dnsmasq is not installed\n');
        this.skip();
      }
    });

    after(async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      for (const volume of volumes) volume.remove();
      await dns?.stop();
    });

    it('form one mesh through the headless Service\'s SRV record, each under its pod name', async () => {
      const replicas = statefulSet().replicas;
      const pods = Array.from({ length: replicas }, (_, i) => ({ name: `meshkv-${i}`, address: `127.0.0.${i + 2}` }));
      const domain = `meshkv-mesh.${NAMESPACE}.svc.cluster.local`;
      // What the cluster DNS answers for the headless Service: an SRV record per pod, and its name.
      dns = await startDnsServer(pods.map((pod) => ({ name: `_http._tcp.${domain}`, target: `${pod.name}.${domain}`, port: 8100 })));
      await dns.setHosts(pods.map((pod) => [pod.address, `${pod.name}.${domain}`] as const));
      const secrets = { meshkv: { 'mesh-secret': 'a'.repeat(64), 'admin-key': 'b'.repeat(64) } };
      const started = await Promise.all(
        pods.map((pod) => {
          const volume = tempVolume(pod.name);
          volumes.push(volume);
          const env = podEnv(container().env, { name: pod.name, namespace: NAMESPACE, secrets });
          // Exactly that env; and what a cluster gives a pod, given here: its hostname, its
          // own address, the cluster's DNS server, its volume at the mount path.
          return NodeProcess.start(pod.name, { ...env, HOSTNAME: pod.name, BIND_ADDRESS: pod.address, DNS_SERVERS: dns?.address ?? '', DATA_DIR: volume.path }, { host: pod.address, port: Number(env.PORT) });
        }),
      );
      nodes.push(...started);
      const env = podEnv(container().env, { name: 'meshkv-0', namespace: NAMESPACE, secrets });
      expect(env.ADVERTISE_URL).to.equal(`http://meshkv-0.${domain}:8100`);
      expect(env.MESH_NETWORK_URL).to.equal(`dns+srv://_http._tcp.${domain}`);
      const urls = pods.map((pod) => `http://${pod.name}.${domain}:8100`);
      const meshed = async (): Promise<boolean> => {
        for (const node of nodes) {
          if ((await node.get('/ready')).status !== 200) return false;
          const status = JSON.parse((await node.get('/status')).text) as NodeStatus;
          const alive = status.peers.filter((peer) => peer.state === 'alive').map((peer) => peer.url);
          if ([...alive, status.advertiseUrl].sort().join() !== urls.join()) return false;
        }
        return true;
      };
      const took = await waitFor(meshed, 30_000, 'the pods to form one mesh, ready, each peer under its pod name');
      process.stdout.write(`      one mesh of ${replicas} pods, ready, ${took} ms after they started\n`);
      const statuses = await Promise.all(nodes.map(async (node) => JSON.parse((await node.get('/status')).text) as NodeStatus));
      expect(statuses.map((status) => status.nodeId)).to.deep.equal(pods.map((pod) => pod.name));
      expect(statuses.every((status) => status.storage === 'lmdb')).to.equal(true);
      const [first, last] = [nodes[0] as NodeProcess, nodes[nodes.length - 1] as NodeProcess];
      expect((await first.get('/set?k=pod&v=zero&w=all')).status).to.equal(200);
      expect(JSON.parse((await last.get('/get?k=pod')).text)).to.equal('zero');
      expect((await fetch(`${first.url}/status`)).status, 'keys from the secret are required').to.equal(401);
    });
  });
});
