import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/** The parts of smtp-server's SMTPStream that its DATA reader touches. */
interface DataModeStream {
  _dataStream: (NodeJS.WritableStream & { writable: boolean; destroyed: boolean }) | null;
  _lastBytes: Buffer | false;
  _atDataStart: boolean;
  _countDataBytes(length: number): void;
  _endDataMode(chunk: Buffer | false, remainder: Buffer, done: (error?: Error) => void): void;
  _feedDataStream(chunk: Buffer, done: (error?: Error) => void): void;
}

type FeedDataStream = DataModeStream['_feedDataStream'];

const proto = SMTPStream.prototype as unknown as DataModeStream;

/** smtp-server's own DATA reader, kept for the differential test. */
export const stockFeedDataStream: FeedDataStream = proto._feedDataStream;

const END_SEQUENCE = Buffer.from('\r\n.\r\n');
const DATA_START_END = Buffer.from('.\r\n');
const LF_DOT = Buffer.from('\n.');
const DOT = 0x2e;

/**
 * smtp-server's DATA reader with the same results, found natively. Stock, it looks at every
 * byte in JavaScript for a dot at the start of a line (most of the SMTP thread's time on
 * 100 KB messages) and takes an event-loop turn for every dot-stuffed line. This one finds
 * each "\n." with Buffer.indexOf and strips stuffing dots in the same pass. Everything else
 * is stock: only <CRLF>.<CRLF> ends DATA, a leading "." is a terminator only at the very
 * start, the last four bytes wait for the next chunk. The data-scan test feeds both readers
 * the same input in random chunkings and compares what they emit.
 */
export const fastFeedDataStream: FeedDataStream = function (this: DataModeStream, input, done) {
  const dataStream = this._dataStream as NonNullable<DataModeStream['_dataStream']>;
  let chunk = input;
  if (this._lastBytes !== false && this._lastBytes.length > 0) {
    chunk = Buffer.concat([this._lastBytes, chunk], this._lastBytes.length + chunk.length);
    this._lastBytes = false;
  }
  const len = chunk.length;
  if (this._atDataStart && len >= 3 && chunk.subarray(0, 3).equals(DATA_START_END)) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  let start = 0;
  if (this._atDataStart && len >= 2 && chunk[0] === DOT && chunk[1] === DOT) {
    start = 1;
    this._atDataStart = false;
  }
  // A dot at i (i - 1 is LF) is looked at while start + 2 <= i < len - 2, as stock does.
  for (let lf = chunk.indexOf(LF_DOT, start + 1); lf !== -1; lf = chunk.indexOf(LF_DOT, lf + 1)) {
    const i = lf + 1;
    if (i >= len - 2) break;
    if (i < start + 2) continue;
    if (chunk.subarray(i - 2, i + 3).equals(END_SEQUENCE)) {
      const last = chunk.subarray(start, i);
      this._countDataBytes(last.length);
      this._endDataMode(last, chunk.subarray(i + 3), done);
      return;
    }
    if (chunk[i + 1] === DOT) {
      const piece = chunk.subarray(start, i);
      this._countDataBytes(piece.length);
      if (dataStream.writable) dataStream.write(piece);
      // Drop the stuffing dot; the line goes on from the dot after it.
      start = i + 1;
    }
  }
  const rest = chunk.subarray(start);
  this._lastBytes = rest.length < 4 ? rest : rest.subarray(rest.length - 4);
  if (this._lastBytes.length >= rest.length) return done();
  const piece = rest.subarray(0, rest.length - this._lastBytes.length);
  this._countDataBytes(piece.length);
  if (!dataStream.writable) return done();
  if (dataStream.write(piece) || dataStream.destroyed) return done();
  // A stream the application destroys never drains, it only closes.
  const onDrain = () => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
};

export const installFastDataScan = (): void => {
  proto._feedDataStream = fastFeedDataStream;
};
