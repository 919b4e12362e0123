import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { ConfigError, loadConfig, parseConfig } from './load-config.js';

const rejects = (document: unknown, pattern: RegExp) =>
  assert.throws(
    () => parseConfig(document),
    (e) => e instanceof ConfigError && pattern.test(e.message),
  );

describe('config', () => {
  it('the commented default parses to the defaults', () => {
    const fromFile = parseConfig(parse(DEFAULT_CONFIG_YAML));
    const fromNothing = parseConfig({});
    assert.deepEqual({ ...fromFile, hostname: '' }, { ...fromNothing, hostname: '' });
    assert.deepEqual(fromNothing.smtp.listen, { host: '0.0.0.0', port: 587 });
    assert.equal(fromNothing.queue.maxAge, (4 * 24 + 12) * 3600_000);
    assert.deepEqual(fromNothing.smtp.trustedNetworks, []);
  });

  it('the event log is SQLite unless EventStoreDB is configured, with a checked connection string', () => {
    assert.deepEqual(parseConfig({}).store, { kind: 'sqlite' });
    const esdb = parseConfig({
      store: { kind: 'esdb', connectionString: 'esdb://127.0.0.1:2113?tls=false' },
    }).store;
    assert.deepEqual(esdb, {
      kind: 'esdb',
      connectionString: 'esdb://127.0.0.1:2113?tls=false',
      blobMaxAge: 7 * 24 * 3600_000,
    });
    rejects(
      { store: { kind: 'esdb', connectionString: 'http://127.0.0.1:2113' } },
      /store\.connectionString: expected an EventStoreDB connection string/,
    );
    rejects({ store: { kind: 'postgres' } }, /store\.kind/);
  });

  it('cluster: off by default; heartbeat and lease checked against each other', () => {
    assert.deepEqual(parseConfig({}).cluster, { enabled: false, heartbeat: 5000, lease: 30_000 });
    assert.deepEqual(
      parseConfig({ cluster: { enabled: true, heartbeat: '1s', lease: '3s' } }).cluster,
      { enabled: true, heartbeat: 1000, lease: 3000 },
    );
    rejects(
      { cluster: { heartbeat: '10s', lease: '20s' } },
      /cluster\.lease: expected lease to be at least 3 heartbeats/,
    );
    rejects({ cluster: { heartbeat: '0s' } }, /cluster\.heartbeat: expected at least 100ms/);
    assert.deepEqual(parseConfig({ store: { kind: 'sqlite', path: '/srv/events.db' } }).store, {
      kind: 'sqlite',
      path: '/srv/events.db',
    });
  });

  it('a bad value names its key path and the expected form', () => {
    rejects({ smtp: { listen: 'nope' } }, /smtp\.listen: expected HOST:PORT/);
    rejects(
      { smtp: { trustedNetworks: ['10.0.0.0/99'] } },
      /smtp\.trustedNetworks\.0: expected a network in CIDR form/,
    );
    rejects({ queue: { maxAge: 'forever' } }, /queue\.maxAge: expected a duration/);
    rejects({ delivery: { port: 70000 } }, /delivery\.port:/);
    rejects(
      { delivery: { caFiles: ['/nonexistent/ca.pem'] } },
      /delivery\.caFiles\.0: expected a readable PEM file of certificates/,
    );
    rejects(
      { routes: { 'example.com': 'bad route!' } },
      /routes\.example\.com: expected \[host\]:port/,
    );
    rejects({ smtp: { bareLineEndings: 'maybe' } }, /smtp\.bareLineEndings:/);
    rejects({ smpt: {} }, /unknown key "smpt"/);
  });

  it('routes parse into host, port and whether to skip the MX lookup', () => {
    const c = parseConfig({ routes: { 'example.com': '[127.0.0.1]:2526', '*': 'relay.test' } });
    assert.deepEqual(c.routes['example.com'], { host: '127.0.0.1', direct: true, port: 2526 });
    assert.deepEqual(c.routes['*'], { host: 'relay.test', direct: false, port: undefined });
  });

  it('writes the commented default on first run and resolves paths against the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-config-'));
    const path = join(dir, 'mailtrail.yaml');
    const first = loadConfig(path, { create: true });
    assert.equal(first.created, true);
    assert.equal(readFileSync(path, 'utf8'), DEFAULT_CONFIG_YAML);
    assert.equal(first.config.dataDir, join(dir, 'data'));
    writeFileSync(path, 'smtp:\n  listen: 127.0.0.1:2587\n');
    const second = loadConfig(path, { create: true });
    assert.equal(second.created, false);
    assert.deepEqual(second.config.smtp.listen, { host: '127.0.0.1', port: 2587 });
  });
});
