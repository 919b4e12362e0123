import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deliveryTime } from './mailgun-request.js';

describe('o:deliverytime', () => {
  it('reads an RFC 2822 date in its zone, one without a zone as UTC, and Unix seconds', () => {
    // A server in another zone than UTC must read a zoneless date the same way.
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.equal(deliveryTime('Wed, 14 Oct 2026 06:09:00'), Date.UTC(2026, 9, 14, 6, 9));
      assert.equal(deliveryTime('Wed, 14 Oct 2026 06:09:00 -0400'), Date.UTC(2026, 9, 14, 10, 9));
      assert.equal(deliveryTime('14 Oct 2026 06:09 GMT'), Date.UTC(2026, 9, 14, 6, 9));
      assert.equal(deliveryTime('1791958140'), 1791958140_000);
      assert.equal(deliveryTime('tomorrow'), null);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
