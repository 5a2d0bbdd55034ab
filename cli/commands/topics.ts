/** `listflow topics ...` commands. */
import type { Command } from '../command';

export const topicsCommands: Command[] = [];
