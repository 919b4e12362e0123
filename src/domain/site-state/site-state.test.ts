import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countMatch, type ResponseRule } from '../shaping/response-rules.js';
import { formatSmtpReply } from '../smtp-reply/smtp-reply.js';
import { decideSite, evolveSite, inForce, initialSiteState, type SiteEvent } from './site-state.js';

const suspended = (until: number): SiteEvent => ({
  type: 'SiteSuspended',
  data: {
    at: 0,
    until,
    rule: { file: 'f.yaml', line: 3, match: '^421' },
    reply: { code: 421, enhancedCode: '4.7.0', text: 'try later' },
    matches: 3,
  },
});

describe('site state', () => {
  it('suspends, does not repeat a suspension already in force as long, extends a shorter one', () => {
    const state = [suspended(100)].reduce(evolveSite, initialSiteState);
    const again = suspended(100);
    assert.deepEqual(decideSite({ type: 'Suspend', data: again.data as never }, state), []);
    const longer = suspended(200);
    assert.deepEqual(decideSite({ type: 'Suspend', data: longer.data as never }, state), [longer]);
  });

  it('each action has its own place in the state and lapses on its own', () => {
    const data = (until: number) => ({ ...(suspended(until).data as object) }) as never;
    const state = [
      suspended(100),
      { type: 'SourceDisabled', data: data(300) } as SiteEvent,
      { type: 'SiteQueueBounced', data: data(200) } as SiteEvent,
    ].reduce(evolveSite, initialSiteState);
    assert.deepEqual(
      decideSite({ type: 'DisableSource', data: data(300) }, state),
      [],
      'already disabled as long',
    );
    assert.equal(
      decideSite({ type: 'BounceQueue', data: data(250) }, state)[0]?.type,
      'SiteQueueBounced',
    );
    const at150 = inForce(state, 150);
    assert.deepEqual(
      [!!at150.suspension, !!at150.bounce, !!at150.disabled, !!at150.backoff],
      [false, true, true, false],
    );
  });

  it('a lapsed suspension is no longer in force', () => {
    const state = [suspended(100)].reduce(evolveSite, initialSiteState);
    assert.ok(inForce(state, 99).suspension);
    assert.equal(inForce(state, 100).suspension, null);
  });

  it('counts matches in a sliding window up to the threshold', () => {
    const rule = { threshold: 3, withinMs: 1000 } as ResponseRule;
    let times: number[] = [];
    const reached: boolean[] = [];
    for (const at of [0, 500, 1600, 1700, 1800]) {
      const r = countMatch(times, rule, at);
      times = r.times;
      reached.push(r.reached);
    }
    // 0 and 500 fall out of the window before 1600, 1700 and 1800 make three.
    assert.deepEqual(reached, [false, false, false, false, true]);
    assert.equal(
      formatSmtpReply({ code: 421, enhancedCode: '4.7.0', text: 'slow down' }),
      '421 4.7.0 slow down',
    );
    assert.equal(
      formatSmtpReply({ code: 450, enhancedCode: null, text: 'greylisted' }),
      '450 greylisted',
    );
  });
});
