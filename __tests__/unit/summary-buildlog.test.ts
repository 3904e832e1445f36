// The condensed buildx progress: which lines of a plain-progress transcript reach the log.
import { condensedBuildxProgress } from '../../src/buildlog.js';
import { defaultView } from '../../src/exec.js';

function condense(text: string): string[] {
  const v = condensedBuildxProgress();
  const out: string[] = [];
  for (const l of text.split('\n')) out.push(...v.push(l));
  out.push(...v.end());
  return out;
}

const PUSH_BUILD = `#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 512B done
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/library/busybox:latest
#2 DONE 0.0s

#3 [internal] load .dockerignore
#3 transferring context: 2B done
#3 DONE 0.0s

#4 [deps 1/2] FROM docker.io/library/busybox:latest@sha256:8913
#4 resolve docker.io/library/busybox:latest@sha256:8913 0.0s done
#4 CACHED

#5 [internal] load build context
#5 transferring context: 98B done
#5 DONE 0.0s

#6 [deps 2/2] RUN dd if=/dev/urandom of=/deps.bin bs=1M count=20
#6 0.201 EXPENSIVE-STEP-RAN
#6 DONE 0.4s

#7 [build 2/3] COPY --from=deps /deps.bin /deps.bin
#7 CACHED

#6 [deps 2/2] RUN dd if=/dev/urandom of=/deps.bin bs=1M count=20
#6 0.350 second output line

#8 exporting to image
#8 exporting layers 0.3s done
#8 exporting manifest sha256:aaaa 0.0s done
#8 exporting config sha256:bbbb 0.0s done
#8 naming to 127.0.0.1:5000/x:main done
#8 pushing layers 0.2s done
#8 DONE 0.6s

#9 exporting cache to client directory
#9 preparing build cache for export
#9 writing layer sha256:cccc 0.1s done
#9 DONE 0.3s
`;

describe('condensedBuildxProgress', () => {
  test('keeps headers, step output, CACHED/DONE; drops internal steps and bookkeeping; collapses blank lines', () => {
    expect(condense(PUSH_BUILD)).toEqual([
      '#0 building with "default" instance using docker driver',
      '',
      '#4 [deps 1/2] FROM docker.io/library/busybox:latest@sha256:8913',
      '#4 CACHED',
      '',
      '#6 [deps 2/2] RUN dd if=/dev/urandom of=/deps.bin bs=1M count=20',
      '#6 0.201 EXPENSIVE-STEP-RAN',
      '#6 DONE 0.4s',
      '',
      '#7 [build 2/3] COPY --from=deps /deps.bin /deps.bin',
      '#7 CACHED',
      '',
      '#6 [deps 2/2] RUN dd if=/dev/urandom of=/deps.bin bs=1M count=20',
      '#6 0.350 second output line',
      '',
      '#8 exporting to image',
      '#8 DONE 0.6s',
      '',
      '#9 exporting cache to client directory',
      '#9 DONE 0.3s',
      '',
      '(19 lines of BuildKit transfer and export progress hidden; enable debug logging to see the full progress and command.)',
    ]);
  });

  test('a failing internal step is shown with its header; the error excerpt after the steps is kept whole', () => {
    const text = [
      '#1 [internal] load build definition from Dockerfile',
      '#1 transferring dockerfile: 2B done',
      '#1 ERROR: failed to read dockerfile: open Dockerfile: no such file or directory',
      '------',
      ' > [internal] load build definition from Dockerfile:',
      '------',
      'ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory',
    ].join('\n');
    expect(condense(text)).toEqual([
      '#1 [internal] load build definition from Dockerfile',
      '#1 ERROR: failed to read dockerfile: open Dockerfile: no such file or directory',
      '------',
      ' > [internal] load build definition from Dockerfile:',
      '------',
      'ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory',
      '(2 lines of BuildKit transfer and export progress hidden; enable debug logging to see the full progress and command.)',
    ]);
  });

  test('step errors, CANCELED and buildx warnings are kept', () => {
    const text = [
      '#4 [2/2] RUN false',
      '#4 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1',
      '#5 [other 1/1] RUN sleep 5',
      '#5 CANCELED',
      ' 1 warning found (use docker --debug to expand):',
      ' - JSONArgsRecommended: JSON arguments recommended for CMD (line 3)',
    ].join('\n');
    expect(condense(text)).toEqual(text.split('\n'));
  });
});

describe('defaultView', () => {
  test.each<[string, string, string[], boolean, boolean]>([
    ['docker buildx build', 'docker', ['buildx', 'build', '.'], false, true],
    ['a full path to docker', '/usr/bin/docker', ['buildx', 'build', '.'], false, true],
    ['debug logging on: everything', 'docker', ['buildx', 'build', '.'], true, false],
    ['another buildx command', 'docker', ['buildx', 'inspect'], false, false],
    ['docker push', 'docker', ['push', 'x'], false, false],
    ['another program', 'tar', ['buildx', 'build'], false, false],
  ])('%s', (_n, cmd, args, debug, condensed) => {
    expect(defaultView(cmd, args, debug) !== undefined).toBe(condensed);
  });
});
