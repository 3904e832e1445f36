// The `platforms` input: os/arch[/variant] with the values Go and the OCI image spec know (GOOS,
// GOARCH, and the variants containerd's platform matcher understands), or `local`. Pure.
import { quoted } from './clip.js';

/** Go's GOOS values (`go tool dist list`). */
const OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'wasip1',
  'windows',
  'zos',
]);

/** Go's GOARCH values (known and reserved, as Go's go/build lists them). */
const ARCH = new Set([
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'ppc64',
  'ppc64le',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
]);

/** The other spellings containerd normalizes (uname -m and Debian names), to the GOARCH they stand for. */
const ALIAS: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/** Variants by architecture (OCI image index `platform.variant`); an architecture not listed has none. */
const VARIANTS: Record<string, RegExp> = {
  arm: /^v[5-8]$/,
  arm64: /^v8(\.[0-9])?$|^v9(\.[0-5])?$/,
  amd64: /^v[1-4]$/,
  riscv64: /^rva2[023]u64$/,
  ppc64le: /^power(8|9|10)$/,
};

const EXAMPLES = 'e.g. linux/amd64, linux/arm64, linux/arm/v7, linux/386, linux/ppc64le, linux/s390x, linux/riscv64';

/** What is wrong with one platform, or undefined when BuildKit can build for it. */
export function platformProblem(platform: string): string | undefined {
  const p = platform.toLowerCase();
  if (p === 'local') return undefined;
  const parts = p.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '')) return `expected os/arch or os/arch/variant (${EXAMPLES})`;
  const [os, rawArch, variant] = parts;
  if (!OS.has(os)) return `unknown operating system ${quoted(os)} (a GOOS value: linux, windows, darwin, freebsd, ...)`;
  const arch = ALIAS[rawArch] ?? rawArch;
  if (!ARCH.has(arch)) return `unknown architecture ${quoted(rawArch)} (a GOARCH value: amd64, arm64, arm, 386, ppc64le, s390x, riscv64, ...)`;
  if (variant !== undefined && !VARIANTS[arch]?.test(variant)) {
    return VARIANTS[arch] ? `unknown variant ${quoted(variant)} for ${arch}` : `${arch} has no variants, got ${quoted(variant)}`;
  }
  return undefined;
}
