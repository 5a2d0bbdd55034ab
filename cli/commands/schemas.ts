/** `listflow schemas ...` commands. */
import type { Command } from '../command';

export const schemasCommands: Command[] = [];
