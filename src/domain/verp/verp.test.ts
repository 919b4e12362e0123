import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVerpLocalPart, verpLocalPart } from './verp.js';

const key = Buffer.alloc(32, 7);
const target = { messageId: '01JQ3ZK7X9M2N4P6R8T0V2W4Y6', recipientIndex: 37 };

describe('VERP return paths', () => {
  it('name the message and recipient, and read back in any case', () => {
    const local = verpLocalPart(key, target);
    assert.match(local, /^b\+01jq3zk7x9m2n4p6r8t0v2w4y6\.11\.[0-9a-f]{16}$/);
    assert.ok(local.length <= 64, 'fits a local part');
    assert.deepEqual(parseVerpLocalPart(key, local), { ok: true, target });
    assert.deepEqual(parseVerpLocalPart(key, local.toUpperCase()), { ok: true, target });
  });

  it('refuse a forged mac, another key, a changed index, and what is not ours', () => {
    const local = verpLocalPart(key, target);
    const flipped = `${local.slice(0, -1)}${local.endsWith('0') ? '1' : '0'}`;
    assert.deepEqual(parseVerpLocalPart(key, flipped), { ok: false, code: 'Forged' });
    assert.deepEqual(parseVerpLocalPart(Buffer.alloc(32, 8), local), { ok: false, code: 'Forged' });
    assert.deepEqual(parseVerpLocalPart(key, local.replace('.11.', '.12.')), {
      ok: false,
      code: 'Forged',
    });
    assert.deepEqual(parseVerpLocalPart(key, 'b+nonsense'), { ok: false, code: 'Malformed' });
    assert.deepEqual(parseVerpLocalPart(key, 'postmaster'), { ok: false, code: 'NotVerp' });
  });
});
