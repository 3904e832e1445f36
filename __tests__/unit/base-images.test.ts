// Pulling base images into the builder again after their layers left the cache service: which
// images a build's log names, and the build that pulls them (pure parts; the pull itself runs in
// the cache-scale end-to-end test).
import { pinnedBaseImages, pullArgv, pullDockerfile } from '../../src/docker/base-images.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('pinnedBaseImages', () => {
  test.each([
    [
      'a stage base',
      `#4 [deps 1/2] FROM docker.io/library/busybox:latest@${D1}\n#4 resolve docker.io/library/busybox:latest@${D1} done`,
      [`docker.io/library/busybox:latest@${D1}`],
    ],
    ['an unnamed stage, a private registry with a port', `#5 [1/3] FROM 127.0.0.1:5000/base/img@${D2}`, [`127.0.0.1:5000/base/img@${D2}`]],
    ['two stages on one image: once', `#4 [a 1/2] FROM x/y@${D1}\n#6 [b 1/4] FROM x/y@${D1}\n#7 [c 1/1] FROM z@${D2}`, [`x/y@${D1}`, `z@${D2}`]],
    ['not pinned (no digest yet)', '#4 [deps 1/2] FROM docker.io/library/busybox:latest', []],
    ['a short digest', '#4 [deps 1/2] FROM busybox@sha256:8913', []],
    ['not a FROM step', `#8 [deps 2/2] RUN echo FROM x@${D1}`, []],
    ['not at the start of a line', `echo #4 [a 1/2] FROM x@${D1}`, []],
    ['upper case (not a reference)', `#4 [a 1/2] FROM X/Y@${D1}`, []],
    ['an option smuggled into the name', `#4 [a 1/2] FROM --x=y@${D1}`, []],
    ['nothing', '', []],
  ])('%s', (_name, log, refs) => {
    expect(pinnedBaseImages(log)).toEqual(refs);
  });

  test('at most 16 images', () => {
    const log = Array.from({ length: 20 }, (_, i) => `#${i} [s${i} 1/1] FROM img${i}@${D1}`).join('\n');
    expect(pinnedBaseImages(log)).toEqual(Array.from({ length: 16 }, (_, i) => `img${i}@${D1}`));
  });
});

describe('the pull build', () => {
  test('a Dockerfile that copies a name matching nothing from each image', () => {
    expect(pullDockerfile([`x/y@${D1}`, `z@${D2}`])).toBe(
      [
        `FROM x/y@${D1} AS obc-base-0`,
        `FROM z@${D2} AS obc-base-1`,
        'FROM scratch',
        'COPY --from=obc-base-0 /obc-pull-nothing* /',
        'COPY --from=obc-base-1 /obc-pull-nothing* /',
        '',
      ].join('\n'),
    );
  });

  const head = 'buildx build --builder b1 --progress plain --provenance=false --file - --output type=cacheonly'.split(' ');
  test.each([
    [[], [...head, '/ctx']],
    [
      ['linux/amd64', 'linux/arm64'],
      [...head, '--platform', 'linux/amd64,linux/arm64', '/ctx'],
    ],
  ])('argv for platforms %j', (platforms, argv) => {
    expect(pullArgv({ builder: 'b1', context: '/ctx', platforms })).toEqual(argv);
  });
});
