// Pure: how the layer cache reaches the builder's BuildKit, from what the builder is. Decides lazy
// or eager fetching (lazy needs BuildKit to reach the runner's loopback), whether the builder can
// use the layer cache at all, and which cache form to offer for import.
import * as semver from 'semver';
import type { CacheForm } from './layout.js';

export type FetchMode = 'auto' | 'lazy' | 'eager';

export interface BuilderFacts {
  driver: string;
  /** The daemon stores images in containerd (only matters for the docker driver). */
  containerdStore: boolean;
  /** The builder's BuildKit shares the runner's network namespace (docker-container with network=host). */
  hostNetwork: boolean;
  /** As `docker buildx inspect` reports it ('' when unknown). */
  buildkitVersion: string;
}

export interface CacheAccess {
  lazy: boolean;
  /** Why eager, when eager; shown in the log (as a warning when lazy was asked for). */
  eagerReason?: string;
  /** Set (to the reason) when this builder can use no layer cache: nothing is restored or saved. */
  off?: string;
  /** The form the cache is offered in for import. */
  form: CacheForm;
}

/** The first BuildKit release that exports (and so surely imports) the image manifest form by default. */
export const MANIFEST_FORM_SINCE = '0.21.0';

/**
 * The form to offer BuildKit: the one it exports itself by default. Every BuildKit reads the image
 * index form, so that is the choice when the version is unknown or older than v0.21.
 */
export function cacheFormFor(buildkitVersion: string): CacheForm {
  const v = semver.coerce(buildkitVersion);
  return v && semver.gte(v, MANIFEST_FORM_SINCE) ? 'manifest' : 'index';
}

/** The first Docker Engine release whose built-in BuildKit is v0.21 or later. */
const DOCKER_WITH_BUILDKIT_021 = '28.1.0';

/**
 * The builder's BuildKit version as far as it can be told. Distribution builds of dockerd report
 * their built-in BuildKit as `v0.0.0+unknown`; for the docker driver the Engine version then says
 * which BuildKit it carries (28.1 and later: v0.21 or later).
 */
export function effectiveBuildkitVersion(driver: string, reported: string, dockerVersion: string): string {
  const v = semver.coerce(reported);
  if (v && semver.gt(v, '0.0.0')) return reported;
  const d = semver.coerce(dockerVersion);
  if (driver === 'docker' && d) return semver.gte(d, DOCKER_WITH_BUILDKIT_021) ? MANIFEST_FORM_SINCE : '';
  return '';
}

/**
 * Measured on Docker 28.5 (toolchain c): this builder exports no cache, and it cannot hit one that
 * another builder made either, because it resolves base images from the daemon's own store, which
 * gives them other cache keys. So a read-only restore would download for nothing.
 */
export const CLASSIC_DOCKER_NO_CACHE =
  "the docker driver of a daemon without the containerd image store can neither export a layer cache nor use one another builder made (its base images get other cache keys); use driver: docker-container, or turn on the daemon's containerd image store";

export function planCacheAccess(mode: FetchMode, b: BuilderFacts): CacheAccess {
  const form = cacheFormFor(b.buildkitVersion);
  const base = { form, ...(b.driver === 'docker' && !b.containerdStore ? { off: CLASSIC_DOCKER_NO_CACHE } : {}) };
  if (mode === 'eager') return { ...base, lazy: false, eagerReason: 'cache-fetch: eager' };
  if (b.driver === 'docker') return { ...base, lazy: true };
  if (b.driver === 'docker-container') {
    if (b.hostNetwork) return { ...base, lazy: true };
    return {
      ...base,
      lazy: false,
      eagerReason:
        "the builder's container does not share the runner's network (driver-opts sets another network than host), so its BuildKit cannot reach the loopback registry",
    };
  }
  if (b.driver === 'remote') {
    if (mode === 'lazy') return { ...base, lazy: true };
    return {
      ...base,
      lazy: false,
      eagerReason: "a remote builder may not reach this runner's loopback; set cache-fetch: lazy when its BuildKit runs on this runner",
    };
  }
  return { ...base, lazy: false, eagerReason: `the ${b.driver || 'unknown'} driver's BuildKit cannot reach this runner's loopback registry` };
}
