import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { fastFeedDataStream, stockFeedDataStream } from './data-scan.js';

interface Parser {
  oncommand(command: Buffer, next?: () => void): void;
  startDataMode(maxBytes?: number): NodeJS.ReadableStream & { byteLength: number };
  continue(): void;
  _feedDataStream: unknown;
}

/** What a parser makes of the input: commands, and each DATA payload with its byte count. */
const parse = async (feed: unknown, chunks: readonly Buffer[]): Promise<string[]> => {
  const stream = new SMTPStream() as unknown as Parser & NodeJS.WritableStream;
  stream._feedDataStream = feed;
  const seen: string[] = [];
  stream.oncommand = (command, next) => {
    seen.push(`command ${command.toString('latin1')}`);
    if (command.toString() === 'DATA') {
      const data = stream.startDataMode();
      const parts: Buffer[] = [];
      data.on('data', (b: Buffer) => parts.push(b));
      data.on('end', () => {
        seen.push(
          `data ${JSON.stringify(Buffer.concat(parts).toString('latin1'))} ${data.byteLength}`,
        );
        stream.continue();
      });
    }
    next?.();
  };
  for (const chunk of chunks) await new Promise((r) => stream.write(chunk, r));
  await new Promise<void>((r) => stream.end(() => r()));
  return seen;
};

const TOKENS = [
  'a',
  'b',
  '.',
  '..',
  '\r\n',
  '\r\n.',
  '\r\n..',
  '\r\n.\r\n',
  '\n',
  '\r',
  '\n.',
  '\0',
];

describe('smtp-server DATA reader, native scan', () => {
  it('emits what stock smtp-server emits, for any input and any chunking', async () => {
    const random = seededRandom(7);
    for (let round = 0; round < 1500; round++) {
      let body = '';
      const length = Math.floor(random() * 40);
      for (let i = 0; i < length; i++) body += TOKENS[Math.floor(random() * TOKENS.length)];
      const bytes = Buffer.from(`EHLO x\r\nDATA\r\n${body}\r\n.\r\nQUIT\r\n`, 'latin1');
      const chunks: Buffer[] = [];
      const maxChunk = round % 3 === 0 ? bytes.length : 1 + Math.floor(random() * 9);
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(random() * maxChunk);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      const stock = await parse(stockFeedDataStream, chunks);
      const fast = await parse(fastFeedDataStream, chunks);
      assert.deepEqual(fast, stock, `input ${JSON.stringify(bytes.toString('latin1'))}`);
    }
  });

  it('unstuffs a message of many dotted lines in one pass, as stock does in many', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `..line ${i}`).join('\r\n');
    const chunks = [Buffer.from(`DATA\r\n${lines}\r\n.\r\nNOOP\r\n`)];
    const fast = await parse(fastFeedDataStream, chunks);
    assert.deepEqual(fast, await parse(stockFeedDataStream, chunks));
    assert.match(fast[1] ?? '', /^data "\.line 0\\r\\n\.line 1\\r\\n/);
    assert.equal(fast[2], 'command NOOP');
  });
});
