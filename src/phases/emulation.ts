// Phase: QEMU binfmt handlers for the platforms the runner cannot run natively, registered the way
// docker/setup-qemu-action does (a privileged container of a binfmt installer image with
// `--install <arches>`), before the builder is created so that a new builder sees them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { run, lastMeaningfulLine } from '../exec.js';
import { ToolError } from '../docker/docker.js';
import { BINFMT_DIR, emulatedArches, goArch, parseHandler, planEmulation, qemuName, DEFAULT_QEMU_IMAGE } from '../emulation.js';

export interface EmulationResult {
  /** Architectures emulated for this build (registered now or before). */
  arches: string[];
  /** Those this step registered. */
  registered: string[];
}

/** The enabled handlers among `names` (qemu names), read from the kernel's binfmt_misc. */
async function enabledHandlers(names: string[], dir = BINFMT_DIR): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of names) {
    const text = await fs.readFile(path.join(dir, `qemu-${n}`), 'utf8').catch(() => '');
    const h = parseHandler(text);
    if (h.enabled) out.set(n, h.flags);
  }
  return out;
}

export async function emulationPhase(
  o: { platforms: string[]; driver: string; enabled: boolean; image?: string },
  env: Record<string, string>,
): Promise<EmulationResult> {
  const image = o.image || DEFAULT_QEMU_IMAGE;
  const hostArch = goArch(process.arch);
  const before = await enabledHandlers(emulatedArches(o.platforms, hostArch).map((a) => qemuName(a) ?? a));
  const plan = planEmulation({ platforms: o.platforms, hostArch, driver: o.driver, enabled: o.enabled, image, registered: new Set(before.keys()) });
  if (plan.action === 'none') {
    if (plan.note) core.info(plan.note);
    return { arches: [], registered: [] };
  }
  return core.group('QEMU emulation', async () => {
    if (plan.action === 'off') {
      core.info(
        `QEMU: qemu: false, so no handler is registered for ${plan.arches.join(', ')}; RUN steps of those platforms fail unless this runner emulates them already.`,
      );
      return { arches: plan.arches, registered: [] };
    }
    if (plan.action === 'present') {
      const list = plan.arches.map((a) => `${a} (qemu-${qemuName(a)}, flags ${before.get(qemuName(a)!) || 'none'})`).join(', ');
      core.info(`QEMU: handlers already registered for ${list}; not running ${image}.`);
      return { arches: plan.arches, registered: [] };
    }
    if (plan.present.length) core.info(`QEMU: already registered: ${plan.present.join(', ')}.`);
    core.info(`QEMU: no handler for ${plan.arches.join(', ')} on this ${hostArch} runner; running ${image} --install ${plan.arches.join(',')}`);
    const res = await run('docker', plan.argv, { env, ignoreReturnCode: true });
    if (res.exitCode !== 0) {
      throw new ToolError(
        `qemu-image: the binfmt installer ${image} failed: ${lastMeaningfulLine(res.stderr) || lastMeaningfulLine(res.stdout) || `exit code ${res.exitCode}`}`,
      );
    }
    const after = await enabledHandlers(plan.arches.map((a) => qemuName(a) ?? a));
    const got = plan.arches.filter((a) => after.has(qemuName(a) ?? a));
    const still = plan.arches.filter((a) => !got.includes(a));
    if (got.length) core.info(`QEMU: registered ${got.map((a) => `${a} (qemu-${qemuName(a)}, flags ${after.get(qemuName(a)!) || 'none'})`).join(', ')}.`);
    if (still.length) throw new ToolError(`qemu-image: ${image} ran, but no handler is registered for ${still.join(', ')}`);
    return { arches: [...plan.present, ...got], registered: got };
  });
}
