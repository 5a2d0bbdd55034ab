/** `listflow ingest ...` commands. */
import type { Command } from '../command';

export const ingestCommands: Command[] = [];
