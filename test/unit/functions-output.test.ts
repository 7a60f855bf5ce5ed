/** local/functions-output.ts: serverless offline's output reaches onFunctionsOutputLine whole line by whole line. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forEachLine, onFunctionsOutputLine } from '../../local/functions-output';

describe('functions output', () => {
  it('hands over whole lines whatever the chunking, the last partial line at the end', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    forEachLine(stream, (line) => lines.push(line));
    for (const chunk of ['{"a":', '1}\n{"b":2}\nplain', ' text\n', 'tail']) stream.write(chunk);
    stream.end();
    await new Promise((r) => stream.on('end', r));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', 'plain text', 'tail']);
  });

  it('writes each line to the log file, and to the terminal only when one is given (--verbose)', () => {
    const written = (): { out: string[]; stream: NodeJS.WritableStream } => {
      const out: string[] = [];
      return { out, stream: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream };
    };
    const file = written();
    const echo = written();
    onFunctionsOutputLine('quiet', { file: file.stream });
    onFunctionsOutputLine('verbose', { file: file.stream, echo: echo.stream });
    expect(file.out).toEqual(['quiet\n', 'verbose\n']);
    expect(echo.out).toEqual(['verbose\n']);
  });
});
