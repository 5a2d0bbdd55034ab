/** `listflow dlq ...` commands. */
import type { Command } from '../command';

export const dlqCommands: Command[] = [];
