// Build failures: buildx's output -> the one failure line and the Dockerfile location; the location
// -> a workspace-relative annotation target. Transcripts are buildx 0.13 plain progress.
import { parseBuildxFailure, annotationTarget } from '../../src/annotations.js';

const PARSE_ERROR = `#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 84B done
#1 DONE 0.0s
Dockerfile:3
--------------------
   1 |     FROM busybox
   2 |     RUN echo fine
   3 | >>> COPPY nothing /here
   4 |     
--------------------
ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY (did you mean COPY?)
`;

const RUN_FAILED = `#5 [2/3] RUN echo hi && echo there
#5 0.165 hi
#5 DONE 0.2s

#6 [3/3] RUN echo bad >&2 && false
#6 0.178 bad
#6 ERROR: process "/bin/sh -c echo bad >&2 && false" did not complete successfully: exit code: 1
------
 > [3/3] RUN echo bad >&2 && false:
0.178 bad
------
Dockerfile:3
--------------------
   1 |     FROM busybox
   2 |     RUN echo hi && echo there
   3 | >>> RUN echo bad >&2 && false
   4 |     
--------------------
ERROR: failed to solve: process "/bin/sh -c echo bad >&2 && false" did not complete successfully: exit code: 1
`;

const MULTILINE_RUN = `------
 > [2/2] RUN echo a   && false:
0.160 a
------
Dockerfile.prod:2
--------------------
   1 |     FROM busybox
   2 | >>> RUN echo a \\
   3 | >>>   && false
   4 |     
--------------------
ERROR: failed to solve: process "/bin/sh -c echo a   && false" did not complete successfully: exit code: 1
`;

const NO_LOCATION = `#2 [internal] load metadata for docker.io/library/nosuch:latest
#2 ERROR: pull access denied, repository does not exist or may require authorization
------
 > [internal] load metadata for docker.io/library/nosuch:latest:
------
ERROR: failed to solve: nosuch: failed to resolve source metadata for docker.io/library/nosuch:latest: pull access denied
`;

describe('parseBuildxFailure', () => {
  test.each([
    [
      'a parse error',
      PARSE_ERROR,
      {
        message: 'ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY (did you mean COPY?)',
        file: 'Dockerfile',
        startLine: 3,
        endLine: 3,
      },
    ],
    [
      'a failing RUN (the step-level "#6 ERROR" line is not the message)',
      RUN_FAILED,
      {
        message: 'ERROR: failed to solve: process "/bin/sh -c echo bad >&2 && false" did not complete successfully: exit code: 1',
        file: 'Dockerfile',
        startLine: 3,
        endLine: 3,
      },
    ],
    [
      'a RUN continued over two lines, in a named Dockerfile',
      MULTILINE_RUN,
      {
        message: 'ERROR: failed to solve: process "/bin/sh -c echo a   && false" did not complete successfully: exit code: 1',
        file: 'Dockerfile.prod',
        startLine: 2,
        endLine: 3,
      },
    ],
    [
      'an error without a source excerpt',
      NO_LOCATION,
      { message: 'ERROR: failed to solve: nosuch: failed to resolve source metadata for docker.io/library/nosuch:latest: pull access denied' },
    ],
    ['no ERROR line: the last meaningful line', 'something\nwent wrong here\n\n', { message: 'went wrong here' }],
    [
      'a parse error without the excerpt: the line from the message',
      'ERROR: failed to solve: dockerfile parse error on line 7: FROM requires either one or three arguments\n',
      {
        message: 'ERROR: failed to solve: dockerfile parse error on line 7: FROM requires either one or three arguments',
        startLine: 7,
        endLine: 7,
      },
    ],
    [
      'CRLF output',
      PARSE_ERROR.replace(/\n/g, '\r\n'),
      {
        message: 'ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: COPPY (did you mean COPY?)',
        file: 'Dockerfile',
        startLine: 3,
        endLine: 3,
      },
    ],
  ])('%s', (_name, output, expected) => {
    expect(parseBuildxFailure(output)).toEqual(expected);
  });
});

describe('annotationTarget', () => {
  const f = { message: 'ERROR: x', file: 'Dockerfile', startLine: 3, endLine: 4 };
  test.each<[string, Parameters<typeof annotationTarget>[0], string, string, ReturnType<typeof annotationTarget>]>([
    ['Dockerfile at the workspace root', f, 'Dockerfile', '/ws', { file: 'Dockerfile', startLine: 3, endLine: 4 }],
    ['context/Dockerfile', f, 'app/Dockerfile', '/ws', { file: 'app/Dockerfile', startLine: 3, endLine: 4 }],
    ['./ prefix and .. inside', f, './app/../svc/Dockerfile', '/ws', { file: 'svc/Dockerfile', startLine: 3, endLine: 4 }],
    ['an absolute path inside the workspace', f, '/ws/svc/Dockerfile', '/ws', { file: 'svc/Dockerfile', startLine: 3, endLine: 4 }],
    [
      'a named Dockerfile: buildx prints its base name',
      { ...f, file: 'app.Dockerfile' },
      'docker/app.Dockerfile',
      '/ws',
      { file: 'docker/app.Dockerfile', startLine: 3, endLine: 4 },
    ],
    ['buildx names another file', { ...f, file: 'Other.Dockerfile' }, 'Dockerfile', '/ws', undefined],
    ['outside the workspace', f, '/elsewhere/Dockerfile', '/ws', undefined],
    ['no line known', { message: 'ERROR: x' }, 'Dockerfile', '/ws', undefined],
    [
      'a line but no file name (from the message)',
      { message: 'ERROR: x', startLine: 7, endLine: 7 },
      'Dockerfile',
      '/ws',
      { file: 'Dockerfile', startLine: 7, endLine: 7 },
    ],
  ])('%s', (_n, failure, dockerfile, ws, expected) => {
    expect(annotationTarget(failure, dockerfile, ws)).toEqual(expected);
  });
});
