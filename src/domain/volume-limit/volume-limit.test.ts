import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  capReached,
  capsFor,
  MINUTE_MS,
  type MinuteVolume,
  recordVolume,
  usageIn,
} from './volume-limit.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const at = (minutes: number, seconds = 0) => T0 + minutes * MINUTE_MS + seconds * 1000;
const one = { messages: 1, recipients: 1 };

const sent = (...entries: Array<[minute: number, messages: number, recipients?: number]>) =>
  entries.reduce<MinuteVolume[]>(
    (minutes, [minute, messages, recipients = messages]) =>
      recordVolume(minutes, { messages, recipients }, at(minute)),
    [],
  );

describe('volume caps', () => {
  it('the hour is this minute and the 59 before it; the day, the 1,439 before it', () => {
    const minutes = sent([0, 5], [30, 2], [59, 1]);
    assert.deepEqual(usageIn(minutes, 'hour', at(59, 30)), { messages: 8, recipients: 8 });
    assert.deepEqual(usageIn(minutes, 'hour', at(60)), { messages: 3, recipients: 3 });
    assert.deepEqual(usageIn(minutes, 'day', at(60)), { messages: 8, recipients: 8 });
    assert.deepEqual(usageIn(minutes, 'day', at(1440)), { messages: 3, recipients: 3 });
  });

  it('a submission that fits is let through, one that goes over is not', () => {
    const minutes = sent([0, 9]);
    const caps = { hour: { messages: 10 } };
    assert.equal(capReached(caps, minutes, one, at(1)), null);
    const over = capReached(caps, recordVolume(minutes, one, at(1)), one, at(2));
    assert.deepEqual(over, {
      window: 'hour',
      measure: 'messages',
      cap: 10,
      used: 10,
      // The 9 of minute 0 leave the window at 13:00.
      retryAt: at(60),
    });
  });

  it('retry comes when enough of the oldest minutes have left the window', () => {
    const minutes = sent([0, 2], [10, 3], [20, 5]);
    const over = capReached(
      { hour: { messages: 10 } },
      minutes,
      { messages: 4, recipients: 4 },
      at(30),
    );
    // 10 used + 4 is 4 over: minute 0 frees 2, minute 10 frees 3 more.
    assert.equal(over?.retryAt, at(70));
  });

  it('recipients are capped apart from messages, and a day cap from an hour cap', () => {
    const minutes = sent([0, 1, 900]);
    const caps = { hour: { messages: 100 }, day: { recipients: 1000 } };
    assert.equal(capReached(caps, minutes, { messages: 1, recipients: 100 }, at(5)), null);
    const over = capReached(caps, minutes, { messages: 1, recipients: 101 }, at(5));
    assert.equal(over?.window, 'day');
    assert.equal(over?.measure, 'recipients');
    assert.equal(over?.retryAt, at(1440));
  });

  it('a submission larger than the cap by itself never fits: no retry time', () => {
    const over = capReached(
      { hour: { recipients: 50 } },
      [],
      { messages: 1, recipients: 51 },
      at(0),
    );
    assert.equal(over?.retryAt, null);
  });

  it('a credential gets its own caps over the general ones, measure by measure', () => {
    const configured = {
      '*': { hour: { messages: 100, recipients: 500 }, day: { messages: 1000 } },
      newsletter: { hour: { messages: 10_000 } },
    };
    assert.deepEqual(capsFor(configured, 'newsletter'), {
      hour: { messages: 10_000, recipients: 500 },
      day: { messages: 1000 },
    });
    assert.deepEqual(capsFor(configured, 'app'), configured['*']);
    assert.equal(capsFor({}, 'app'), null);
  });

  it('minutes older than a day are forgotten as new ones are recorded', () => {
    const minutes = sent([0, 1], [1439, 1], [1440, 1]);
    assert.deepEqual(
      minutes.map((m) => (m.minute - T0) / MINUTE_MS),
      [1439, 1440],
    );
  });
});
