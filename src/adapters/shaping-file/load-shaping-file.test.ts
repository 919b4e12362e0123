import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveShaping, responseRulesFor } from '../../domain/shaping/effective.js';
import { mergeRules } from '../../domain/shaping/layers.js';
import type { BaseShaping } from '../../domain/shaping/shaping-values.js';
import { siteOf } from '../../domain/shaping/site.js';
import { parseShaping } from './load-shaping-file.js';

const BASE = `default:
  maxConnections: 10
  messageRate: 100/s
  retry: [1m, 5m]
providers:
  google:
    mx: [google.com, googlemail.com]
    maxConnections: 20
    messageRate: 250/s
domains:
  shop.test:
    maxConnections: 2
  own-mx.test:
    rollup: false
sources:
  mta2:
    maxConnections: 1
`;

const rulesOf = (text: string, file: string) => {
  const loaded = parseShaping(text, file);
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
  return loaded.rules;
};

const BASE_VALUES: BaseShaping = {
  values: {
    maxConnections: 20,
    maxMessagesPerConnection: 100,
    messageRate: null,
    connectionRate: null,
    retry: [300_000],
    maxAge: 86_400_000,
    tls: 'opportunistic',
  },
  keys: {
    maxConnections: 'delivery.maxConnectionsPerDomain',
    maxMessagesPerConnection: 'delivery.maxMessagesPerConnection',
    messageRate: '-',
    connectionRate: '-',
    retry: 'queue.retry',
    maxAge: 'queue.maxAge',
    tls: '-',
  },
};

const GMAIL_MX = ['gmail-smtp-in.l.google.com', 'alt1.gmail-smtp-in.l.google.com'];

