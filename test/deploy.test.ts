import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { ENV_NAMES, loadServerConfig } from '../src/server/config.js';
import { REPO_ROOT } from './helpers.js';

const KNOWN_ENV = new Set<string>([
  ...Object.values(ENV_NAMES),
  'NODE_ENV',
  'MEDIASOUP_WORKER_BIN',
  'ERI_CACHE_DIR',
]);
const defaults = loadServerConfig({ ERI_INSECURE_DEV: '1' });
/** The secret comes from a Kubernetes Secret / the compose environment, not from the files checked here. */
const SECRET = { ERI_JWT_SECRET: 'x'.repeat(32) };

async function yamlDocs(path: string): Promise<Record<string, unknown>[]> {
  const docs = parseAllDocuments(await readFile(join(REPO_ROOT, path), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${path} parses`);
  return docs.map((d) => d.toJSON() as Record<string, unknown>);
}

it('the Kubernetes manifests parse and agree with the server: env names, ports, probes, image', async () => {
  const docs = await yamlDocs('deploy/k8s/eri-stream.yaml');
  const kinds = docs.map((d) => d.kind);
  assert.deepEqual(kinds, [
    'ConfigMap',
    'PersistentVolumeClaim',
    'Deployment',
    'Service',
    'HorizontalPodAutoscaler',
    'PodDisruptionBudget',
  ]);
  const config = docs[0] as { data: Record<string, string> };
  for (const name of Object.keys(config.data))
    assert.ok(KNOWN_ENV.has(name), `ConfigMap sets ${name}, which the server does not read`);
  loadServerConfig({ ...config.data, ...SECRET }); // the values validate too
  const deployment = docs[2] as {
    spec: {
      template: {
        spec: {
          containers: {
            image: string;
            env: { name: string }[];
            ports: { containerPort: number }[];
            readinessProbe: { httpGet: { path: string; port: number } };
            livenessProbe: { httpGet: { path: string; port: number } };
          }[];
        };
      };
    };
  };
  const container = deployment.spec.template.spec.containers[0];
  assert.ok(container);
  for (const e of container.env) assert.ok(KNOWN_ENV.has(e.name), `env ${e.name}`);
  const port = Number(config.data.ERI_PORT);
  assert.equal(container.ports[0]?.containerPort, port);
  assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port });
  assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port });
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(container.image, `eri-stream:${pkg.version}`);
  const redis = await yamlDocs('deploy/k8s/redis.yaml');
  assert.deepEqual(
    redis.map((d) => d.kind),
    ['StatefulSet', 'Service'],
  );
  // Durability: Redis writes its append-only file to a claim; studies' files are on one every node mounts.
  const redisArgs = (redis[0] as { spec: { template: { spec: { containers: { args: string[] }[] } } } }).spec
    .template.spec.containers[0]?.args;
  assert.deepEqual(redisArgs?.slice(0, 2), ['--appendonly', 'yes']);
  const claim = docs[1] as { metadata: { name: string }; spec: { accessModes: string[] } };
  assert.deepEqual(claim.spec.accessModes, ['ReadWriteMany']);
  const pod = deployment.spec.template.spec as unknown as {
    volumes: { name: string; persistentVolumeClaim: { claimName: string } }[];
    containers: { volumeMounts: { name: string; mountPath: string }[] }[];
  };
  const volume = pod.volumes.find((v) => v.persistentVolumeClaim.claimName === claim.metadata.name);
  assert.ok(volume, 'the Deployment mounts the shared claim');
  assert.deepEqual(
    pod.containers[0]?.volumeMounts.find((m) => m.name === volume.name)?.mountPath,
    config.data.ERI_DATA_DIR,
  );
});

it('docker-compose and the Dockerfile agree with the server: env names, ports, health check', async () => {
  const compose = parse(await readFile(join(REPO_ROOT, 'deploy/docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      { environment?: Record<string, string>; image?: string; volumes?: string[]; command?: string[] }
    >;
    volumes?: Record<string, unknown>;
  };
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const [name, service] of Object.entries(compose.services)) {
    if (!name.startsWith('node-')) continue;
    for (const key of Object.keys(service.environment ?? {}))
      assert.ok(KNOWN_ENV.has(key), `${name} sets ${key}`);
    loadServerConfig(service.environment ?? {}); // ERI_JWT_SECRET is compose's required-variable form ${…:?}
    assert.equal(service.image, `eri-stream:${pkg.version}`);
    // Every node mounts the one shared data volume where the image keeps ERI_DATA_DIR.
    assert.deepEqual(service.volumes, ['eri-data:/var/lib/eri'], `${name} volumes`);
  }
  assert.deepEqual(compose.services.redis?.volumes, ['redis-data:/data']);
  assert.ok(compose.services.redis?.command?.join(' ').includes('--appendonly yes'), 'Redis keeps an AOF');
  assert.ok(compose.volumes && 'eri-data' in compose.volumes && 'redis-data' in compose.volumes);
  const dockerfile = await readFile(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
  for (const m of dockerfile.matchAll(/\b(ERI_[A-Z_]+|REDIS_URL)=/g))
    assert.ok(KNOWN_ENV.has(m[1] as string), `Dockerfile sets ${m[1]}`);
  assert.match(dockerfile, /HEALTHCHECK .*\/healthz/);
  assert.match(dockerfile, /^USER node$/m);
  assert.match(dockerfile, new RegExp(`ERI_PORT=${defaults.port}`));
  assert.match(dockerfile, /ERI_DATA_DIR=\/var\/lib\/eri/);
  assert.match(dockerfile, /chown node:node \/var\/lib\/eri/);
});
