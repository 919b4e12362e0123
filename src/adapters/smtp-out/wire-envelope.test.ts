import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireEnvelope } from './wire-envelope.js';

describe('the envelope on the wire', () => {
  it('to a server with SMTPUTF8: every address as it is', () => {
    assert.deepEqual(wireEnvelope('andré@a.test', ['josé@b.test', 'x@bücher.de'], true), {
      from: 'andré@a.test',
      to: [
        { wire: 'josé@b.test', recipients: ['josé@b.test'] },
        { wire: 'x@bücher.de', recipients: ['x@bücher.de'] },
      ],
      unsendable: [],
    });
  });

  it('without: domains as A-labels, and one mailbox written two ways goes once', () => {
    const wire = wireEnvelope('', ['a@bücher.de', 'a@xn--bcher-kva.de', 'b@plain.test'], false);
    assert.deepEqual(wire.to, [
      { wire: 'a@xn--bcher-kva.de', recipients: ['a@bücher.de', 'a@xn--bcher-kva.de'] },
      { wire: 'b@plain.test', recipients: ['b@plain.test'] },
    ]);
    assert.equal(wire.from, '');
  });

  it('without: a local part beyond ASCII cannot go, and names itself', () => {
    const wire = wireEnvelope('app@a.test', ['josé@b.test', 'ann@b.test'], false);
    assert.deepEqual(wire.unsendable, [{ recipient: 'josé@b.test', needs: 'josé@b.test' }]);
    assert.deepEqual(
      wire.to.map((t) => t.wire),
      ['ann@b.test'],
    );
  });

  it("without: a sender beyond ASCII stops every recipient, and the sender is what's named", () => {
    const wire = wireEnvelope('andré@a.test', ['ann@b.test'], false);
    assert.deepEqual(wire.to, []);
    assert.deepEqual(wire.unsendable, [{ recipient: 'ann@b.test', needs: 'andré@a.test' }]);
  });
});
