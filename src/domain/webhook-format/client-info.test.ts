import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientInfo } from './client-info.js';

describe('client info from a User-Agent', () => {
  const cases: [string | null, string, string, string, string][] = [
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
      'Edge',
      'browser',
      'Windows',
      'desktop',
    ],
    [
      'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
      'Gmail',
      'email client',
      'unknown',
      'unknown',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      'Apple Mail',
      'email client',
      'iOS',
      'mobile',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
      'Chrome',
      'browser',
      'Android',
      'tablet',
    ],
    [
      'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)',
      'Outlook',
      'email client',
      'Windows',
      'desktop',
    ],
    ['Mozilla/5.0', 'unknown', 'unknown', 'unknown', 'unknown'],
    [null, 'unknown', 'unknown', 'unknown', 'unknown'],
  ];
  for (const [ua, client, kind, os, device] of cases)
    it(`${client} on ${os} (${device})`, () => {
      const info = clientInfo(ua);
      assert.deepEqual(
        [info.client.name, info.client.kind, info.os.name, info.device],
        [client, kind, os, device],
      );
    });
});
