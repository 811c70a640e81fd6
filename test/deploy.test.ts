import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { mediasoupWorkerBin } from '../src/ingest/media-workers.js';
import { ENV_NAMES, loadServerConfig } from '../src/server/config.js';
import { REPO_ROOT, withTempDir } from './helpers.js';

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

it('the Prometheus scrape configurations are valid and scrape /metrics with a bearer token file', async (t) => {
  const compose = parse(
    await readFile(join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8'),
  ) as {
    scrape_configs: { metrics_path: string; authorization: { credentials_file: string } }[];
  };
  const k8s = (await yamlDocs('deploy/k8s/prometheus-scrape.yaml'))[0] as { data: Record<string, string> };
  const k8sJobs = parse(k8s.data['eri-stream-scrape.yml'] ?? '') as typeof compose.scrape_configs;
  for (const job of [...compose.scrape_configs, ...k8sJobs]) {
    assert.equal(job.metrics_path, '/metrics');
    assert.match(job.authorization.credentials_file, /scrape\.jwt$/);
  }
  if (spawnSync('promtool', ['--version']).status !== 0) {
    t.skip(
      'promtool not installed (apt install prometheus): the scrape configs were parsed, not checked by Prometheus',
    );
    return;
  }
  // promtool checks that the token file exists: point it at one. (Debian's promtool is built without
  // Kubernetes discovery, so only the compose configuration goes through it.)
  await withTempDir(async (dir) => {
    const jwt = join(dir, 'scrape.jwt');
    await writeFile(jwt, 'x');
    const config = join(dir, 'prometheus.yml');
    const text = await readFile(join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
    await writeFile(config, text.replace('/etc/prometheus/scrape.jwt', jwt));
    const check = spawnSync('promtool', ['check', 'config', config], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});

it('docker-compose mounts the scrape configuration and the Grafana dashboard that exist in deploy/', async () => {
  const compose = parse(await readFile(join(REPO_ROOT, 'deploy', 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { volumes?: string[] }>;
  };
  for (const service of ['prometheus', 'grafana'])
    for (const volume of compose.services[service]?.volumes ?? []) {
      const host = volume.split(':')[0] ?? '';
      if (host.endsWith('scrape.jwt')) continue; // minted by the operator (see prometheus.yml)
      await readFile(join(REPO_ROOT, 'deploy', host));
    }
  const dashboard = JSON.parse(
    await readFile(join(REPO_ROOT, 'deploy', 'grafana', 'eri-stream.json'), 'utf8'),
  );
  assert.equal(dashboard.uid, 'eri-stream');
});

it('LICENSE is the licence package.json declares', async () => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
  const text = await readFile(join(REPO_ROOT, 'LICENSE'), 'utf8');
  assert.equal(pkg.license, 'MIT');
  assert.match(text, /^MIT License\n/);
});

it('setup installs by purpose: serving needs only ffmpeg, the compilers and the worker; the Node check comes first', async () => {
  const setup = await readFile(join(REPO_ROOT, 'scripts', 'setup.sh'), 'utf8');
  const serve = /^APT_PACKAGES=\(([^)]*)\)/m.exec(setup)?.[1]?.split(/\s+/) ?? [];
  assert.deepEqual(serve, ['ffmpeg', 'g++', 'make', 'python3']);
  assert.ok(setup.indexOf('node_major') < setup.indexOf('apt-get'), 'Node is checked before apt runs');
  assert.match(setup, /DPkg::Lock::Timeout/);
  const start = await readFile(join(REPO_ROOT, 'scripts', 'start.sh'), 'utf8');
  assert.match(start, /^bash scripts\/setup\.sh serve$/m);
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts.test ?? '', /^bash scripts\/setup\.sh test /);
});

/** The packages the Dockerfile's runtime stage installs (its last `apt-get install` line). */
function runtimePackages(dockerfile: string): string[] {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const line = /apt-get install -y --no-install-recommends ([^\n&\\]+)/.exec(runtime)?.[1] ?? '';
  return line.trim().split(/\s+/);
}

it('the runtime stage installs every shared library the patched worker links against (ldd, Debian 12)', async (t) => {
  const os = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const worker = mediasoupWorkerBin();
  if (!/VERSION_CODENAME=bookworm/.test(os) || spawnSync('dpkg', ['--version']).status !== 0) {
    t.skip(
      'not Debian 12: the image is bookworm, and only ldd on a bookworm-built worker says what it needs',
    );
    return;
  }
  if (!existsSync(worker)) {
    t.skip(`no mediasoup worker at ${worker} (run scripts/setup.sh)`);
    return;
  }
  const dockerfile = await readFile(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
  const installed = runtimePackages(dockerfile);
  assert.ok(installed.includes('ffmpeg'), installed.join(' '));
  // What those packages bring with them, and what node:20-bookworm-slim already has (apt needs these).
  const closure = spawnSync(
    'apt-cache',
    [
      'depends',
      '--recurse',
      '--no-recommends',
      '--no-suggests',
      '--no-conflicts',
      '--no-breaks',
      '--no-replaces',
      '--no-enhances',
      ...installed,
    ],
    { encoding: 'utf8' },
  ).stdout;
  const available = new Set([
    'libc6',
    'libgcc-s1',
    'libstdc++6',
    ...closure.split('\n').filter((l) => /^[a-z0-9]/.test(l)),
  ]);
  const ldd = spawnSync('ldd', [worker], { encoding: 'utf8' });
  assert.equal(ldd.status, 0, ldd.stderr);
  const libraries = [...ldd.stdout.matchAll(/=> (\/\S+)/g)].map((m) => m[1] as string);
  assert.ok(libraries.length >= 5, ldd.stdout);
  const missing: string[] = [];
  for (const lib of libraries) {
    // Debian 12 has merged /usr: a file under /lib is registered under either prefix.
    const owner = [lib, lib.replace(/^\/lib\//, '/usr/lib/')]
      .map((p) => spawnSync('dpkg', ['-S', p], { encoding: 'utf8' }))
      .find((r) => r.status === 0)
      ?.stdout.split(':')[0];
    if (!owner || !available.has(owner)) missing.push(`${lib} (${owner ?? 'no package'})`);
  }
  assert.deepEqual(missing, [], 'libraries the runtime stage would lack');
});

it('the image: dependencies and the worker build come before the sources, no host files, a data dir node owns', async () => {
  const dockerfile = await readFile(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
  const worker = dockerfile.indexOf('RUN bash scripts/mediasoup/build-worker.sh');
  assert.ok(worker > 0);
  assert.ok(worker < dockerfile.indexOf('COPY . .'), 'a source edit does not rebuild the worker');
  assert.ok(dockerfile.indexOf('RUN npm ci') < worker);
  const ignore = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n');
  for (const entry of ['node_modules', 'dist', '.git', '.eri']) assert.ok(ignore.includes(entry), entry);
  const dataDir = /ERI_DATA_DIR=(\S+)/.exec(dockerfile)?.[1];
  assert.ok(dataDir);
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.ok(runtime.includes(`mkdir -p ${dataDir} && chown node:node ${dataDir}`));
  assert.ok(runtime.indexOf('chown node:node') < runtime.indexOf('USER node'));
});

it('compose: restart policies, uploads through the proxy, forwarded addresses from the proxy alone', async () => {
  const compose = parse(await readFile(join(REPO_ROOT, 'deploy', 'docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      { restart?: string; environment?: Record<string, string>; networks?: unknown; command?: string[] }
    >;
  };
  for (const [name, s] of Object.entries(compose.services)) assert.equal(s.restart, 'unless-stopped', name);
  const proxy = compose.services.proxy as { networks: { eri: { ipv4_address: string } } } | undefined;
  const proxyIp = proxy?.networks.eri.ipv4_address;
  assert.ok(proxyIp, 'the proxy has a fixed address');
  for (const node of ['node-a', 'node-b']) {
    const trusted = compose.services[node]?.environment?.ERI_TRUSTED_PROXIES;
    assert.equal(trusted, proxyIp, `${node} trusts the proxy and nothing else`);
    loadServerConfig({ ...SECRET, ERI_TRUSTED_PROXIES: trusted });
  }
  assert.deepEqual(compose.services.redis?.command?.slice(1, 3), ['--appendonly', 'yes']);
  const nginx = await readFile(join(REPO_ROOT, 'deploy', 'nginx.conf'), 'utf8');
  assert.match(nginx, /client_max_body_size 2g;/, 'a 2 GiB stimulus passes the proxy');
  // Replaced, not appended to: what the client wrote in the header never reaches the node.
  assert.match(nginx, /proxy_set_header X-Forwarded-For \$remote_addr;/);
});

it('Kubernetes: each pod announces its own public URL', async () => {
  const docs = await yamlDocs('deploy/k8s/eri-stream.yaml');
  const env = (
    docs[2] as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } }
  ).spec.template.spec.containers[0]?.env;
  const names = env?.map((e) => e.name) ?? [];
  const url = env?.find((e) => e.name === 'ERI_PUBLIC_URL')?.value;
  assert.equal(url, 'http://$(ERI_RTC_ANNOUNCED_ADDRESS):8080');
  // Kubernetes expands $(VAR) only from variables defined before it.
  assert.ok(names.indexOf('ERI_RTC_ANNOUNCED_ADDRESS') < names.indexOf('ERI_PUBLIC_URL'));
});
