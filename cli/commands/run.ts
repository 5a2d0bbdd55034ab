/** `listflow run ...` commands. */
import type { Command } from '../command';

export const runCommands: Command[] = [];
