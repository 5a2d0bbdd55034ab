/** `listflow dry-run ...` commands. */
import type { Command } from '../command';

export const dryRunCommands: Command[] = [];