describe('shaping files', () => {
  it('layers default → provider → domain → source, and says which line set each value', () => {
    const rules = rulesOf(BASE, 'base.yaml');
    const site = siteOf('shop.test', GMAIL_MX, rules);
    assert.equal(site.key, 'provider:google');
    const plain = effectiveShaping(rules, BASE_VALUES, 'shop.test', site, null);
    assert.deepEqual(
      [plain.maxConnections.value, plain.maxConnections.layer, plain.maxConnections.origin],
      [2, 'domain', { file: 'base.yaml', line: 12 }],
    );
    assert.deepEqual(
      [plain.messageRate.value?.text, plain.messageRate.layer],
      ['250/s', 'provider'],
    );
    assert.deepEqual([plain.retry.value, plain.retry.origin?.line], [[60_000, 300_000], 4]);
    assert.deepEqual([plain.tls.value, plain.tls.layer], ['opportunistic', 'config']);
    assert.deepEqual([plain.maxAge.value, plain.maxAge.layerName], [86_400_000, 'queue.maxAge']);
    const fromMta2 = effectiveShaping(rules, BASE_VALUES, 'shop.test', site, 'mta2');
    assert.deepEqual([fromMta2.maxConnections.value, fromMta2.maxConnections.layer], [1, 'source']);
  });

  it('rolls every domain hosted by a provider into its site, unless the domain opts out', () => {
    const rules = rulesOf(BASE, 'base.yaml');
    assert.equal(siteOf('a.test', GMAIL_MX, rules).key, 'provider:google');
    assert.equal(siteOf('b.test', ['aspmx.l.google.com'], rules).key, 'provider:google');
    const own = siteOf('own-mx.test', GMAIL_MX, rules);
    assert.equal(own.key, 'mx:alt1.gmail-smtp-in.l.google.com,gmail-smtp-in.l.google.com');
    assert.equal(
      effectiveShaping(rules, BASE_VALUES, 'own-mx.test', own, null).maxConnections.layer,
      'default',
    );
    // A look-alike suffix is not Google.
    assert.equal(siteOf('c.test', ['mx.notgoogle.com'], rules).key, 'mx:mx.notgoogle.com');
  });

  it('a later file overrides an earlier one, layer by layer', () => {
    const rules = mergeRules(
      rulesOf(BASE, 'base.yaml'),
      rulesOf('providers:\n  google:\n    mx: [google.com]\n    messageRate: 10/s\n', 'ops.yaml'),
    );
    const v = effectiveShaping(
      rules,
      BASE_VALUES,
      'x.test',
      siteOf('x.test', GMAIL_MX, rules),
      null,
    );
    assert.deepEqual(
      [v.messageRate.value?.text, v.messageRate.origin],
      ['10/s', { file: 'ops.yaml', line: 4 }],
    );
    assert.equal(
      v.maxConnections.value,
      20,
      'what ops.yaml does not set still comes from base.yaml',
    );
  });

  it('reports every error with its file, line and key path', () => {
    const loaded = parseShaping(
      [
        'default:',
        '  maxConnections: -3',
        '  messageRate: lots',
        '  retry: [5 minutes]',
        'providers:',
        '  acme:',
        '    mx: [not a host]',
        '    maxConnectons: 4',
        'domains:',
        '  x.test:',
        '    rollup: maybe',
        'extra: 1',
        '',
      ].join('\n'),
      'bad.yaml',
    );
    assert.equal(loaded.ok, false);
    const errors = !loaded.ok ? loaded.errors.map((e) => `${e.line} ${e.path}: ${e.message}`) : [];
    assert.deepEqual(errors.sort(), [
      '11 domains.x.test.rollup: expected true or false',
      '12 : unknown section "extra" (expected default, providers, domains, sources)',
      '2 default.maxConnections: Too small: expected number to be >0',
      '3 default.messageRate: expected a rate such as 100/s, 3000/m, 50000/h or 1000000/d',
      '4 default.retry.0: expected a duration such as 30s, 5m, 4h or 4d12h',
      '8 providers.acme.maxConnectons: unknown shaping key "maxConnectons"',
    ]);
  });

  it('reads reply rules with their line, adds them up across layers, and refuses a bad one', () => {
    const rules = rulesOf(
      [
        'default:',
        '  responses:',
        "    - { match: '^421 4\\.7\\.0', threshold: 3, within: 10m, action: backoff, for: 1h, backoff: { maxConnections: 1, messageRate: 10/m } }",
        'providers:',
        '  google:',
        '    mx: [google.com]',
        '    responses:',
        "      - match: 'unsolicited'",
        '        action: suspend',
        '        for: 30m',
        '',
      ].join('\n'),
      'rules.yaml',
    );
    const google = siteOf('x.test', GMAIL_MX, rules);
    const found = responseRulesFor(rules, 'x.test', google, null);
    assert.deepEqual(
      found.map((r) => [r.match.source, r.threshold, r.withinMs, r.action, r.forMs, r.origin.line]),
      [
        ['^421 4\\.7\\.0', 3, 600_000, 'backoff', 3_600_000, 3],
        ['unsolicited', 1, 3_600_000, 'suspend', 1_800_000, 8],
      ],
    );
    assert.equal(found[0]?.backoff.messageRate?.text, '10/m');
    assert.equal(
      responseRulesFor(rules, 'y.test', siteOf('y.test', ['mx.y.test'], rules), null).length,
      1,
    );

    const bad = parseShaping(
      "default:\n  responses:\n    - { match: '(', action: pause, for: 1h }\n",
      'bad.yaml',
    );
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.errors.map((e) => `${e.line} ${e.path}`).sort(), [
      '3 default.responses.0.action',
      '3 default.responses.0.match',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const loaded = parseShaping('default:\n  maxConnections: [1\n  tls: off\n', 'broken.yaml');
    assert.equal(loaded.ok, false);
    assert.ok(!loaded.ok && loaded.errors[0]?.file === 'broken.yaml' && loaded.errors[0].line >= 2);
  });

  it('reads a source warm-up plan, each error at its line, and knows every reply action', () => {
    const rules = rulesOf(
      [
        'sources:',
        '  mta3:',
        '    maxConnections: 2',
        '    warmup:',
        '      start: 2026-11-20',
        '      daily:',
        '        default: [50, 100]',
        '        google: { from: 10, to: 1000, days: 3 }',
        '    responses:',
        "      - { match: '^550 5\\.7\\.1', action: disable-source, for: 1h }",
        "      - { match: 'domain not found', action: bounce-queue, for: 10m }",
      ].join('\n'),
      'warm.yaml',
    );
    assert.deepEqual(rules.warmups.mta3?.daily, { default: [50, 100], google: [10, 100, 1000] });
    assert.deepEqual(rules.warmups.mta3?.origin, { file: 'warm.yaml', line: 4 });
    assert.deepEqual(
      rules.layers[0]?.responses.map((r) => r.action),
      ['disable-source', 'bounce-queue'],
    );

    const bad = parseShaping(
      'sources:\n  mta3:\n    warmup:\n      start: tomorrow\n      daily: { default: { from: 9, to: 1, days: 3 } }\n',
      'bad.yaml',
    );
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.errors.map((e) => `${e.line} ${e.path}`).sort(), [
      '4 sources.mta3.warmup.start',
      '5 sources.mta3.warmup.daily.default',
    ]);
  });
});
