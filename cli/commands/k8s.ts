/** `listflow k8s ...` commands. */
import type { Command } from '../command';

export const k8sCommands: Command[] = [];
