/**
 * A program from Debian's packages that a test needs (promtool from `prometheus`, `chromium`): found on PATH,
 * else installed with apt-get when the tests run as root (CI), else the test fails naming the package. Never a
 * skip: a check that silently does not run is worse than a red test.
 */
import { execFileSync } from 'node:child_process';

function onPath(binary: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function debianTool(binary: string, pkg: string): string {
  const found = onPath(binary);
  if (found) return found;
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args: string[]) => execFileSync('apt-get', args, { env, stdio: 'ignore', timeout: 600_000 });
    try {
      apt(['install', '-y', '--no-install-recommends', pkg]);
    } catch {
      // The package lists may be missing or stale on a fresh machine.
      apt(['update']);
      apt(['install', '-y', '--no-install-recommends', pkg]);
    }
    const installed = onPath(binary);
    if (installed) return installed;
  }
  throw new Error(
    `${binary} is needed and was not found on PATH. Fix: apt-get install ${pkg} (Debian's package), or run the tests as root so they install it.`,
  );
}
