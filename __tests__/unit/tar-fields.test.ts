// The tar header pieces the leak guard's reader and the cache mount hash share: one header block,
// the extension headers before an entry, and how much content follows a header.
import { TAR_BLOCK, TarExtensions, contentSize, parseHeader, tarPadded } from '../../src/tar-fields.js';

/** A header block: name, octal size, type, magic and (ustar) prefix. */
function header(o: { name: string; size?: number; type?: string; magic?: string; prefix?: string }): Buffer {
  const h = Buffer.alloc(TAR_BLOCK);
  h.write(o.name, 0, 'utf8');
  h.write((o.size ?? 0).toString(8).padStart(11, '0'), 124, 'ascii');
  h.write(o.type ?? '0', 156, 'ascii');
  h.write(o.magic ?? 'ustar\u000000', 257, 'latin1');
  if (o.prefix) h.write(o.prefix, 345, 'utf8');
  return h;
}
const pax = (records: Record<string, string>) =>
  Buffer.from(
    Object.entries(records)
      .map(([k, v]) => {
        const body = ` ${k}=${v}\n`;
        let len = body.length + 1;
        while (String(len).length + body.length !== len) len++;
        return `${len}${body}`;
      })
      .join(''),
  );

describe('parseHeader', () => {
  test('type, name and size; a NUL type is a regular file', () => {
    expect(parseHeader(header({ name: 'a/b.txt', size: 1234 }))).toEqual({ type: '0', name: 'a/b.txt', size: 1234 });
    const h = header({ name: 'x', type: '5' });
    h[156] = 0;
    expect(parseHeader(h).type).toBe('0');
  });
  test('a POSIX ustar prefix is joined to the name; the old GNU format has none (those bytes hold other fields)', () => {
    expect(parseHeader(header({ name: 'file', prefix: 'deep/dir' })).name).toBe('deep/dir/file');
    expect(parseHeader(header({ name: 'file', prefix: '0000000', magic: 'ustar  \u0000' })).name).toBe('file');
  });
  test('a bad size field fails, naming the field', () => {
    const h = header({ name: 'x' });
    h.write('zz', 124, 'ascii');
    expect(() => parseHeader(h)).toThrow('tar: bad size field "zz');
  });
});

describe('TarExtensions', () => {
  test('pax records and GNU long names apply to the next entry only', () => {
    const ext = new TarExtensions();
    expect(['x', 'g', 'L', 'K'].every((t) => TarExtensions.is(t)) && !TarExtensions.is('0')).toBe(true);
    ext.add('x', pax({ path: 'long/pax/name', size: '99', uid: '1000', gid: 'x' }));
    ext.add('K', Buffer.from('target\0'));
    expect(ext.take()).toEqual({ path: 'long/pax/name', linkpath: 'target', size: 99, uid: 1000 });
    expect(ext.take()).toEqual({});
  });
  test('a pax path wins over a GNU long name; an empty pax path does not', () => {
    const ext = new TarExtensions();
    ext.add('L', Buffer.from('gnu/long\0'));
    ext.add('x', pax({ path: 'pax/long' }));
    expect(ext.take().path).toBe('pax/long');
    ext.add('L', Buffer.from('gnu/long\0'));
    ext.add('x', pax({ path: '' }));
    expect(ext.take().path).toBe('gnu/long');
  });
  test('a global pax header is read and not applied', () => {
    const ext = new TarExtensions();
    ext.add('g', pax({ path: 'global' }));
    expect(ext.take()).toEqual({});
  });
});

test.each<[string, number, number]>([
  ['0', 700, 700],
  ['S', 700, 700],
  ['1', 700, 0],
  ['2', 700, 0],
  ['3', 700, 0],
  ['4', 700, 0],
  ['5', 700, 0],
  ['6', 700, 0],
  ['V', 700, 700],
])('an entry of type %s with size %d has %d content bytes', (type, size, content) => {
  expect(contentSize(type, size)).toBe(content);
  expect(tarPadded(content) % TAR_BLOCK).toBe(0);
});
