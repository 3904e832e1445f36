// QEMU emulation for platforms the runner cannot run natively: which architectures need a binfmt
// handler, what a registered handler looks like, and the installer's command line. Pure.
import { platformProblem } from './platforms.js';

/** The binfmt installer image docker/setup-qemu-action runs by default. */
export const DEFAULT_QEMU_IMAGE = 'tonistiigi/binfmt:latest';

/** Where the kernel lists binfmt handlers. */
export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** Node's process.arch to the GOARCH the platforms input uses. */
export function goArch(nodeArch: string): string {
  return (
    (
      {
        x64: 'amd64',
        ia32: '386',
        arm: 'arm',
        arm64: 'arm64',
        ppc64: 'ppc64le',
        s390x: 's390x',
        riscv64: 'riscv64',
        loong64: 'loong64',
        mips64el: 'mips64le',
      } as Record<string, string>
    )[nodeArch] ?? nodeArch
  );
}

/** The handler name QEMU registers for a GOARCH (`/proc/sys/fs/binfmt_misc/qemu-<name>`). */
const QEMU: Record<string, string> = {
  amd64: 'x86_64',
  '386': 'i386',
  arm64: 'aarch64',
  arm: 'arm',
  riscv64: 'riscv64',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  s390x: 's390x',
  mips64le: 'mips64el',
  mips64: 'mips64',
  mipsle: 'mipsel',
  mips: 'mips',
  loong64: 'loongarch64',
};

export function qemuName(arch: string): string | undefined {
  return QEMU[arch];
}

/** Architectures a host runs without emulation (an amd64 CPU runs 386 code). */
const NATIVE: Record<string, string[]> = { amd64: ['amd64', '386'], arm64: ['arm64'] };

const ALIAS: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/** The architecture of one platform string (`linux/arm/v7` -> `arm`), or undefined for `local`. */
function archOf(platform: string): string | undefined {
  if (platform.toLowerCase() === 'local' || platformProblem(platform)) return undefined;
  const a = platform.toLowerCase().split('/')[1];
  return ALIAS[a] ?? a;
}

/** The architectures among `platforms` that the host cannot run natively, in order, once each. */
export function emulatedArches(platforms: string[], hostArch: string): string[] {
  const native = NATIVE[hostArch] ?? [hostArch];
  const out: string[] = [];
  for (const p of platforms) {
    const a = archOf(p);
    if (a && !native.includes(a) && !out.includes(a)) out.push(a);
  }
  return out;
}

/** A handler file's content: enabled, and its flags (F: the interpreter is opened at registration). */
export function parseHandler(text: string): { enabled: boolean; flags: string } {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  return {
    enabled: lines[0] === 'enabled',
    flags:
      lines
        .find((l) => l.startsWith('flags:'))
        ?.slice(6)
        .trim() ?? '',
  };
}

type EmulationPlan =
  | { action: 'none'; note?: string }
  | { action: 'present'; arches: string[] }
  | { action: 'install'; arches: string[]; present: string[]; argv: string[] }
  | { action: 'off'; arches: string[] };

/**
 * What to do for `platforms` on a host of `hostArch`, given the handlers already registered
 * (qemu names): nothing, nothing because every handler is there, run the installer image for the
 * missing architectures, or nothing because `qemu: false`. A builder that is not on this runner
 * (remote, kubernetes) needs no handler here.
 */
export function planEmulation(o: {
  platforms: string[];
  hostArch: string;
  driver: string;
  enabled: boolean;
  image: string;
  registered: Set<string>;
}): EmulationPlan {
  const arches = emulatedArches(o.platforms, o.hostArch);
  if (arches.length === 0) return { action: 'none' };
  if (o.driver === 'remote' || o.driver === 'kubernetes') {
    return {
      action: 'none',
      note: `QEMU: not set up on this runner for ${arches.join(', ')}: the ${o.driver} builder runs elsewhere and must emulate or run them itself.`,
    };
  }
  if (!o.enabled) return { action: 'off', arches };
  const missing = arches.filter((a) => !o.registered.has(qemuName(a) ?? a));
  if (missing.length === 0) return { action: 'present', arches };
  return {
    action: 'install',
    arches: missing,
    present: arches.filter((a) => !missing.includes(a)),
    argv: ['run', '--rm', '--privileged', o.image, '--install', missing.join(',')],
  };
}
