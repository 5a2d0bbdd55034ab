/** `listflow status ...` commands. */
import type { Command } from '../command';

export const statusCommands: Command[] = [];
