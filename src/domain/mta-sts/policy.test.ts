import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  afterFailedFetch,
  mxPatternMatches,
  policyIdFromTxt,
  policyStep,
  type StsPolicy,
} from './policy.js';

const DAY = 86_400_000;
const policy = (over: Partial<StsPolicy> = {}): StsPolicy => ({
  domain: 'example.com',
  id: 'a1',
  mode: 'enforce',
  mx: ['mx.example.com'],
  maxAgeSeconds: 10 * 86_400,
  fetchedAt: 0,
  ...over,
});

describe('MX patterns (RFC 8461 §4.1)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['mx.example.com', 'mx.example.com', true],
    ['mx.example.com', 'MX.Example.COM.', true],
    ['mx.example.com', 'mx2.example.com', false],
    ['*.example.com', 'mx.example.com', true],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'mxexample.com', false],
    ['*.example.com', '.example.com', false],
  ];
  for (const [pattern, host, expected] of cases)
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${host}`, () =>
      assert.equal(mxPatternMatches(pattern, host), expected));
});

describe('the _mta-sts TXT record', () => {
  it('gives its id', () => {
    assert.equal(policyIdFromTxt(['v=STSv1; id=20160831085700Z;']), '20160831085700Z');
    assert.equal(policyIdFromTxt(['some other record', 'v=STSv1;id=abc']), 'abc');
  });
  it('is no policy when missing, doubled, or without a valid id', () => {
    assert.equal(policyIdFromTxt([]), null);
    assert.equal(policyIdFromTxt(['v=STSv1; id=a;', 'v=STSv1; id=b;']), null);
    assert.equal(policyIdFromTxt(['v=STSv1; id=has-dash;']), null);
    assert.equal(policyIdFromTxt(['v=STSv1; id=a234567890123456789012345678901234;']), null);
    assert.equal(policyIdFromTxt(['v=STSv2; id=a;']), null);
  });
});

describe('which policy applies', () => {
  const cached = policy();
  it('given a live cached policy, when the TXT id is the same, then it applies', () =>
    assert.deepEqual(policyStep(cached, { kind: 'id', id: 'a1' }, DAY), {
      kind: 'use',
      policy: cached,
    }));
  it('given a live cached policy, when the TXT record is gone or unanswered, then it still applies', () => {
    assert.equal(policyStep(cached, { kind: 'none' }, DAY).kind, 'use');
    assert.equal(policyStep(cached, { kind: 'failed' }, DAY).kind, 'use');
  });
  it('given a live cached policy, when the TXT id changed, then the policy is fetched', () =>
    assert.equal(policyStep(cached, { kind: 'id', id: 'b2' }, DAY).kind, 'fetch'));
  it('given a policy past half its max_age, when the id is the same, then it is refreshed early', () =>
    assert.equal(policyStep(cached, { kind: 'id', id: 'a1' }, 6 * DAY).kind, 'fetch'));
  it('given a policy past half its max_age, when the TXT record is hidden, then it is still refreshed', () => {
    assert.equal(policyStep(cached, { kind: 'none' }, 6 * DAY).kind, 'fetch');
    assert.equal(policyStep(cached, { kind: 'failed' }, 6 * DAY).kind, 'fetch');
  });
  it('given an expired policy, when the TXT record is gone, then there is none', () =>
    assert.equal(policyStep(cached, { kind: 'none' }, 11 * DAY).kind, 'none'));
  it('given nothing cached, then a TXT id means fetching, none means no policy', () => {
    assert.equal(policyStep(undefined, { kind: 'id', id: 'a1' }, 0).kind, 'fetch');
    assert.equal(policyStep(undefined, { kind: 'failed' }, 0).kind, 'none');
  });
  it('when a fetch fails, a live cached policy still holds and an expired one does not', () => {
    assert.equal(afterFailedFetch(cached, DAY).kind, 'use');
    assert.equal(afterFailedFetch(cached, 11 * DAY).kind, 'none');
    assert.equal(afterFailedFetch(undefined, 0).kind, 'none');
  });
});
