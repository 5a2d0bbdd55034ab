/** `listflow listings ...` commands. */
import type { Command } from '../command';

export const listingsCommands: Command[] = [];
